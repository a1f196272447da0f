package wal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"slices"
)

// The scan after damage (docs/format-wal.md, "Reading and recovery") must
// decide whether an intact record starts at any byte offset behind the
// damage. A candidate is an offset whose 4 bytes read as an allowed length
// that fits in the file; it is intact when the CRC-32C of its payload matches
// and what follows it can follow a record (plausibleNext).
//
// Checking each candidate by checksumming its payload costs the sum of their
// lengths, which for periodic bytes (every offset a candidate with a length
// of megabytes) is quadratic, and keeping a register per candidate costs
// memory per offset. The scan instead first finds the lengths many
// candidates share (counters of the Misra-Gries kind): each of those is
// checked by a rolling checksum, a window of that length slid over the
// bytes once (a byte leaves the window by xoring out its contribution, from
// a table built for that length), or directly when its payloads are short.
// Every other candidate is checked directly when short, else by running
// registers: one pass over the bytes records the CRC register at the start
// and end of each payload, registerBatch candidates at a time, and the
// payload's checksum follows from the two (the register is linear). A
// zero-filled tail has no candidate at all and costs one read. The scan
// streams the file in chunks and holds a few MiB whatever the tail's size.
//
// Its work is bounded: when the checksum bytes it needs would exceed
// scanBudget(tail) it gives up with errScanBudget, which the caller reports
// as corruption: the scan never calls damage a torn tail without having
// ruled out every intact record.

// errScanBudget says the scan could not rule out an intact record within
// its budget.
var errScanBudget = errors.New("too many candidate record headers follow it to rule out an intact record")

const (
	scanChunk = 1 << 20  // bytes read at a time
	scanInBuf = 64 << 10 // payloads up to this size are checked from the chunk buffer
	// heavySlots counters find the lengths shared by many candidates; one
	// with at least heavyCount candidates gets a plan of its own.
	heavySlots = 256
	heavyCount = 64
	// directShort is the longest payload checked directly whatever its
	// length's plan; registerBatch is how many candidates running registers
	// check per pass.
	directShort   = 256
	registerBatch = 1 << 17
	// directOverhead is the cost, in checksum bytes, charged per candidate
	// checked directly (a read for payloads outside the chunk buffer).
	directOverhead = 64
)

// scanBudget is the number of checksum bytes the scan may spend on a tail
// of n bytes: 40 passes over it, enough for periodic data of a short period
// (each distinct length of a periodic tail costs one pass), plus 256 MiB.
func scanBudget(n int64) int64 { return 40*n + 256<<20 }

// scanner looks for intact records in r between from and size.
type scanner struct {
	r          io.ReaderAt
	bind       binding // the segment's: a candidate's CRC is bound to its offset
	from, size int64
	// crcBytes counts the bytes the scan fed to a checksum; tests bound it.
	crcBytes int64
	buf      []byte
	scratch  []byte
	streams  [2][]byte // rolling's buffers
}

// scanValid looks for intact records in r between from and size. With
// first it stops at the first one; otherwise it also counts the intact
// records that follow it, header to header. It returns the offset of the
// first, how many it found and the checksum bytes the scan computed. err
// wraps errScanBudget when the scan gave up.
func scanValid(r io.ReaderAt, bind binding, from, size int64, first bool) (at int64, n int, work int64, err error) {
	if from >= size {
		return 0, 0, 0, nil
	}
	s := &scanner{r: r, bind: bind, from: from, size: size}
	// Counting later segments: their first record is normally intact, and
	// the chain from it is the answer.
	if !first {
		if n, err := s.chain(from); err != nil || n > 0 {
			return from, n, s.crcBytes, err
		}
	}
	at, ok, err := s.find()
	if err != nil || !ok {
		return 0, 0, s.crcBytes, err
	}
	if first {
		return at, 1, s.crcBytes, nil
	}
	n, err = s.chain(at)
	return at, n, s.crcBytes, err
}

// header returns the length and checksum of the candidate header at p in
// b (b[0] is at offset base), and whether it is a candidate: a length of 1
// to MaxRecordSize that fits in the file. The checksum is the one its
// payload must have: the stored CRC with the key of offset p xored out, so
// that every check below compares payload CRCs whatever the version.
func (s *scanner) header(b []byte, base, p int64) (length int64, sum uint32, ok bool) {
	h := b[p-base:]
	length = int64(binary.LittleEndian.Uint32(h))
	if length == 0 || length > MaxRecordSize || p+recordHeaderSize+length > s.size {
		return 0, 0, false
	}
	return length, binary.LittleEndian.Uint32(h[4:]) ^ s.bind.key(p), true
}

// chunks calls fn for every chunk of candidate offsets [lo, hi) in
// [s.from, s.size-recordHeaderSize], with the bytes from lo to hi plus up to
// extra bytes after hi (b[0] is at offset lo). fn returns false to stop.
func (s *scanner) chunks(extra int64, fn func(b []byte, lo, hi int64) bool) error {
	last := s.size - recordHeaderSize // the last offset a header fits at
	for lo := s.from; lo <= last; lo += scanChunk {
		hi := min(lo+scanChunk, last+1)
		end := min(hi+recordHeaderSize-1+extra, s.size)
		if int64(cap(s.buf)) < end-lo {
			s.buf = make([]byte, end-lo)
		}
		b := s.buf[:end-lo]
		if err := s.readAt(b, lo); err != nil {
			return err
		}
		if !fn(b, lo, hi) {
			return nil
		}
	}
	return nil
}

func (s *scanner) readAt(b []byte, off int64) error {
	if _, err := s.r.ReadAt(b, off); err != nil && !(errors.Is(err, io.EOF) && off+int64(len(b)) <= s.size) {
		return err
	}
	return nil
}

// How a candidate length is checked.
const (
	checkDirect  = iota // checksum each candidate's payload
	checkRolling        // a window of the length slid over the bytes
)

// lengthPlan is what the scan knows of one candidate length.
type lengthPlan struct {
	length int64
	count  int64 // at least this many candidates
	how    int
}

// plans maps candidate lengths to their plans, with a small cache in
// front: periodic bytes repeat a few lengths at every offset.
type plans struct {
	m     map[int64]*lengthPlan
	cache [64]*lengthPlan
}

func (ps *plans) get(length int64) *lengthPlan {
	k := (length ^ length>>7 ^ length>>17) & 63
	if pl := ps.cache[k]; pl != nil && pl.length == length {
		return pl
	}
	pl := ps.m[length]
	if pl != nil {
		ps.cache[k] = pl
	}
	return pl
}

// find returns the offset of the first intact record, if any.
func (s *scanner) find() (at int64, ok bool, err error) {
	// Pass 1: the lengths many candidates share (Misra-Gries: every length
	// with more than 1/heavySlots of the candidates keeps a counter).
	counts := make(map[int64]int64, heavySlots)
	var total int64
	err = s.chunks(0, func(b []byte, lo, hi int64) bool {
		for p := lo; p < hi; p++ {
			length, _, ok := s.header(b, lo, p)
			if !ok {
				continue
			}
			total++
			if _, ok := counts[length]; ok || len(counts) < heavySlots {
				counts[length]++
				continue
			}
			for l, c := range counts {
				if c == 1 {
					delete(counts, l)
				} else {
					counts[l] = c - 1
				}
			}
		}
		return true
	})
	if err != nil || total == 0 {
		return 0, false, err
	}
	// Plan: a shared length is checked by a rolling window (one pass) or,
	// when its payloads are short, directly; every other candidate by
	// running registers, in batches, or directly when short.
	ps := &plans{m: make(map[int64]*lengthPlan)}
	for length, c := range counts {
		if c < heavyCount {
			continue
		}
		how := checkRolling
		if length <= scanInBuf && satMul(c, length+directOverhead) <= s.size-s.from {
			how = checkDirect
		}
		ps.m[length] = &lengthPlan{length: length, count: c, how: how}
	}
	var rolling int64
	for _, pl := range ps.m {
		if pl.how == checkRolling {
			rolling += s.size - s.from + pl.length
		}
	}
	if err := s.spend(rolling); err != nil {
		return 0, false, err
	}
	best, err := s.directAndRegisters(ps)
	if err != nil {
		return 0, false, err
	}
	for _, pl := range ps.m {
		if pl.how != checkRolling {
			continue
		}
		end := s.size - recordHeaderSize - pl.length + 1
		if best >= 0 {
			end = min(end, best)
		}
		if err := s.spend(end - s.from + pl.length); err != nil {
			return 0, false, err
		}
		p, err := s.rolling(pl.length, s.from, end)
		if err != nil {
			return 0, false, err
		}
		if p >= 0 && (best < 0 || p < best) {
			best = p
		}
	}
	return best, best >= 0, nil
}

// spend reports errScanBudget if n more checksum bytes would take the scan
// past its budget.
func (s *scanner) spend(n int64) error {
	if b := scanBudget(s.size - s.from); s.crcBytes+n > b {
		return fmt.Errorf("%w (more than %d checksum bytes)", errScanBudget, b)
	}
	return nil
}

func satMul(a, b int64) int64 {
	if a != 0 && b > (1<<62)/a {
		return 1 << 62
	}
	return a * b
}

// candidate is a header checked by running registers.
type candidate struct {
	p      int64
	length int64
	sum    uint32
}

// directAndRegisters checks, in offset order, every candidate not planned
// rolling: directly when planned so or short, else by running registers,
// registerBatch candidates at a time. It returns the first intact one (-1
// for none).
func (s *scanner) directAndRegisters(ps *plans) (at int64, err error) {
	at = -1
	var cands []candidate
	flush := func() error {
		if len(cands) == 0 {
			return nil
		}
		if err := s.spend(s.size - cands[0].p); err != nil {
			return err
		}
		p, err := s.registers(cands)
		cands = cands[:0]
		if err == nil && p >= 0 {
			at = p
		}
		return err
	}
	var stop error
	err = s.chunks(scanInBuf+recordHeaderSize, func(b []byte, lo, hi int64) bool {
		for p := lo; p < hi; p++ {
			length, sum, ok := s.header(b, lo, p)
			if !ok {
				continue
			}
			pl := ps.get(length)
			switch {
			case pl != nil && pl.how == checkRolling:
				continue
			case pl == nil && length > directShort:
				if cands == nil {
					cands = make([]candidate, 0, registerBatch)
				}
				cands = append(cands, candidate{p, length, sum})
				if len(cands) == registerBatch {
					if stop = flush(); stop != nil || at >= 0 {
						return false
					}
				}
				continue
			}
			start, end := p+recordHeaderSize, p+recordHeaderSize+length
			// The chunk holds the payload (scanInBuf): what follows it
			// first, as it is cheap.
			if end+recordHeaderSize <= lo+int64(len(b)) && !plausibleNext(b[end-lo:]) {
				continue
			}
			if stop = s.spend(length); stop != nil {
				return false
			}
			s.crcBytes += length
			if crc32.Checksum(b[start-lo:end-lo], castagnoli) != sum {
				continue
			}
			if ok, stop = s.nextPlausible(end); stop != nil {
				return false
			}
			if ok {
				// Registers candidates before it may be intact too.
				if stop = flush(); stop == nil && at < 0 {
					at = p
				}
				return false
			}
		}
		return true
	})
	if err == nil {
		err = stop
	}
	if err == nil && at < 0 {
		err = flush()
	}
	return at, err
}

// registers checks cands (in offset order) with one pass over the bytes:
// the CRC register (started at 0, no final inversion) at the start and end
// of every payload, from which the checksum of the payload follows, as the
// register is linear: after bytes d following register x it is
// zeros(x, len(d)) xor raw(d). It returns the first intact one (-1).
func (s *scanner) registers(cands []candidate) (int64, error) {
	offs := make([]int64, 0, 2*len(cands))
	for _, c := range cands {
		offs = append(offs, c.p+recordHeaderSize, c.p+recordHeaderSize+c.length)
	}
	slices.Sort(offs)
	offs = slices.Compact(offs)
	regs := make([]uint32, len(offs))
	if s.scratch == nil {
		s.scratch = make([]byte, scanChunk)
	}
	var reg uint32
	pos := offs[0]
	for k, off := range offs {
		for pos < off {
			b := s.scratch[:min(int64(len(s.scratch)), off-pos)]
			if err := s.readAt(b, pos); err != nil {
				return -1, err
			}
			reg = ^crc32.Update(^reg, castagnoli, b)
			s.crcBytes += int64(len(b))
			pos += int64(len(b))
		}
		regs[k] = reg
	}
	regAt := func(off int64) uint32 {
		k, _ := slices.BinarySearch(offs, off)
		return regs[k]
	}
	for _, c := range cands {
		start := c.p + recordHeaderSize
		rs, re := regAt(start), regAt(start+c.length)
		if ^(re ^ multModP(zeroShift(int(c.length)), ^uint32(0)^rs)) != c.sum {
			continue
		}
		ok, err := s.nextPlausible(start + c.length)
		if err != nil {
			return -1, err
		}
		if ok {
			return c.p, nil
		}
	}
	return -1, nil
}

// checksum returns the CRC-32C of the bytes from start to end, read in
// chunks.
func (s *scanner) checksum(start, end int64) (uint32, error) {
	if s.scratch == nil {
		s.scratch = make([]byte, scanChunk)
	}
	var sum uint32
	for off := start; off < end; {
		b := s.scratch[:min(int64(len(s.scratch)), end-off)]
		if err := s.readAt(b, off); err != nil {
			return 0, err
		}
		sum = crc32.Update(sum, castagnoli, b)
		s.crcBytes += int64(len(b))
		off += int64(len(b))
	}
	return sum, nil
}

// nextPlausible reports plausibleNext for the bytes at off.
func (s *scanner) nextPlausible(off int64) (bool, error) {
	var next [recordHeaderSize]byte
	n := min(int64(recordHeaderSize), s.size-off)
	if err := s.readAt(next[:n], off); err != nil {
		return false, err
	}
	return plausibleNext(next[:n]), nil
}

// rolling checks every candidate of the given length with its first byte in
// [lo, hi) by sliding a window of that length over the bytes once, and
// returns the first intact one (-1 for none).
//
// raw is the CRC register (started at 0, no final inversion) of the window
// data[p+8 : p+8+length]. A record at p is intact when raw equals
// ^sum ^ zeros(^0, length), the checksum's initial and final inversion
// moved onto the register. Sliding the window by one byte steps raw over
// the byte entering and xors out the byte leaving, whose contribution
// after length more bytes is out[byte].
func (s *scanner) rolling(length, lo, hi int64) (int64, error) {
	if lo >= hi {
		return -1, nil
	}
	sh := zeroShift(int(length))
	var out [256]uint32
	for v := range out {
		out[v] = multModP(sh, castagnoli[v])
	}
	want := multModP(sh, ^uint32(0)) // xor ^sum: the register of an intact record
	raw, err := s.register(lo+recordHeaderSize, lo+recordHeaderSize+length)
	if err != nil {
		return -1, err
	}
	for i := range s.streams {
		if s.streams[i] == nil {
			s.streams[i] = make([]byte, scanChunk+recordHeaderSize)
		}
	}
	tab := castagnoli
	for p0 := lo; p0 < hi; p0 += scanChunk {
		k := min(int64(scanChunk), hi-p0)
		// trail: the header at each offset and the byte leaving the window
		// after it; lead: the byte entering it.
		trail := s.streams[0][:k+recordHeaderSize]
		lead := s.streams[1][:min(k, s.size-(p0+recordHeaderSize+length))]
		if err := s.readAt(trail, p0); err != nil {
			return -1, err
		}
		if err := s.readAt(lead, p0+recordHeaderSize+length); err != nil {
			return -1, err
		}
		s.crcBytes += int64(len(lead))
		for j := range int(k) {
			if p := p0 + int64(j); binary.LittleEndian.Uint32(trail[j:]) == uint32(length) &&
				raw == ^(binary.LittleEndian.Uint32(trail[j+4:])^s.bind.key(p))^want {
				ok, err := s.nextPlausible(p + recordHeaderSize + length)
				if err != nil {
					return -1, err
				}
				if ok {
					return p, nil
				}
			}
			if j == len(lead) {
				break // the last offset of the file a record of length fits at
			}
			raw = tab[byte(raw)^lead[j]] ^ raw>>8 ^ out[trail[j+recordHeaderSize]]
		}
	}
	return -1, nil
}

// register returns the CRC register (started at 0, no final inversion)
// after the bytes from start to end.
func (s *scanner) register(start, end int64) (uint32, error) {
	sum, err := s.checksum(start, end)
	if err != nil {
		return 0, err
	}
	// checksum's register starts at ^0 and is inverted at the end; the
	// register from 0 differs by ^0 advanced over the bytes.
	return ^sum ^ multModP(zeroShift(int(end-start)), ^uint32(0)), nil
}

// chain counts the intact records from at, header to header.
func (s *scanner) chain(at int64) (int, error) {
	n := 0
	var hdr [recordHeaderSize]byte
	for at+recordHeaderSize <= s.size {
		if err := s.readAt(hdr[:], at); err != nil {
			return n, err
		}
		length, sum, ok := s.header(hdr[:], at, at)
		if !ok {
			break
		}
		got, err := s.checksum(at+recordHeaderSize, at+recordHeaderSize+length)
		if err != nil {
			return n, err
		}
		if got != sum {
			break
		}
		n++
		at += recordHeaderSize + length
	}
	return n, nil
}

// plausibleNext reports whether next, the bytes after a candidate record,
// can follow an intact record: nothing, a header cut short, a zero-filled
// tail, or a header whose length is allowed (it may run past the end: a torn
// record).
func plausibleNext(next []byte) bool {
	if len(next) < recordHeaderSize {
		return true
	}
	n := binary.LittleEndian.Uint32(next)
	return n >= 1 && n <= MaxRecordSize || n == 0 && binary.LittleEndian.Uint32(next[4:]) == 0
}

// multModP returns a×b modulo the CRC-32C polynomial, both in the CRC's
// reflected bit order (bit 31 is x^0).
func multModP(a, b uint32) uint32 {
	var p uint32
	for m := uint32(1) << 31; m != 0; m >>= 1 {
		if a&m != 0 {
			p ^= b
			if a&(m-1) == 0 {
				break
			}
		}
		if b&1 != 0 {
			b = b>>1 ^ crc32.Castagnoli
		} else {
			b >>= 1
		}
	}
	return p
}

// x2k[k] is x^(2^k) modulo the CRC-32C polynomial.
var x2k = func() (t [32]uint32) {
	t[0] = 1 << 30 // x^1
	for k := 1; k < len(t); k++ {
		t[k] = multModP(t[k-1], t[k-1])
	}
	return t
}()

// zeroShift returns x^(8n) modulo the polynomial: multiplying a register by
// it advances the register over n zero bytes.
func zeroShift(n int) uint32 {
	p := uint32(1) << 31 // x^0
	for k := 3; n != 0; k, n = k+1, n>>1 {
		if n&1 != 0 {
			p = multModP(x2k[k&31], p)
		}
	}
	return p
}
