package colfile

import (
	"bytes"
	"errors"
	"math/rand"
	"os"
	"path/filepath"
	"runtime/metrics"
	"testing"

	"github.com/golang/snappy"
	"github.com/soltixdb/soltix/model"
)

// heapAllocs returns the cumulative number of bytes allocated on the heap.
func heapAllocs() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// allocBudget is the most a decode of n input bytes may allocate: a fixed
// slack plus a linear factor covering snappy's expansion (at most 24x) times
// the in-memory size of decoded values (at most 12 bytes per body byte), and
// the series keys the index expands into.
func allocBudget(n int) uint64 { return 4<<20 + 512*uint64(n) }

// FuzzOpen feeds arbitrary bytes to the reader: Open and ReadColumn of every
// column must never panic, must fail only with ErrCorrupt or
// ErrUnsupportedVersion, and must not allocate more than allocBudget.
func FuzzOpen(f *testing.F) {
	golden, err := os.ReadFile(goldenPath)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(golden)
	f.Add([]byte{})
	f.Add([]byte(Magic))
	f.Add(golden[:HeaderSize+FooterSize])
	rng := rand.New(rand.NewSource(1))
	for range 16 {
		b := append([]byte(nil), golden...)
		b[rng.Intn(len(b))] ^= byte(1 + rng.Intn(255))
		f.Add(b)
		f.Add(golden[:rng.Intn(len(golden))])
	}
	// A larger valid file with every kind.
	path := filepath.Join(f.TempDir(), "rnd.col")
	if _, err := Write(path, "rnd", 0, 1, randomSeries(rand.New(rand.NewSource(3)))); err != nil {
		f.Fatal(err)
	}
	if b, err := os.ReadFile(path); err == nil && len(b) < 64<<10 {
		f.Add(b)
	}

	f.Fuzz(func(t *testing.T, data []byte) {
		before := heapAllocs()
		r, err := newReader(bytes.NewReader(data), int64(len(data)), "fuzz.col")
		if err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnsupportedVersion) {
				t.Fatalf("Open: unexpected error kind: %v", err)
			}
			return
		}
		points := 0
		for i, s := range r.Series() {
			for j, info := range s.Columns {
				col, err := r.ReadColumn(i, j)
				if err != nil {
					if !errors.Is(err, ErrCorrupt) {
						t.Fatalf("ReadColumn(%d, %d): unexpected error kind: %v", i, j, err)
					}
					continue
				}
				if col.Name != info.Name || col.Kind != info.Kind || col.Len() != info.Count {
					t.Fatalf("ReadColumn(%d, %d): got %q %s ×%d, index says %+v", i, j, col.Name, col.Kind, col.Len(), info)
				}
				points += col.Len()
			}
		}
		if used := heapAllocs() - before; used > allocBudget(len(data)) {
			t.Fatalf("decoding %d bytes allocated %d bytes, budget %d", len(data), used, allocBudget(len(data)))
		}
		if points > r.Meta().Points {
			t.Fatalf("decoded %d points, meta says %d", points, r.Meta().Points)
		}
	})
}

// FuzzBlock feeds arbitrary stored block bytes to the block decoder, which
// sits behind a CRC in FuzzOpen and is therefore hard to reach there. A
// block that decodes must re-encode to a block that decodes to the same
// column.
func FuzzBlock(f *testing.F) {
	for _, s := range goldenSeries() {
		for _, c := range s.Columns {
			body := appendBlockBody(nil, &c)
			f.Add(snappy.Encode(nil, body), uint8(c.Kind), uint32(c.Len()))
			f.Add(body, uint8(c.Kind), uint32(c.Len()))
		}
	}
	f.Fuzz(func(t *testing.T, stored []byte, kind uint8, count uint32) {
		var col model.Column
		var err error
		before := heapAllocs()
		if kind&0x80 != 0 {
			// Exercise the body decoder directly, without snappy.
			col, err = decodeBlockBody(stored, model.Kind(kind&0x7f), int(count))
		} else {
			col, err = decodeBlock(stored, model.Kind(kind), int(count))
		}
		if used := heapAllocs() - before; used > allocBudget(len(stored)) {
			t.Fatalf("decoding %d bytes allocated %d bytes", len(stored), used)
		}
		if err != nil {
			return
		}
		if err := checkColumn(&col); err != nil {
			t.Fatalf("decoded an invalid column: %v", err)
		}
		again, err := decodeBlockBody(appendBlockBody(nil, &col), col.Kind, col.Len())
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if err := columnsEqual(again, col); err != nil {
			t.Fatalf("re-decode: %v", err)
		}
	})
}
