package encoding

import "encoding/binary"

// bitWriter appends a big-endian (most significant bit first) bit stream to
// a byte slice. Bits are staged in a 64-bit accumulator and flushed eight
// bytes at a time; finish flushes the partial tail, padding it with zeros.
type bitWriter struct {
	buf []byte
	acc uint64 // staged bits, left-aligned
	n   uint   // number of staged bits, < 64
}

// write appends the low nbits bits of v (nbits ≤ 64).
func (w *bitWriter) write(v uint64, nbits uint) {
	if nbits == 0 {
		return
	}
	if nbits < 64 {
		v &= 1<<nbits - 1
	}
	free := 64 - w.n
	if nbits < free {
		w.acc |= v << (free - nbits)
		w.n += nbits
		return
	}
	// Fill the accumulator, flush it, and keep the rest.
	rest := nbits - free
	w.acc |= v >> rest
	w.buf = binary.BigEndian.AppendUint64(w.buf, w.acc)
	if rest == 0 {
		w.acc, w.n = 0, 0
		return
	}
	w.acc = v << (64 - rest)
	w.n = rest
}

// finish flushes the staged bits and returns the buffer.
func (w *bitWriter) finish() []byte {
	for i := uint(0); i < w.n; i += 8 {
		w.buf = append(w.buf, byte(w.acc>>(56-i)))
	}
	w.acc, w.n = 0, 0
	return w.buf
}

// bitsBytes is the number of bytes a stream of nbits bits occupies.
func bitsBytes(nbits uint64) uint64 { return (nbits + 7) / 8 }

// bitReader reads a stream written by bitWriter. Reading past the end sets
// a sticky overrun flag and yields zeros, so hot loops check once at the end.
type bitReader struct {
	src     []byte
	pos     int    // next byte of src to load
	acc     uint64 // loaded bits, left-aligned
	n       uint   // number of loaded bits
	overrun bool
}

func newBitReader(src []byte) bitReader { return bitReader{src: src} }

func (r *bitReader) refill() {
	if r.n > 56 {
		return
	}
	if r.pos+8 <= len(r.src) {
		// Fast path: take as many whole bytes as fit from one 8-byte load.
		k := (64 - r.n) / 8
		top := binary.BigEndian.Uint64(r.src[r.pos:]) >> (64 - 8*k)
		r.acc |= top << (64 - r.n - 8*k)
		r.pos += int(k)
		r.n += 8 * k
		return
	}
	for r.n <= 56 && r.pos < len(r.src) {
		r.acc |= uint64(r.src[r.pos]) << (56 - r.n)
		r.pos++
		r.n += 8
	}
}

// read returns the next nbits bits (nbits ≤ 64) as the low bits of a word.
func (r *bitReader) read(nbits uint) uint64 {
	if nbits == 0 {
		return 0
	}
	if nbits > 56 {
		hi := r.read(32)
		return hi<<(nbits-32) | r.read(nbits-32)
	}
	if nbits > r.n {
		r.refill()
		if nbits > r.n {
			r.overrun = true
			r.acc, r.n = 0, 0
			return 0
		}
	}
	v := r.acc >> (64 - nbits)
	r.acc <<= nbits
	r.n -= nbits
	return v
}

// readBit returns the next bit.
func (r *bitReader) readBit() bool {
	if r.n == 0 {
		r.refill()
		if r.n == 0 {
			r.overrun = true
			return false
		}
	}
	b := r.acc>>63 == 1
	r.acc <<= 1
	r.n--
	return b
}

// consumed is the number of whole bytes the stream has used so far,
// counting a partly read byte as used.
func (r *bitReader) consumed() int {
	return r.pos - int(r.n/8)
}

// skip consumes n bits that are already loaded (n ≤ r.n).
func (r *bitReader) skip(n uint) {
	r.acc <<= n
	r.n -= n
}

// skipBits consumes the next n bits, loaded or not; past the end it sets
// overrun.
func (r *bitReader) skipBits(n uint64) {
	if n <= uint64(r.n) {
		r.skip(uint(n))
		return
	}
	n -= uint64(r.n)
	r.acc, r.n = 0, 0
	if n/8 > uint64(len(r.src)-r.pos) {
		r.pos = len(r.src)
		r.overrun = true
		return
	}
	r.pos += int(n / 8)
	r.read(uint(n % 8))
}
