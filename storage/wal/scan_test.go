package wal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"runtime"
	"testing"
)

// bruteScan is the specification of scanValid's first mode: every offset
// from from on, checked by checksumming its payload and comparing the CRC
// bound to that offset (b.key). only, when non-zero, restricts it to
// candidates of that length.
func bruteScan(buf []byte, b binding, from int, only int64) int64 {
	for p := from; p+recordHeaderSize <= len(buf); p++ {
		length := int64(binary.LittleEndian.Uint32(buf[p:]))
		end := int64(p) + recordHeaderSize + length
		if length == 0 || length > MaxRecordSize || end > int64(len(buf)) || only != 0 && length != only {
			continue
		}
		if crc32.Checksum(buf[p+recordHeaderSize:end], castagnoli)^b.key(int64(p)) == binary.LittleEndian.Uint32(buf[p+4:]) && plausibleNext(buf[end:]) {
			return int64(p)
		}
	}
	return -1
}

// periodic returns n bytes repeating pat.
func periodic(n int, pat ...byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = pat[i%len(pat)]
	}
	return b
}

// recordAt returns payload framed as a record at offset off of the segment
// b describes.
func recordAt(b binding, off int64, payload []byte) []byte {
	rec := appendRecord(nil, payload)
	bindRecords(rec, b, off)
	return rec
}

// Bindings the scan tests use: version 1, and version 2 segments.
var (
	bindV1 = binding{}
	bindV2 = binding{v2: true, salt: 0x5EED1234, seg: 7}
)

// scanInputs returns buffers of the kinds a tail after damage holds:
// random bytes, zeros, periodic bytes with many candidate headers, and each
// of them with records planted at random offsets: framed for that offset
// of a segment of binding bind, or copied from another offset or segment.
func scanInputs(r *rand.Rand, bind binding) [][]byte {
	var out [][]byte
	for range 60 {
		n := 64 + r.IntN(6000)
		var b []byte
		switch r.IntN(4) {
		case 0:
			b = make([]byte, n)
			for i := range b {
				b[i] = byte(r.Uint32())
			}
		case 1:
			b = make([]byte, n)
		case 2:
			pat := make([]byte, 1+r.IntN(24))
			for i := range pat {
				pat[i] = byte(r.IntN(3)) // small bytes: many plausible lengths
			}
			b = periodic(n, pat...)
		case 3:
			b = periodic(n, byte(r.IntN(256)), 0, 0, 0)
		}
		if r.IntN(2) == 0 {
			for range 1 + r.IntN(3) {
				payload := make([]byte, 1+r.IntN(200))
				for i := range payload {
					payload[i] = byte(r.IntN(4))
				}
				if len(b) <= recordHeaderSize+len(payload) {
					continue
				}
				at := r.IntN(len(b) - recordHeaderSize - len(payload))
				var rec []byte
				switch r.IntN(3) {
				case 0: // framed where it lies
					rec = recordAt(bind, int64(at), payload)
				case 1: // a copy of a record of another offset
					rec = recordAt(bind, int64(at+1+r.IntN(100)), payload)
				case 2: // a copy of a record of another segment
					rec = recordAt(binding{v2: true, salt: r.Uint32(), seg: bind.seg + 1}, int64(at), payload)
				}
				copy(b[at:], rec)
			}
		}
		out = append(out, b)
	}
	return out
}

// TestScanAgreesWithBruteForce checks scanValid, and each of its two ways
// of checking a length (directly and by a rolling checksum), against
// checksumming every candidate's payload.
func TestScanAgreesWithBruteForce(t *testing.T) {
	for _, bind := range []binding{bindV1, bindV2} {
		t.Run(fmt.Sprintf("v2=%v", bind.v2), func(t *testing.T) { scanAgreesWithBruteForce(t, bind) })
	}
}

func scanAgreesWithBruteForce(t *testing.T, bind binding) {
	r := rand.New(rand.NewPCG(3, 5))
	found := 0
	for i, buf := range scanInputs(r, bind) {
		from := r.IntN(8)
		want := bruteScan(buf, bind, from, 0)
		if want >= 0 {
			found++
		}
		at, n, _, err := scanValid(bytes.NewReader(buf), bind, int64(from), int64(len(buf)), true)
		if err != nil {
			t.Fatalf("input %d: scanValid: %v", i, err)
		}
		if got := at; n == 0 {
			got = -1
			if got != want {
				t.Fatalf("input %d: scanValid found none, want offset %d", i, want)
			}
		} else if got != want {
			t.Fatalf("input %d: scanValid found offset %d, want %d", i, got, want)
		}
		// Every length both ways.
		s := &scanner{r: bytes.NewReader(buf), bind: bind, from: int64(from), size: int64(len(buf))}
		lengths := map[int64]bool{}
		for p := from; p+recordHeaderSize <= len(buf); p++ {
			if length, _, ok := s.header(buf, 0, int64(p)); ok {
				lengths[length] = true
			}
		}
		for length := range lengths {
			want := bruteScan(buf, bind, from, length)
			got, err := s.rolling(length, int64(from), int64(len(buf))-recordHeaderSize-length+1)
			if err != nil || got != want {
				t.Fatalf("input %d: rolling(%d) = %d, %v; want %d", i, length, got, err, want)
			}
			for _, direct := range []bool{true, false} {
				if direct && length > scanInBuf {
					continue
				}
				ps := &plans{m: map[int64]*lengthPlan{}}
				for l := range lengths {
					ps.m[l] = &lengthPlan{length: l, how: checkRolling}
				}
				if direct {
					ps.m[length].how = checkDirect
				} else {
					delete(ps.m, length) // registers, or direct when short
				}
				if got, err := s.directAndRegisters(ps); err != nil || got != want {
					t.Fatalf("input %d: directAndRegisters(%d, direct %v) = %d, %v; want %d", i, length, direct, got, err, want)
				}
			}
		}
	}
	if found == 0 {
		t.Errorf("no input holds an intact record: the inputs test nothing")
	}
}

// TestScanWork checks that classifying a 64 MiB tail behind a damaged
// record, the common leftover of a crash (zeros of preallocated or partly
// written pages) or periodic bytes whose every offset reads as a record
// header of megabytes, costs a bounded number of checksum bytes and a
// bounded amount of memory, and still finds a record planted behind them.
//
// Under the race detector the tail is 16 MiB, which keeps the same bounds
// (they are multiples of the tail's size) at a quarter of the cost.
func TestScanWork(t *testing.T) {
	n := 64 << 20
	if raceEnabled {
		n = 16 << 20
	}
	n64 := int64(n)
	rnd := make([]byte, n)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range rnd {
		rnd[i] = byte(r.Uint32())
	}
	planted := func(b []byte) []byte {
		b = bytes.Clone(b)
		copy(b[n/2:], recordAt(bindV2, n64/2, []byte("an acknowledged record")))
		clear(b[n/2+30 : n/2+38]) // zeros follow it
		return b
	}
	cases := []struct {
		name string
		tail []byte
		work int64 // at most this many checksum bytes
		find int64 // offset of the record found, -1 for none
	}{
		{"zeros", make([]byte, n), 0, -1},
		{"ones", periodic(n, 1), n64 + MaxRecordSize/8, -1},
		{"length 1, checksum 0", periodic(n, 1, 0, 0, 0, 0, 0, 0, 0), 5 * n64, -1},
		{"period 16", periodic(n, 0, 0, 0, 1, 0, 0, 0, 2, 3, 4, 5, 6, 7, 8, 9, 10), 20 * n64, -1},
		{"0f 00", periodic(n, 0x0f, 0), 4 * n64, -1},
		{"random", rnd, 4 * n64, -1},
		{"ones, record planted", planted(periodic(n, 1)), 2 * n64, n64 / 2},
		{"80 headers of 128 KiB near chunk ends, in zeros", func() []byte {
			b := make([]byte, n)
			for i := 1; i <= min(40, int(n/scanChunk)-1); i++ {
				binary.LittleEndian.PutUint32(b[i*scanChunk-16:], 128<<10)
				binary.LittleEndian.PutUint32(b[i*scanChunk-32:], 128<<10)
			}
			return b
		}(), 3 * n64, -1}, // also 32 MiB headers, read across the 0 and 2 bytes
		{"zeros, record planted", planted(make([]byte, n)), 2 * n64, n64 / 2},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			at, found, work, err := scanValid(bytes.NewReader(tt.tail), bindV2, 0, n64, true)
			runtime.ReadMemStats(&after)
			if err != nil {
				t.Fatalf("scanValid: %v", err)
			}
			if found == 0 {
				at = -1
			}
			if at != tt.find {
				t.Errorf("scanValid found %d, want %d", at, tt.find)
			}
			if work > tt.work {
				t.Errorf("scanValid computed checksums over %d bytes, want at most %d", work, tt.work)
			}
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 32<<20 {
				t.Errorf("scanValid allocated %d bytes, want at most 32 MiB", alloc)
			}
			t.Logf("%d checksum bytes, %d allocated", work, after.TotalAlloc-before.TotalAlloc)
		})
	}
}

// TestScanBudget checks that a tail with more candidate lengths than the
// scan can afford is reported as errScanBudget (which Replay reports as
// corruption) rather than scanned without bound or called torn.
func TestScanBudget(t *testing.T) {
	// Bytes 0 to 3 at random: a quarter of the offsets are candidates, of
	// 64 lengths shared by thousands each, so 64 passes of a rolling window.
	const n = 16 << 20
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(9, 9))
	for i := range b {
		b[i] = byte(r.IntN(4))
	}
	_, _, work, err := scanValid(bytes.NewReader(b), bindV2, 0, n, true)
	if !errors.Is(err, errScanBudget) {
		t.Fatalf("scanValid: got %v, want errScanBudget", err)
	}
	if work > n {
		t.Errorf("scanValid computed %d checksum bytes before giving up, want at most %d", work, n)
	}
}
