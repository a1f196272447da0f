package colfile

import (
	"bytes"
	"errors"
	"math"
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

// allocBudget is the most a decode of n input bytes producing points
// values may allocate: a fixed slack (covering one block of MaxBlockSize
// values), a linear factor in the input (snappy's expansion of at most 24x,
// the index expanding into series keys and block entries, and room
// reserved for up to maxValuesPerStoredByte values per stored byte), and a
// linear factor in the values actually decoded (their in-memory size, with
// slack for growing slices). The codecs compress regular data far more than
// any fixed ratio, so the values decoded have to be part of the budget.
func allocBudget(n, points int) uint64 { return 8<<20 + 512*uint64(n) + 96*uint64(points) }

// fuzzSeeds returns the golden files, damaged copies of them and freshly
// written random files of both versions.
func fuzzSeeds(tb testing.TB) [][]byte {
	var seeds [][]byte
	rng := rand.New(rand.NewSource(1))
	for _, p := range []string{goldenV1Path, goldenExactTimesPath, goldenBitmapPath, goldenCompactPath, goldenV5Path, goldenPath} {
		golden, err := os.ReadFile(p)
		if err != nil {
			tb.Fatal(err)
		}
		seeds = append(seeds, golden, golden[:HeaderSize+FooterSize])
		for range 16 {
			b := append([]byte(nil), golden...)
			b[rng.Intn(len(b))] ^= byte(1 + rng.Intn(255))
			seeds = append(seeds, b, golden[:rng.Intn(len(golden))])
		}
	}
	seeds = append(seeds, []byte{}, []byte(Magic))
	dir := tb.TempDir()
	// A series whose columns take subsets of the fullest column's times.
	{
		full := model.Column{Name: "full", Kind: model.KindInt}
		part := model.Column{Name: "a", Kind: model.KindFloat}
		for i := range 40 {
			full.Append(int64(i)*1000, model.Int(int64(i)))
			if i%7 != 3 {
				part.Append(int64(i)*1000, model.Float(float64(i)/4))
			}
		}
		for _, noStats := range []bool{false, true} {
			path := filepath.Join(dir, "subset.col")
			if _, err := WriteWith(path, "s", 0, 1, []SeriesData{{Columns: []model.Column{full, part}}}, &WriteOptions{BlockSize: 8, NoStats: noStats}); err != nil {
				tb.Fatal(err)
			}
			if b, err := os.ReadFile(path); err == nil {
				seeds = append(seeds, b)
			}
		}
	}
	// Sparse subset selections of every form (absent, present and empty
	// lists, and bitmaps where they are smaller) and compact float
	// statistics, with and without the plain fallbacks.
	{
		base := jitteredTimes(rng, 600)
		cols := []model.Column{
			gappyColumn("full", base, func(int) bool { return true }),
			gappyColumn("few", base, func(i int) bool { return i%150 != 7 || i < 150 }),
			gappyColumn("rare", base, func(i int) bool { return i%61 == 0 }),
			gappyColumn("half", base, func(i int) bool { return rng.Intn(2) == 0 || i%100 == 0 }),
			fcol("odd", base[:4], math.NaN(), math.Copysign(0, -1), math.Inf(1), 0.1),
		}
		path := filepath.Join(dir, "sparse.col")
		if _, err := WriteWith(path, "s", 0, 1, []SeriesData{{Columns: cols}}, &WriteOptions{BlockSize: 100}); err != nil {
			tb.Fatal(err)
		}
		if b, err := os.ReadFile(path); err == nil {
			seeds = append(seeds, b)
		}
	}
	for i, bs := range []int{1, 5, 100} {
		path := filepath.Join(dir, "rnd.col")
		var err error
		series := randomSeries(rand.New(rand.NewSource(int64(3 + i))))
		if i == 2 {
			err = writeV1(path, "rnd", 0, 1, series)
		} else {
			_, err = WriteWith(path, "rnd", 0, 1, series, &WriteOptions{BlockSize: bs, Replaces: []uint64{uint64(i) + 10}})
		}
		if err != nil {
			tb.Fatal(err)
		}
		if b, err := os.ReadFile(path); err == nil && len(b) < 64<<10 {
			seeds = append(seeds, b)
		}
	}
	// Union blocks: no column holds every time of its series.
	{
		base := jitteredTimes(rng, 300)
		cols := []model.Column{
			gappyColumn("a", base, func(i int) bool { return i%29 != 3 }),
			gappyColumn("b", base, func(i int) bool { return i%31 != 5 }),
			gappyColumn("c", base, func(i int) bool { return i%37 != 7 }),
			gappyColumn("d", base, func(i int) bool { return i%2 == 0 }),
		}
		path := filepath.Join(dir, "union.col")
		if _, err := WriteWith(path, "s", 0, 1, []SeriesData{{Columns: cols}}, &WriteOptions{BlockSize: 64}); err != nil {
			tb.Fatal(err)
		}
		if b, err := os.ReadFile(path); err == nil {
			seeds = append(seeds, b)
		}
	}
	// Files whose columns share times, whole or in part.
	for i, bs := range []int{1, 4, 50} {
		path := filepath.Join(dir, "shared.col")
		series := sharedSeries(rand.New(rand.NewSource(int64(20 + i))))
		if _, err := WriteWith(path, "shared", 0, 1, series, &WriteOptions{BlockSize: bs}); err != nil {
			tb.Fatal(err)
		}
		if b, err := os.ReadFile(path); err == nil && len(b) < 64<<10 {
			seeds = append(seeds, b)
		}
	}
	return seeds
}

// FuzzOpen feeds arbitrary bytes to the reader: Open and every read of every
// column and block must never panic, must fail only with ErrCorrupt or
// ErrUnsupportedVersion, must agree with the index, and must not allocate
// more than allocBudget.
func FuzzOpen(f *testing.F) {
	for _, b := range fuzzSeeds(f) {
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
		for i, s := range r.AllSeries() {
			for j, info := range s.Columns {
				col, err := r.ReadColumn(i, j)
				if err != nil {
					if !errors.Is(err, ErrCorrupt) {
						t.Fatalf("ReadColumn(%d, %d): unexpected error kind: %v", i, j, err)
					}
				} else {
					if col.Name != info.Name || col.Kind != info.Kind || col.Len() != info.Count {
						t.Fatalf("ReadColumn(%d, %d): got %q %s ×%d, index says %q %s ×%d", i, j, col.Name, col.Kind, col.Len(), info.Name, info.Kind, info.Count)
					}
					if err := checkColumn(&col); err != nil {
						t.Fatalf("ReadColumn(%d, %d): invalid column: %v", i, j, err)
					}
					points += col.Len()
				}
				for k, b := range info.Blocks {
					blk, err := r.ReadBlock(i, j, k)
					if err != nil {
						if !errors.Is(err, ErrCorrupt) {
							t.Fatalf("ReadBlock(%d, %d, %d): unexpected error kind: %v", i, j, k, err)
						}
						continue
					}
					if blk.Len() != b.Count || blk.Times[0] != b.MinTime || blk.Times[blk.Len()-1] != b.MaxTime {
						t.Fatalf("ReadBlock(%d, %d, %d): got %d values in [%d, %d], index says %+v", i, j, k, blk.Len(), blk.Times[0], blk.Times[blk.Len()-1], b)
					}
					points += blk.Len()
				}
				mid := info.MinTime + int64((uint64(info.MaxTime)-uint64(info.MinTime))/2)
				part, err := r.ReadRange(i, j, mid, info.MaxTime)
				if err != nil && !errors.Is(err, ErrCorrupt) {
					t.Fatalf("ReadRange(%d, %d): unexpected error kind: %v", i, j, err)
				}
				points += part.Len()
			}
		}
		if used := heapAllocs() - before; used > allocBudget(len(data), points) {
			t.Fatalf("decoding %d bytes into %d values allocated %d bytes, budget %d", len(data), points, used, allocBudget(len(data), points))
		}
		if m := r.Meta(); m.Points < 0 || len(m.Replaces) > len(data) {
			t.Fatalf("implausible meta %+v", m)
		}
	})
}

// FuzzBlock feeds arbitrary stored block bytes to the block decoders, which
// sit behind a CRC in FuzzOpen and are therefore hard to reach there. The
// top bit of kind selects the version 1 decoder; the next bit selects the
// decoder of version 2 blocks whose times are shared (values only), which
// FuzzOpen reaches the same way; the next two select the decoder of
// blocks holding a subset of another block's times, with a bitmap or a
// sparse selection: then the low 16 bits of count are the block's count
// and the high 16 bits the other block's. A block that decodes must be a
// valid column and must re-encode to a block that decodes to the same
// column.
func FuzzBlock(f *testing.F) {
	const v1, shared, bitmap, sparse, union = 0x80, 0x40, 0x20, 0x10, 0x08
	var enc blockEncoder
	{
		// Subsets of 200 times, with both selections.
		all := times(200, 0, 3)
		for _, keep := range []func(i int) bool{
			func(i int) bool { return i != 17 && i != 150 },
			func(i int) bool { return i%41 == 0 },
			func(int) bool { return true },
			func(i int) bool { return i%3 != 0 },
		} {
			c := model.Column{Kind: model.KindFloat}
			for i, t := range all {
				if keep(i) {
					c.Append(t, model.Float(float64(i)/8))
				}
			}
			count := uint32(len(all))<<16 | uint32(c.Len())
			sel := subsetBitmap(nil, all, c.Times)
			f.Add(append([]byte(nil), enc.encode(&c, true, sel)...), uint8(c.Kind)|bitmap, count)
			sel, _ = appendSparse(nil, nil, all, c.Times)
			f.Add(append([]byte(nil), enc.encode(&c, true, sel)...), uint8(c.Kind)|sparse, count)
			// The same as union blocks, which store all themselves.
			sel, sp := enc.subsetSelection(all, c.Times)
			flag := uint8(bitmap)
			if sp {
				flag = sparse
			}
			f.Add(append([]byte(nil), enc.encodeUnion(&c, all, sel)...), uint8(c.Kind)|union|flag, uint32(c.Len()))
		}
	}
	for _, s := range goldenSeriesV2() {
		for _, c := range s.Columns {
			f.Add(append([]byte(nil), enc.encode(&c, false, nil)...), uint8(c.Kind), uint32(c.Len()))
			f.Add(append([]byte(nil), enc.encode(&c, true, nil)...), uint8(c.Kind)|shared, uint32(c.Len()))
			body := appendBlockBodyV1(nil, &c)
			f.Add(snappy.Encode(nil, body), uint8(c.Kind)|v1, uint32(c.Len()))
		}
	}
	rng := rand.New(rand.NewSource(2))
	for _, k := range allKinds {
		c := kindColumn(rng, "x", k, 300, 0, 10)
		f.Add(append([]byte(nil), enc.encode(&c, false, nil)...), uint8(k), uint32(c.Len()))
		f.Add(append([]byte(nil), enc.encode(&c, true, nil)...), uint8(k)|shared, uint32(c.Len()))
	}
	f.Fuzz(func(t *testing.T, stored []byte, kind uint8, count uint32) {
		col := model.Column{Kind: model.Kind(kind &^ (v1 | shared | bitmap | sparse | union))}
		n := int(min(count, 1<<31))
		uni := kind&union != 0
		subset := !uni && kind&(bitmap|sparse) != 0
		var all []int64
		if subset {
			n, all = int(count&0xffff), times(int(count>>16), -int64(count>>16), 3)
		}
		var err error
		before := heapAllocs()
		switch {
		case uni:
			err = decodeUnionBlock(&col, stored, n, kind&bitmap == 0)
		case subset:
			err = decodeSubsetBlock(&col, stored, n, all, kind&bitmap == 0)
		case kind&v1 != 0:
			col, err = decodeBlockV1(stored, col.Kind, n)
		case kind&shared != 0:
			if err = decodeSharedBlock(&col, stored, n); err == nil {
				// The times come from another block; any valid ones do.
				col.Times = times(n, -int64(n), 3)
			}
		default:
			err = decodeBlock(&col, stored, n)
		}
		if used := heapAllocs() - before; used > allocBudget(len(stored), col.Len()) {
			t.Fatalf("decoding %d bytes allocated %d bytes", len(stored), used)
		}
		if err != nil {
			return
		}
		if err := checkColumn(&col); err != nil {
			t.Fatalf("decoded an invalid column: %v", err)
		}
		var enc blockEncoder
		again := model.Column{Kind: col.Kind}
		if uni {
			// Any union of the decoded times will do: they themselves.
			sel, sp := enc.subsetSelection(col.Times, col.Times)
			err = decodeUnionBlock(&again, enc.encodeUnion(&col, col.Times, sel), col.Len(), sp)
		} else if subset {
			sel, sp := enc.subsetSelection(all, col.Times)
			err = decodeSubsetBlock(&again, enc.encode(&col, true, sel), col.Len(), all, sp)
		} else if kind&shared != 0 {
			err = decodeSharedBlock(&again, enc.encode(&col, true, nil), col.Len())
			again.Times = col.Times
		} else {
			err = decodeBlock(&again, enc.encode(&col, false, nil), col.Len())
		}
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if err := columnsEqual(again, col); err != nil {
			t.Fatalf("re-decode: %v", err)
		}
	})
}
