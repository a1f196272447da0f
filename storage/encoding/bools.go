package encoding

import "encoding/binary"

// Bool schemes:
//
//	tagBoolBitmap  ⌈n/8⌉ bytes, one bit per value, most significant bit first
//	tagBoolRuns    byte first value (0 or 1), uvarint r (number of runs),
//	               stream of run length-1 (r values); runs alternate values

// AppendBools appends the encoding of vs to dst and returns the result.
func AppendBools(dst []byte, vs []bool) []byte {
	if len(vs) > MaxBlockLen {
		return appendChunked(dst, vs, AppendBools)
	}
	n := len(vs)
	var runs []uint64
	if n > 0 {
		runs = boolRuns(vs)
	}
	bitmapSize := (n + 7) / 8
	if len(runs) > 0 {
		p := planStream(runs, true)
		if 1+uvarintLen(uint64(len(runs)))+p.size < bitmapSize {
			dst = append(dst, tagBoolRuns)
			dst = binary.AppendUvarint(dst, uint64(n))
			dst = append(dst, b2u(vs[0]))
			dst = binary.AppendUvarint(dst, uint64(len(runs)))
			return appendPlanned(dst, runs, p)
		}
	}
	dst = append(dst, tagBoolBitmap)
	dst = binary.AppendUvarint(dst, uint64(n))
	bw := bitWriter{buf: dst}
	for _, v := range vs {
		bw.write(uint64(b2u(v)), 1)
	}
	return bw.finish()
}

// boolRuns returns the run lengths minus one, or nil when there are so
// many runs that the bitmap is certainly smaller.
func boolRuns(vs []bool) []uint64 {
	var runs []uint64
	run := uint64(0)
	for i := 1; i < len(vs); i++ {
		if vs[i] == vs[i-1] {
			run++
			continue
		}
		runs = append(runs, run)
		run = 0
		if len(runs) > len(vs)/8 {
			return nil
		}
	}
	return append(runs, run)
}

func b2u(b bool) byte {
	if b {
		return 1
	}
	return 0
}

// DecodeBools appends the values encoded in src to dst. On error it returns
// dst unchanged and an error wrapping ErrCorrupt.
func DecodeBools(dst []bool, src []byte) ([]bool, error) {
	if len(src) == 0 {
		return dst, corrupt("empty block")
	}
	tag := src[0]
	switch tag {
	case tagChunked:
		return decodeChunked(dst, src[1:], DecodeBools)
	case tagBoolBitmap, tagBoolRuns:
	default:
		return dst, corrupt("tag %#x is not a bool scheme", tag)
	}
	r := reader{src: src, off: 1}
	n := r.count("count")
	if r.err != nil {
		return dst, r.err
	}
	start := len(dst)
	if tag == tagBoolBitmap {
		b := r.bytes(uint64(n+7)/8, "bitmap")
		if r.err != nil {
			return dst, r.err
		}
		dst = grow(dst, n)
		out := dst[start:]
		for i := range out {
			out[i] = b[i>>3]>>(7-i&7)&1 == 1
		}
	} else {
		first := r.byte1("first value")
		nr := r.uvarint("run count")
		if r.err != nil {
			return dst, r.err
		}
		if first > 1 || nr > uint64(n) || (nr == 0) != (n == 0) {
			return dst, corrupt("bool runs: first %d, %d runs for %d values", first, nr, n)
		}
		runs := make([]uint64, nr)
		readStream(&r, runs, true)
		if r.err != nil {
			return dst, r.err
		}
		dst = grow(dst, n)
		out := dst[start:]
		v := first == 1
		pos := 0
		for _, l := range runs {
			if l >= uint64(n-pos) {
				return dst[:start], corrupt("bool runs overflow %d values", n)
			}
			for j := range int(l) + 1 {
				out[pos+j] = v
			}
			pos += int(l) + 1
			v = !v
		}
		if pos != n {
			return dst[:start], corrupt("bool runs cover %d of %d values", pos, n)
		}
	}
	if err := r.done(); err != nil {
		return dst[:start], err
	}
	return dst, nil
}
