package colfile

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/soltixdb/soltix/model"
)

// fillValues sets n random values of c's kind.
func fillValues(rng *rand.Rand, c *model.Column, n int) {
	for i := range n {
		switch c.Kind {
		case model.KindFloat:
			c.Floats = append(c.Floats, float64(rng.Intn(20000)-10000)/100)
		case model.KindInt:
			c.Ints = append(c.Ints, int64(i%13)-int64(rng.Intn(3)))
		case model.KindUint:
			c.Uints = append(c.Uints, rng.Uint64()>>rng.Intn(64))
		case model.KindBool:
			c.Bools = append(c.Bools, rng.Intn(4) == 0)
		case model.KindString:
			c.Strings = append(c.Strings, fmt.Sprint("v", rng.Intn(4)))
		}
	}
}

// sharedSeries returns random series whose columns share their times with
// each other to varying degrees: the same times as a base array (held in
// the same slice or in a copy), a prefix or an extension of it, the base
// with a few times moved, or times of their own.
func sharedSeries(rng *rand.Rand) []SeriesData {
	var out []SeriesData
	for s := range 1 + rng.Intn(6) {
		n := 1 + rng.Intn(400)
		base := make([]int64, n)
		t := rng.Int63n(1 << 50)
		for i := range base {
			base[i] = t
			t += 1 + rng.Int63n(1+int64(rng.Intn(3))*1000)
		}
		sd := SeriesData{Tags: tags("truck", fmt.Sprint(s))}
		for c := range 1 + rng.Intn(6) {
			var ts []int64
			switch rng.Intn(6) {
			case 0:
				ts = base
			case 1:
				ts = slices.Clone(base)
			case 2:
				ts = base[:1+rng.Intn(n)]
			case 3:
				ts = slices.Clone(base)
				for range 1 + rng.Intn(3) {
					i := rng.Intn(n)
					if i+1 == n || ts[i]+1 < ts[i+1] {
						ts[i]++
					}
				}
			case 4:
				ts = slices.Clone(base)
				for range 1 + rng.Intn(200) {
					ts = append(ts, ts[len(ts)-1]+1+rng.Int63n(50))
				}
			default:
				ts = times(1+rng.Intn(300), base[0], 7)
			}
			col := model.Column{Name: fmt.Sprintf("c%d", c), Kind: model.Kind(1 + rng.Intn(5)), Times: ts}
			fillValues(rng, &col, len(ts))
			sd.Columns = append(sd.Columns, col)
		}
		out = append(out, sd)
	}
	return out
}

// checkTimesFrom checks that every block of a version 2 file shares its
// times exactly when an earlier column of its series holds the same times
// in the same block position, and then with the first such column that
// stores its own. series must be in file order with columns sorted by name.
func checkTimesFrom(t *testing.T, r *Reader, series []SeriesData, bs int) (shared, total int) {
	t.Helper()
	for i, in := range series {
		cols := slices.Clone(in.Columns)
		slices.SortFunc(cols, func(a, b model.Column) int { return strings.Compare(a.Name, b.Name) })
		ptrs := make([]*model.Column, len(cols))
		for j := range cols {
			ptrs[j] = &cols[j]
		}
		base, subset, union := planSubsets(ptrs, bs, &blockEncoder{}, nil)
		for j, c := range cols {
			if union != nil && j == base {
				// Every block stores the union of the series' times.
				for k, ref := range r.blockRefs()[i][j] {
					if !ref.union || ref.timesFrom != 0 {
						t.Errorf("series %d column %q block %d: times from %d (union %v), want a union block", i, c.Name, k, ref.timesFrom, ref.union)
					}
					total++
				}
				continue
			}
			if subset[j] {
				// Every block takes a subset of the base's block (the
				// values were checked by checkFile).
				for k, ref := range r.blockRefs()[i][j] {
					if !ref.subset || ref.timesFrom != base+1 {
						t.Errorf("series %d column %q block %d: times from %d (subset %v), want a subset of column %d", i, c.Name, k, ref.timesFrom, ref.subset, base)
					}
					shared++
					total++
				}
				continue
			}
			for k, lo := 0, 0; lo < c.Len(); k, lo = k+1, lo+bs {
				cut := func(c model.Column) []int64 {
					if lo >= c.Len() {
						return nil
					}
					return c.Times[lo:min(lo+bs, c.Len())]
				}
				want := 0
				for e := range j {
					if (j != base || union != nil) && !subset[e] && (union == nil || e != base) && k < len(r.blockRefs()[i][e]) && r.blockRefs()[i][e][k].timesFrom == 0 && slices.Equal(cut(cols[e]), cut(c)) {
						want = e + 1
						break
					}
				}
				if got := r.blockRefs()[i][j][k].timesFrom; got != want {
					t.Errorf("series %d column %q block %d: times from %d, want %d", i, c.Name, k, got, want)
				}
				if want > 0 {
					shared++
				}
				total++
			}
		}
	}
	return shared, total
}

// sortedByKey returns series in file order.
func sortedByKey(collection string, series []SeriesData) []SeriesData {
	out := slices.Clone(series)
	key := func(s SeriesData) string {
		st := append(model.Tags(nil), s.Tags...)
		st.Sort()
		return model.SeriesKey(collection, st)
	}
	slices.SortFunc(out, func(a, b SeriesData) int { return strings.Compare(key(a), key(b)) })
	return out
}

func TestSharedTimesRoundTrip(t *testing.T) {
	jittered := []int64{1003, 1998, 3001, 4000, 4999, 6002, 7001, 7995, 9004}
	moved := slices.Clone(jittered)
	moved[5]++ // block 1 of 3 differs
	rng := rand.New(rand.NewSource(1))
	col := func(name string, kind model.Kind, ts []int64) model.Column {
		c := model.Column{Name: name, Kind: kind, Times: ts}
		fillValues(rng, &c, len(ts))
		return c
	}
	tests := []struct {
		name string
		cols []model.Column
		bs   int
		from [][]int // per column in name order, per block
	}{
		{"all shared, one slice", []model.Column{
			col("a", model.KindFloat, jittered), col("b", model.KindFloat, jittered), col("c", model.KindInt, jittered),
		}, 3, [][]int{{0, 0, 0}, {1, 1, 1}, {1, 1, 1}}},
		{"all shared, copies", []model.Column{
			col("a", model.KindFloat, slices.Clone(jittered)), col("b", model.KindString, slices.Clone(jittered)),
		}, 4, [][]int{{0, 0, 0}, {1, 1, 1}}},
		{"some blocks shared", []model.Column{
			col("a", model.KindFloat, jittered), col("b", model.KindBool, moved), col("c", model.KindUint, moved),
		}, 3, [][]int{{0, 0, 0}, {1, 0, 1}, {1, 2, 1}}},
		{"none shared", []model.Column{
			col("a", model.KindFloat, jittered), col("b", model.KindFloat, times(9, 1000, 1000)), col("c", model.KindInt, times(5, 0, 1)),
		}, 3, [][]int{{0, 0, 0}, {0, 0, 0}, {0, 0}}},
		{"different lengths", []model.Column{
			col("a", model.KindFloat, jittered[:7]), col("b", model.KindFloat, jittered), col("c", model.KindInt, jittered[:6]),
			col("d", model.KindInt, jittered[:2]),
		}, 3, [][]int{{2, 2, 2}, {0, 0, 0}, {2, 2}, {0}}}, // a: a subset of b, the base; c has no value in b's last block
		{"one block each", []model.Column{
			col("a", model.KindFloat, jittered), col("b", model.KindFloat, jittered), col("c", model.KindFloat, jittered[:8]),
		}, DefaultBlockSize, [][]int{{0}, {1}, {1}}}, // c: a subset of a
		{"single values", []model.Column{
			col("a", model.KindInt, jittered[:1]), col("b", model.KindInt, jittered[:1]), col("c", model.KindInt, jittered[1:2]),
		}, 1, [][]int{{0}, {1}, {0}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			series := []SeriesData{
				{Tags: tags("host", "x"), Columns: tc.cols},
				{Tags: tags("host", "y"), Columns: []model.Column{col("a", model.KindFloat, jittered)}},
			}
			path := filepath.Join(t.TempDir(), "f.col")
			if _, err := WriteWith(path, "c", 0, 1, series, &WriteOptions{BlockSize: tc.bs}); err != nil {
				t.Fatal(err)
			}
			r := checkFile(t, path, "c", series)
			for j, want := range tc.from {
				var got []int
				for _, ref := range r.blockRefs()[0][j] {
					got = append(got, ref.timesFrom)
				}
				if !slices.Equal(got, want) {
					t.Errorf("column %d: times from %v, want %v", j, got, want)
				}
			}
			checkTimesFrom(t, r, series, tc.bs)
			// Another series never shares with this one.
			if from := r.blockRefs()[1][0][0].timesFrom; from != 0 {
				t.Errorf("second series: times from %d, want 0", from)
			}
		})
	}
}

func TestSharedTimesRandom(t *testing.T) {
	shared, total := 0, 0
	for seed := range int64(40) {
		rng := rand.New(rand.NewSource(seed))
		series := sharedSeries(rng)
		bs := []int{1, 3, 16, 100, DefaultBlockSize}[seed%5]
		path := filepath.Join(t.TempDir(), "f.col")
		if _, err := WriteWith(path, "c", 0, 1, series, &WriteOptions{BlockSize: bs}); err != nil {
			t.Fatal(err)
		}
		r := checkFile(t, path, "c", series)
		s, n := checkTimesFrom(t, r, sortedByKey("c", series), bs)
		shared, total = shared+s, total+n
		for i, s := range r.AllSeries() {
			for j, c := range s.Columns {
				for _, rg := range rangesFor(rng, series[0].Columns[0].Times, bs)[:8] {
					got, err := r.ReadRange(i, j, rg[0], rg[1])
					if err != nil {
						t.Fatalf("seed %d: ReadRange: %v", seed, err)
					}
					all, err := r.ReadColumn(i, j)
					if err != nil {
						t.Fatal(err)
					}
					if err := columnsEqual(got, naiveRange(all, rg[0], rg[1])); err != nil {
						t.Fatalf("seed %d: ReadRange(%d, %q, %d, %d): %v", seed, i, c.Name, rg[0], rg[1], err)
					}
				}
			}
		}
	}
	if shared == 0 || shared == total {
		t.Errorf("%d of %d blocks share their times; the test wants some of each", shared, total)
	}
}

// TestSharedTimesSmaller checks that sharing saves the bytes of the times:
// a series of several columns at the same jittered times costs little more
// than the same columns with their values alone would.
func TestSharedTimesSmaller(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	const n = 5000
	ts := make([]int64, n)
	for i := range ts {
		ts[i] = int64(i)*10_000_000_000 + rng.Int63n(100)*1_000_000
	}
	var cols []model.Column
	for c := range 4 {
		col := model.Column{Name: fmt.Sprint("f", c), Kind: model.KindInt, Times: ts, Ints: make([]int64, n)}
		cols = append(cols, col)
	}
	size := func(cols []model.Column) int64 {
		path := filepath.Join(t.TempDir(), "f.col")
		if _, err := Write(path, "c", 0, 1, []SeriesData{{Columns: cols}}); err != nil {
			t.Fatal(err)
		}
		checkFile(t, path, "c", []SeriesData{{Columns: cols}})
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return st.Size()
	}
	one, four := size(cols[:1]), size(cols)
	// The constant values cost a few bytes per block; the times about 0.9
	// bytes per value. Four columns must not store them four times.
	if four > one+3*n/10 {
		t.Errorf("4 columns at the same times: %d bytes, 1 column: %d bytes; times are not shared", four, one)
	}
}

func TestSharedTimesConcurrent(t *testing.T) {
	series := sharedSeries(rand.New(rand.NewSource(11)))
	path := filepath.Join(t.TempDir(), "f.col")
	if _, err := WriteWith(path, "c", 0, 1, series, &WriteOptions{BlockSize: 7}); err != nil {
		t.Fatal(err)
	}
	r := checkFile(t, path, "c", series)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i, s := range r.AllSeries() {
				for j, c := range s.Columns {
					got, err := r.ReadColumn(i, j)
					if err == nil && got.Len() != c.Count {
						err = fmt.Errorf("ReadColumn(%d, %d): %d values, want %d", i, j, got.Len(), c.Count)
					}
					if err == nil {
						_, err = r.ReadBlock(i, j, len(c.Blocks)-1)
					}
					if err != nil {
						errs <- err
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// appendBlockEntries encodes the block entries of a version 2 column as
// docs/format.md describes them, from blocks and refs.
func appendBlockEntries(dst []byte, kind model.Kind, blocks []BlockInfo, refs []blockRef) []byte {
	for k := range blocks {
		b := &blocks[k]
		dst = binary.AppendUvarint(dst, uint64(b.Count))
		dst = binary.AppendUvarint(dst, uint64(refs[k].timesFrom))
		if k == 0 {
			dst = binary.AppendVarint(dst, b.MinTime)
		} else {
			dst = binary.AppendUvarint(dst, uint64(b.MinTime)-uint64(blocks[k-1].MaxTime))
		}
		dst = binary.AppendUvarint(dst, uint64(b.MaxTime)-uint64(b.MinTime))
		dst = binary.AppendUvarint(dst, uint64(refs[k].length))
		dst = appendStats(dst, kind, b)
	}
	return dst
}

// rawTimesFrom returns the times from field of the index entry of a block
// of a series of nCols columns.
func rawTimesFrom(ref blockRef, nCols int) int {
	switch {
	case ref.union && ref.sparse:
		return 3*nCols + 2
	case ref.union:
		return 3*nCols + 1
	case ref.subset && ref.sparse:
		return 2*nCols + ref.timesFrom
	case ref.subset:
		return nCols + ref.timesFrom
	}
	return ref.timesFrom
}

// unionCols returns two columns neither of which holds every time of the
// other, in blocks of 3: the writer stores their union in a's blocks.
func unionCols() []model.Column {
	a, b := model.Column{Name: "a", Kind: model.KindInt}, model.Column{Name: "b", Kind: model.KindInt}
	for i := range 30 {
		t := int64(1000 + 10*i + i*i%7)
		if i != 4 {
			a.Append(t, model.Int(int64(i)))
		}
		if i != 1 && i != 17 {
			b.Append(t, model.Int(int64(2*i)))
		}
	}
	return []model.Column{a, b}
}

// TestSharedTimesRejects edits the block entries of the last column of a
// file (the end of its index) and checks that inconsistent references to
// shared times are refused, by Open or, where only the blocks can tell, by
// the read.
func TestSharedTimesRejects(t *testing.T) {
	ts := []int64{10, 20, 30, 40, 50}
	tests := []struct {
		name    string
		cols    []model.Column
		edit    func(blocks []BlockInfo, refs []blockRef)
		atRead  bool
		errHave string
	}{
		{"unchanged", []model.Column{icol("a", ts, 1, 2, 3, 4, 5), icol("b", ts, 7, 8, 9, 10, 11)},
			func([]BlockInfo, []blockRef) {}, true, ""},
		{"times from itself", []model.Column{icol("a", ts, 1, 2, 3, 4, 5), icol("b", ts, 7, 8, 9, 10, 11)},
			func(_ []BlockInfo, refs []blockRef) { refs[1].timesFrom = 2 }, false, "not an earlier column"},
		{"times from a missing column", []model.Column{icol("a", ts, 1, 2, 3, 4, 5), icol("b", ts, 7, 8, 9, 10, 11)},
			func(_ []BlockInfo, refs []blockRef) { refs[0].timesFrom = 1000 }, false, "subset of column 995 of 2"},
		{"sparse subset instead of exact", []model.Column{icol("a", ts, 1, 2, 3, 4, 5), icol("b", ts, 7, 8, 9, 10, 11)},
			func(_ []BlockInfo, refs []blockRef) { refs[0].timesFrom = 5 }, true, "sparse selection"},
		{"times from a later column", []model.Column{icol("a", ts, 1, 2, 3, 4, 5), icol("b", ts, 7, 8, 9, 10, 11), icol("c", []int64{5}, 1)},
			func(_ []BlockInfo, refs []blockRef) { refs[0].timesFrom = 3 }, false, "not an earlier column"},
		{"subset of itself", []model.Column{icol("a", ts, 1, 2, 3, 4, 5), icol("b", ts, 7, 8, 9, 10, 11)},
			func(_ []BlockInfo, refs []blockRef) { refs[0].timesFrom = 4 }, false, "subset of column 1 of 2"},
		{"sparse subset of itself", []model.Column{icol("a", ts, 1, 2, 3, 4, 5), icol("b", ts, 7, 8, 9, 10, 11)},
			func(_ []BlockInfo, refs []blockRef) { refs[0].timesFrom = 6 }, false, "subset of column 1 of 2"},
		{"times from a missing block", []model.Column{icol("a", ts[:2], 1, 2), icol("b", ts, 7, 8, 9, 10, 11)},
			func(_ []BlockInfo, refs []blockRef) { refs[1].timesFrom = 1 }, false, "has no block 1"},
		{"times from a shared block", []model.Column{icol("a", ts, 1, 2, 3, 4, 5), icol("b", ts, 7, 8, 9, 10, 11), icol("c", ts, 7, 8, 9, 10, 11)},
			func(_ []BlockInfo, refs []blockRef) { refs[0].timesFrom = 2 }, false, "does not store its times"},
		{"count mismatch", []model.Column{icol("a", ts, 1, 2, 3, 4, 5), icol("b", ts, 7, 8, 9, 10, 11)},
			func(blocks []BlockInfo, _ []blockRef) { blocks[0].Count-- }, false, "takes them from"},
		{"time range mismatch", []model.Column{icol("a", ts, 1, 2, 3, 4, 5), icol("b", ts, 7, 8, 9, 10, 11)},
			func(blocks []BlockInfo, _ []blockRef) { blocks[1].MinTime++ }, false, "takes them from"},
		{"reference dropped", []model.Column{icol("a", ts, 1, 2, 3, 4, 5), icol("b", ts, 7, 8, 9, 10, 11)},
			func(_ []BlockInfo, refs []blockRef) { refs[1].timesFrom = 0 }, true, "decode"},
		// b has no value in the union's last block: no union blocks.
		{"reference added", []model.Column{icol("a", []int64{10, 20, 30, 40, 50, 60, 70}, 1, 2, 3, 4, 5, 6, 7), icol("b", []int64{10, 21, 30}, 7, 8, 9)},
			func(_ []BlockInfo, refs []blockRef) { refs[0].timesFrom = 1 }, true, "decode"},
		// Union blocks: a stores the union of a's and b's times, b
		// selects from it. (The edits write raw times from values.)
		{"exact share of a union block", unionCols(),
			func(_ []BlockInfo, refs []blockRef) { refs[0].timesFrom = 1 }, false, "does not store its times"},
		{"union form past 3c+2", unionCols(),
			func(_ []BlockInfo, refs []blockRef) { refs[0].timesFrom = 9 }, false, "subset of column 4 of 2"},
		{"union form on a block without union times", []model.Column{icol("a", ts, 1, 2, 3, 4, 5), icol("b", ts, 7, 8, 9, 10, 11)},
			func(_ []BlockInfo, refs []blockRef) { refs[0].timesFrom = 7 }, true, "decode"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			series := []SeriesData{{Columns: tc.cols}}
			path := filepath.Join(t.TempDir(), "f.col")
			if _, err := WriteWith(path, "c", 0, 1, series, &WriteOptions{BlockSize: 3}); err != nil {
				t.Fatal(err)
			}
			r, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			last := len(tc.cols) - 1
			info := r.SeriesAt(0).Columns[last]
			blocks, refs := slices.Clone(info.Blocks), slices.Clone(r.blockRefs()[0][last])
			for k := range refs { // as written in the index
				refs[k].timesFrom = rawTimesFrom(refs[k], len(tc.cols))
			}
			_ = r.Close()
			tail := appendBlockEntries(nil, info.Kind, blocks, refs)
			tc.edit(blocks, refs)
			rewriteIndex(t, path, func(idx []byte) []byte {
				if !strings.HasSuffix(string(idx), string(tail)) {
					t.Fatalf("index %x does not end with the block entries %x", idx, tail)
				}
				return appendBlockEntries(idx[:len(idx)-len(tail)], info.Kind, blocks, refs)
			})
			if tc.errHave == "" {
				checkFile(t, path, "c", series)
				return
			}
			err = openAndReadAll(path)
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), tc.errHave) {
				t.Fatalf("got %v, want ErrCorrupt mentioning %q", err, tc.errHave)
			}
			r, openErr := Open(path)
			if (openErr == nil) != tc.atRead {
				t.Errorf("Open: got %v, want failure %v", openErr, !tc.atRead)
			}
			if r != nil {
				_ = r.Close()
			}
		})
	}
}

// TestSharedTimesDamagedOwner damages the block that holds the times of
// another: reading the sharing column must fail with a CorruptionError at
// the damaged block, naming both columns, and other blocks stay readable.
func TestSharedTimesDamagedOwner(t *testing.T) {
	ts := times(9, 100, 10)
	series := []SeriesData{{Tags: tags("host", "a"), Columns: []model.Column{
		fcol("a", ts, 1, 2, 3, 4, 5, 6, 7, 8, 9), icol("b", ts, 1, 2, 3, 4, 5, 6, 7, 8, 9),
	}}}
	path := filepath.Join(t.TempDir(), "f.col")
	if _, err := WriteWith(path, "cpu", 0, 1, series, &WriteOptions{BlockSize: 3}); err != nil {
		t.Fatal(err)
	}
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	owner := r.blockRefs()[0][0][1]
	if r.blockRefs()[0][1][1].timesFrom != 1 {
		t.Fatalf("column b block 1: times from %d, want 1", r.blockRefs()[0][1][1].timesFrom)
	}
	_ = r.Close()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[owner.off+1] ^= 0x20
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	r, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	_, err = r.ReadColumn(0, 1)
	var ce *CorruptionError
	if !errors.As(err, &ce) || ce.Offset != owner.off {
		t.Fatalf("ReadColumn of the sharing column: got %v, want a CorruptionError at offset %d", err, owner.off)
	}
	for _, s := range []string{`column "a"`, `column "b"`, "block 1"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not name %q", err, s)
		}
	}
	for _, k := range []int{0, 2} {
		if _, err := r.ReadBlock(0, 1, k); err != nil {
			t.Errorf("ReadBlock(0, 1, %d) sharing intact times: %v", k, err)
		}
	}
	if _, err := r.ReadRange(0, 1, 130, 150); !errors.Is(err, ErrCorrupt) {
		t.Errorf("ReadRange over block 1: got %v, want ErrCorrupt", err)
	}
}

// TestDecodeSharedBlock checks the decoders of blocks without times.
func TestDecodeSharedBlock(t *testing.T) {
	var enc blockEncoder
	c := icol("x", []int64{1, 2, 3}, 4, 5, 6)
	own := slices.Clone(enc.encode(&c, false, nil))
	shared := slices.Clone(enc.encode(&c, true, nil))
	if len(shared) >= len(own) {
		t.Errorf("block without times: %d bytes, with: %d", len(shared), len(own))
	}
	col := model.Column{Kind: model.KindInt}
	if err := decodeSharedBlock(&col, shared, 3); err != nil || !slices.Equal(col.Ints, c.Ints) || col.Times != nil {
		t.Errorf("decodeSharedBlock: got %+v, %v", col, err)
	}
	ts, err := decodeBlockTimes(nil, own, 3)
	if err != nil || !slices.Equal(ts, c.Times) {
		t.Errorf("decodeBlockTimes: got %v, %v", ts, err)
	}
	for _, tc := range []struct {
		name   string
		stored []byte
		count  int
	}{
		{"count mismatch", shared, 2},
		{"count zero", shared, 0},
		{"count too large", shared, MaxBlockSize + 1},
		{"holds times", own, 3},
		{"empty", nil, 3},
		{"bad flag", append([]byte{9}, shared[1:]...), 3},
	} {
		col := model.Column{Kind: model.KindInt}
		if err := decodeSharedBlock(&col, tc.stored, tc.count); err == nil {
			t.Errorf("decodeSharedBlock %s: got nil error", tc.name)
		}
	}
	for _, tc := range []struct {
		name   string
		stored []byte
		count  int
	}{
		{"count mismatch", own, 2},
		{"count zero", own, 0},
		{"no times", shared, 3},
		{"empty", nil, 3},
	} {
		if _, err := decodeBlockTimes(nil, tc.stored, tc.count); err == nil {
			t.Errorf("decodeBlockTimes %s: got nil error", tc.name)
		}
	}
}
