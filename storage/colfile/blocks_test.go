package colfile

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/soltixdb/soltix/model"
)

// sameMeta compares two Metas, treating nil and empty Replaces alike.
func sameMeta(a, b Meta) bool {
	return a.Collection == b.Collection && a.Group == b.Group && a.Seq == b.Seq &&
		a.MinTime == b.MinTime && a.MaxTime == b.MaxTime && a.Points == b.Points &&
		slices.Equal(a.Replaces, b.Replaces)
}

// naiveStats computes a block's index entry the slow, obvious way, as a
// reference for blockStats.
func naiveStats(c model.Column) BlockInfo {
	n := c.Len()
	b := BlockInfo{Count: n, MinTime: slices.Min(c.Times), MaxTime: slices.Max(c.Times), Stats: true, First: c.Value(0), Last: c.Value(n - 1)}
	switch c.Kind {
	case model.KindFloat:
		var real []float64
		for _, v := range c.Floats {
			b.SumFloat += v
			if !math.IsNaN(v) {
				real = append(real, v)
			}
		}
		if len(real) == 0 {
			b.Min, b.Max = model.Float(c.Floats[0]), model.Float(c.Floats[0])
			break
		}
		lo, hi := real[0], real[0]
		for _, v := range real {
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
		b.Min, b.Max = model.Float(lo), model.Float(hi)
	case model.KindInt:
		s := slices.Sorted(slices.Values(c.Ints))
		b.Min, b.Max = model.Int(s[0]), model.Int(s[n-1])
		for _, v := range s {
			b.SumInt += v
		}
	case model.KindUint:
		s := slices.Sorted(slices.Values(c.Uints))
		b.Min, b.Max = model.Uint(s[0]), model.Uint(s[n-1])
		for _, v := range s {
			b.SumUint += v
		}
	}
	return b
}

// checkBlocks checks the block entries of column j of series i against the
// column's input: they must partition it in order, ReadBlock must return
// each part, and version 2 statistics must match naiveStats.
func checkBlocks(t *testing.T, r *Reader, i, j int, want model.Column) {
	t.Helper()
	info := r.SeriesAt(i).Columns[j]
	off := 0
	for k, b := range info.Blocks {
		if b.Count < 1 || off+b.Count > want.Len() {
			t.Fatalf("%q block %d: count %d at value %d of %d", info.Name, k, b.Count, off, want.Len())
		}
		part := want.Slice(off, off+b.Count)
		part.Name = want.Name
		off += b.Count
		var wantInfo BlockInfo
		if r.Version() == 1 {
			wantInfo = BlockInfo{Count: part.Len(), MinTime: part.Times[0], MaxTime: part.Times[part.Len()-1]}
		} else {
			wantInfo = naiveStats(part)
		}
		if !sameBlockInfo(&b, &wantInfo) {
			t.Errorf("%q block %d: got %+v, want %+v", info.Name, k, b, wantInfo)
		}
		got, err := r.ReadBlock(i, j, k)
		if err != nil {
			t.Fatalf("ReadBlock(%d, %d, %d): %v", i, j, k, err)
		}
		if err := columnsEqual(got, part); err != nil {
			t.Errorf("ReadBlock(%d, %d, %d): %v", i, j, k, err)
		}
	}
	if off != want.Len() {
		t.Errorf("%q: blocks hold %d values, want %d", info.Name, off, want.Len())
	}
}

// kindColumn returns a column of n values of the given kind at times
// start, start+step, ... with values from rng.
func kindColumn(rng *rand.Rand, name string, kind model.Kind, n int, start, step int64) model.Column {
	c := model.Column{Name: name, Kind: kind, Times: times(n, start, step)}
	for i := range n {
		switch kind {
		case model.KindFloat:
			c.Floats = append(c.Floats, math.Round(rng.NormFloat64()*1e4)/100)
		case model.KindInt:
			c.Ints = append(c.Ints, int64(i%17)-8)
		case model.KindUint:
			c.Uints = append(c.Uints, rng.Uint64()>>rng.Intn(64))
		case model.KindBool:
			c.Bools = append(c.Bools, rng.Intn(3) == 0)
		case model.KindString:
			c.Strings = append(c.Strings, fmt.Sprint("s", rng.Intn(5)))
		}
	}
	return c
}

var allKinds = []model.Kind{model.KindFloat, model.KindInt, model.KindUint, model.KindBool, model.KindString}

func TestBlockBoundaries(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for _, bs := range []int{1, 2, 7, DefaultBlockSize} {
		for _, n := range []int{1, bs - 1, bs, bs + 1, 2 * bs, 2*bs + 1, 3*bs - 1} {
			if n < 1 {
				continue
			}
			t.Run(fmt.Sprintf("bs=%d/n=%d", bs, n), func(t *testing.T) {
				var cols []model.Column
				for _, k := range allKinds {
					cols = append(cols, kindColumn(rng, k.String(), k, n, -int64(n), 3))
				}
				series := []SeriesData{{Tags: tags("host", "a"), Columns: cols}}
				path := filepath.Join(t.TempDir(), "f.col")
				opts := &WriteOptions{BlockSize: bs}
				if bs == DefaultBlockSize {
					opts = nil // the default
				}
				if _, err := WriteWith(path, "c", 0, 1, series, opts); err != nil {
					t.Fatal(err)
				}
				r := checkFile(t, path, "c", series)
				for _, c := range r.SeriesAt(0).Columns {
					if got, want := len(c.Blocks), (n+bs-1)/bs; got != want {
						t.Errorf("%s: %d values in blocks of %d: got %d blocks, want %d", c.Name, n, bs, got, want)
					}
					for k, b := range c.Blocks {
						if want := min(bs, n-k*bs); b.Count != want {
							t.Errorf("%s block %d: got count %d, want %d", c.Name, k, b.Count, want)
						}
					}
				}
			})
		}
	}
}

// TestStats checks the statistics of hand-picked awkward blocks; random
// blocks of every kind are covered by checkBlocks in TestRandomRoundTrip.
func TestStats(t *testing.T) {
	nan := math.NaN()
	negZero := math.Copysign(0, -1)
	tests := []struct {
		name     string
		col      model.Column
		min, max model.Value
	}{
		{"all NaN", fcol("f", times(3, 0, 1), nan, nan, nan), model.Float(nan), model.Float(nan)},
		{"NaN first", fcol("f", times(3, 0, 1), nan, 2, 1), model.Float(1), model.Float(2)},
		{"NaN last", fcol("f", times(3, 0, 1), 2, 1, nan), model.Float(1), model.Float(2)},
		{"zeros", fcol("f", times(4, 0, 1), 0, negZero, 0, negZero), model.Float(negZero), model.Float(0)},
		{"infinities", fcol("f", times(3, 0, 1), math.Inf(1), math.Inf(-1), nan), model.Float(math.Inf(-1)), model.Float(math.Inf(1))},
		{"int wrap", icol("i", times(3, 0, 1), math.MaxInt64, 1, math.MinInt64), model.Int(math.MinInt64), model.Int(math.MaxInt64)},
		{"uint wrap", ucol("u", times(2, 0, 1), math.MaxUint64, 2), model.Uint(2), model.Uint(math.MaxUint64)},
		{"bool", bcol("b", times(3, 0, 1), false, true, true), model.Null, model.Null},
		{"string", scol("s", times(3, 0, 1), "z", "", "a"), model.Null, model.Null},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := blockStats(&tc.col)
			want := naiveStats(tc.col)
			if !sameBlockInfo(&got, &want) {
				t.Errorf("blockStats: got %+v, naive %+v", got, want)
			}
			if !got.Min.Equal(tc.min) || !got.Max.Equal(tc.max) {
				t.Errorf("min, max: got %v, %v, want %v, %v", got.Min, got.Max, tc.min, tc.max)
			}
			path := filepath.Join(t.TempDir(), "f.col")
			series := []SeriesData{{Columns: []model.Column{tc.col}}}
			if _, err := Write(path, "c", 0, 1, series); err != nil {
				t.Fatal(err)
			}
			checkFile(t, path, "c", series)
		})
	}
	sums := []struct {
		col  model.Column
		want BlockInfo
	}{
		{icol("i", times(3, 0, 1), math.MaxInt64, 1, 1), BlockInfo{SumInt: math.MinInt64 + 1}},
		{ucol("u", times(2, 0, 1), math.MaxUint64, 2), BlockInfo{SumUint: 1}},
		{fcol("f", times(3, 0, 1), 0.1, 0.2, 0.3), BlockInfo{SumFloat: 0.6000000000000001}}, // (0.1+0.2)+0.3 in float64
	}
	for _, tc := range sums {
		got := blockStats(&tc.col)
		if got.SumInt != tc.want.SumInt || got.SumUint != tc.want.SumUint || got.SumFloat != tc.want.SumFloat {
			t.Errorf("%s sums: got %d %d %g, want %d %d %g", tc.col.Name, got.SumInt, got.SumUint, got.SumFloat, tc.want.SumInt, tc.want.SumUint, tc.want.SumFloat)
		}
	}
}

func TestReadRange(t *testing.T) {
	for seed := range int64(20) {
		rng := rand.New(rand.NewSource(seed))
		series := randomSeries(rng)
		bs := 1 + rng.Intn(60)
		path := filepath.Join(t.TempDir(), "f.col")
		if _, err := WriteWith(path, "c", 0, 1, series, &WriteOptions{BlockSize: bs}); err != nil {
			t.Fatal(err)
		}
		r, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		decodes := 0
		r.onDecode = func(_, _, _ int) { decodes++ }
		for _, in := range series {
			st := append(model.Tags(nil), in.Tags...)
			st.Sort()
			i, ok := r.Find(model.SeriesKey("c", st))
			if !ok {
				t.Fatalf("seed %d: series %v missing", seed, st)
			}
			for _, want := range in.Columns {
				j := slices.IndexFunc(r.SeriesAt(i).Columns, func(c ColumnInfo) bool { return c.Name == want.Name })
				for _, rg := range rangesFor(rng, want.Times, bs) {
					decodes = 0
					got, err := r.ReadRange(i, j, rg[0], rg[1])
					if err != nil {
						t.Fatalf("seed %d: ReadRange(%d, %d, %d, %d): %v", seed, i, j, rg[0], rg[1], err)
					}
					wantPart := naiveRange(want, rg[0], rg[1])
					if err := columnsEqual(got, wantPart); err != nil {
						t.Fatalf("seed %d: ReadRange(%d, %d, %d, %d): %v", seed, i, j, rg[0], rg[1], err)
					}
					if w := overlappingBlocks(want.Times, bs, rg[0], rg[1]); decodes != w {
						t.Fatalf("seed %d: ReadRange(%d, %d, %d, %d) with blocks of %d: decoded %d blocks, want %d", seed, i, j, rg[0], rg[1], bs, decodes, w)
					}
				}
			}
		}
		_ = r.Close()
	}
}

// rangesFor returns interesting [min, max] ranges for a column's times cut
// into blocks of bs: around existing times, between blocks, before and
// after all data, empty and everything.
func rangesFor(rng *rand.Rand, ts []int64, bs int) [][2]int64 {
	first, last := ts[0], ts[len(ts)-1]
	out := [][2]int64{
		{math.MinInt64, math.MaxInt64},
		{first, last},
		{last, first},
		{math.MinInt64, first},
		{last, math.MaxInt64},
	}
	if first > math.MinInt64 {
		out = append(out, [2]int64{math.MinInt64, first - 1}, [2]int64{first - 1, first - 1})
	}
	if last < math.MaxInt64 {
		out = append(out, [2]int64{last + 1, math.MaxInt64})
	}
	// Ranges inside the gap between two blocks.
	for k := bs; k < len(ts); k += bs {
		if ts[k]-ts[k-1] > 1 {
			mid := ts[k-1] + (ts[k]-ts[k-1])/2
			out = append(out, [2]int64{ts[k-1] + 1, ts[k] - 1}, [2]int64{mid, mid}, [2]int64{ts[k-1], mid}, [2]int64{mid, ts[k]})
		}
	}
	for range 20 {
		a, b := ts[rng.Intn(len(ts))], ts[rng.Intn(len(ts))]
		a += int64(rng.Intn(3) - 1)
		b += int64(rng.Intn(3) - 1)
		if a > b && rng.Intn(4) != 0 {
			a, b = b, a
		}
		out = append(out, [2]int64{a, b})
	}
	return out
}

// naiveRange returns the values of c with times in [lo, hi].
func naiveRange(c model.Column, lo, hi int64) model.Column {
	out := model.Column{Name: c.Name, Kind: c.Kind}
	for i, t := range c.Times {
		if t >= lo && t <= hi {
			out.Append(t, c.Value(i))
		}
	}
	return out
}

// overlappingBlocks counts the blocks of bs values of ts that hold a time
// in [lo, hi] or span across it.
func overlappingBlocks(ts []int64, bs int, lo, hi int64) int {
	n := 0
	for k := 0; k < len(ts); k += bs {
		first, last := ts[k], ts[min(k+bs, len(ts))-1]
		if lo <= hi && first <= hi && last >= lo {
			n++
		}
	}
	return n
}

func TestReadBlockOutOfRange(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f.col")
	if _, err := WriteWith(path, "c", 0, 1, []SeriesData{{Columns: []model.Column{icol("x", []int64{1, 2, 3}, 1, 2, 3)}}}, &WriteOptions{BlockSize: 2}); err != nil {
		t.Fatal(err)
	}
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for _, in := range [][3]int{{0, 0, -1}, {0, 0, 2}, {1, 0, 0}, {0, 1, 0}, {-1, 0, 0}} {
		_, err := r.ReadBlock(in[0], in[1], in[2])
		if err == nil || errors.Is(err, ErrCorrupt) {
			t.Errorf("ReadBlock(%d, %d, %d): got %v, want a non-corruption error", in[0], in[1], in[2], err)
		}
	}
	if _, err := r.ReadRange(1, 0, 0, 10); err == nil || errors.Is(err, ErrCorrupt) {
		t.Errorf("ReadRange of a missing series: got %v, want a non-corruption error", err)
	}
}

func TestBlockCorruption(t *testing.T) {
	series := []SeriesData{{Tags: tags("host", "a"), Columns: []model.Column{
		icol("a", times(10, 0, 10), 1, 2, 3, 4, 5, 6, 7, 8, 9, 10),
		fcol("b", times(10, 0, 10), 1, 2, 3, 4, 5, 6, 7, 8, 9, 10),
	}}}
	path := filepath.Join(t.TempDir(), "f.col")
	if _, err := WriteWith(path, "cpu", 0, 1, series, &WriteOptions{BlockSize: 3}); err != nil {
		t.Fatal(err)
	}
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	ref := r.blockRefs()[0][1][2]
	_ = r.Close()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[ref.off+ref.length-1] ^= 0x01
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}

	r, err = Open(path)
	if err != nil {
		t.Fatalf("Open after damaging a block: %v, want success", err)
	}
	defer r.Close()
	_, err = r.ReadColumn(0, 1)
	var ce *CorruptionError
	if !errors.Is(err, ErrCorrupt) || !errors.As(err, &ce) || ce.Path != path || ce.Offset != ref.off {
		t.Fatalf("ReadColumn: got %v, want a CorruptionError for %s at offset %d", err, path, ref.off)
	}
	for _, s := range []string{path, `series "cpu,host=a"`, `column "b"`, "block 2"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not name %q", err, s)
		}
	}
	if _, err := r.ReadBlock(0, 1, 2); !errors.Is(err, ErrCorrupt) {
		t.Errorf("ReadBlock of the damaged block: got %v, want ErrCorrupt", err)
	}
	for _, k := range []int{0, 1, 3} {
		if _, err := r.ReadBlock(0, 1, k); err != nil {
			t.Errorf("ReadBlock(0, 1, %d) of an intact block: %v", k, err)
		}
	}
	if _, err := r.ReadRange(0, 1, 0, 50); err != nil {
		t.Errorf("ReadRange over blocks 0 and 1 only: %v", err)
	}
	if _, err := r.ReadRange(0, 1, 55, 65); !errors.Is(err, ErrCorrupt) {
		t.Errorf("ReadRange touching block 2: got %v, want ErrCorrupt", err)
	}
	if _, err := r.ReadColumn(0, 0); err != nil {
		t.Errorf("ReadColumn of the intact column: %v", err)
	}
}

// rewriteIndex replaces the index of the colfile at path with f(index) and
// fixes the footer, so that the result passes every checksum.
func rewriteIndex(t *testing.T, path string, f func(idx []byte) []byte) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	foot := b[len(b)-FooterSize:]
	idxOff := binary.LittleEndian.Uint64(foot)
	idx := append([]byte(nil), b[idxOff:len(b)-FooterSize]...)
	v3 := binary.LittleEndian.Uint16(b[8:]) >= 3
	if v3 {
		if idx, err = indexBody(idx); err != nil {
			t.Fatal(err)
		}
	}
	idx = f(idx)
	if v3 {
		idx = storedIndex(idx)
	}
	out := append(b[:idxOff:idxOff], idx...)
	var nf [FooterSize]byte
	binary.LittleEndian.PutUint64(nf[0:], idxOff)
	binary.LittleEndian.PutUint64(nf[8:], uint64(len(idx)))
	binary.LittleEndian.PutUint32(nf[16:], checksum(idx))
	binary.LittleEndian.PutUint32(nf[20:], checksum(nf[:20]))
	copy(nf[24:], Magic)
	if err := os.WriteFile(path, append(out, nf[:]...), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestIndexRejects checks that an index whose checksums are right but whose
// content is inconsistent is refused by Open, or, where only the block can
// tell, by the block read.
func TestIndexRejects(t *testing.T) {
	// One int column "x" at times 10 and 20 holding 1 and 1000000, in two
	// blocks, so the index ends with the two block entries
	//
	//	count 1, times from 0, min time 10, span 0, length L0, stats 1 1 1 1 1
	//	count 1, times from 0, gap 10, span 0, length L1, stats 1e6 ×5
	write := func(t *testing.T) (string, []byte) {
		path := filepath.Join(t.TempDir(), "f.col")
		if _, err := WriteWith(path, "c", 0, 1, []SeriesData{{Columns: []model.Column{icol("x", []int64{10, 20}, 1, 1_000_000)}}},
			&WriteOptions{BlockSize: 1}); err != nil {
			t.Fatal(err)
		}
		r, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		var tail []byte
		for k, ref := range r.blockRefs()[0][0] {
			v := int64(1)
			if k == 1 {
				v = 1_000_000
			}
			tail = binary.AppendUvarint(tail, 1)
			tail = binary.AppendUvarint(tail, 0)
			if k == 0 {
				tail = binary.AppendVarint(tail, 10)
			} else {
				tail = binary.AppendUvarint(tail, 10)
			}
			tail = binary.AppendUvarint(tail, 0)
			tail = binary.AppendUvarint(tail, uint64(ref.length))
			for range 5 {
				tail = binary.AppendVarint(tail, v)
			}
		}
		return path, tail
	}
	// replaceTail swaps the expected tail of the index for another.
	replaceTail := func(t *testing.T, oldTail, newTail []byte) func([]byte) []byte {
		return func(idx []byte) []byte {
			if !strings.HasSuffix(string(idx), string(oldTail)) {
				t.Fatalf("index %x does not end with %x", idx, oldTail)
			}
			return append(idx[:len(idx)-len(oldTail)], newTail...)
		}
	}
	big := binary.AppendVarint(nil, 1_000_000)
	tests := []struct {
		name    string
		edit    func(tail []byte) []byte
		atRead  bool // Open succeeds, reading the column fails
		errHave string
	}{
		{"trailing byte", func(b []byte) []byte { return append(b, 0) }, false, "trailing"},
		{"gap zero", func(b []byte) []byte { return replaceOnce(b, []byte{1, 0, 10, 0}, []byte{1, 0, 0, 0}) }, false, "gap 0"},
		{"count zero", func(b []byte) []byte { return replaceOnce(b, []byte{1, 0, 20, 0}, []byte{0, 0, 20, 0}) }, false, "count 0"},
		{"span too short", func(b []byte) []byte { return replaceOnce(b, []byte{1, 0, 20, 0}, []byte{2, 0, 20, 0}) }, false, "unique times"},
		{"span without count", func(b []byte) []byte { return replaceOnce(b, []byte{1, 0, 20, 0}, []byte{1, 0, 20, 1}) }, false, "unique times"},
		{"min above max", func(b []byte) []byte {
			return replaceOnce(b, slices.Concat(big, big, big, big), slices.Concat(big, big, binary.AppendVarint(nil, 1_000_001), big))
		}, false, "impossible statistics"},
		{"wrong sum", func(b []byte) []byte {
			return replaceOnce(b, slices.Concat(big, big, big, big, big), slices.Concat(big, big, big, big, binary.AppendVarint(nil, 999_999)))
		}, true, "statistics"},
		{"wrong first", func(b []byte) []byte {
			return replaceOnce(b, []byte{2, 2, 2, 2, 2}, []byte{0, 2, 0, 2, 2})
		}, true, "statistics"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path, tail := write(t)
			rewriteIndex(t, path, replaceTail(t, tail, tc.edit(append([]byte(nil), tail...))))
			err := openAndReadAll(path)
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

// replaceOnce replaces the only occurrence of old in b by new, panicking
// if old does not occur exactly once.
func replaceOnce(b, old, new []byte) []byte {
	if n := strings.Count(string(b), string(old)); n != 1 {
		panic(fmt.Sprintf("%x occurs %d times in %x", old, n, b))
	}
	return []byte(strings.Replace(string(b), string(old), string(new), 1))
}

func TestReplaces(t *testing.T) {
	dir := t.TempDir()
	series := []SeriesData{{Columns: []model.Column{icol("x", []int64{1}, 1)}}}
	tests := []struct {
		name string
		in   []uint64
		want []uint64
		err  string
	}{
		{"flush", nil, nil, ""},
		{"empty", []uint64{}, nil, ""},
		{"sorted and deduplicated", []uint64{9, 3, 3, 0, math.MaxUint64, 5}, []uint64{0, 3, 5, 9, math.MaxUint64}, ""},
		{"adjacent", []uint64{4, 5, 6}, []uint64{4, 5, 6}, ""},
		{"itself", []uint64{3, 10}, nil, "cannot replace itself"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.name+".col")
			in := slices.Clone(tc.in)
			meta, err := WriteWith(path, "c", 0, 10, series, &WriteOptions{Replaces: in})
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("WriteWith(Replaces %v): got %v, want error containing %q", tc.in, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(in, tc.in) {
				t.Errorf("WriteWith modified Replaces: got %v, want %v", in, tc.in)
			}
			if !slices.Equal(meta.Replaces, tc.want) {
				t.Errorf("WriteWith(Replaces %v): got meta.Replaces %v, want %v", tc.in, meta.Replaces, tc.want)
			}
			r, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if got := r.Meta(); !sameMeta(got, meta) {
				t.Errorf("Open meta: got %+v, want %+v", got, meta)
			}
		})
	}
}

func TestWriteOptionsRejects(t *testing.T) {
	series := []SeriesData{{Columns: []model.Column{icol("x", []int64{1}, 1)}}}
	for _, bs := range []int{-1, MaxBlockSize + 1} {
		path := filepath.Join(t.TempDir(), "f.col")
		if _, err := WriteWith(path, "c", 0, 1, series, &WriteOptions{BlockSize: bs}); err == nil || !strings.Contains(err.Error(), "block size") {
			t.Errorf("BlockSize %d: got %v, want a block size error", bs, err)
		}
		if _, err := os.Stat(path); !os.IsNotExist(err) {
			t.Errorf("BlockSize %d: file exists after failed write", bs)
		}
	}
}

// TestDecodeBlockRejects feeds malformed version 2 blocks to decodeBlock.
func TestDecodeBlockRejects(t *testing.T) {
	var enc blockEncoder
	valid := append([]byte(nil), enc.encode(&model.Column{Kind: model.KindInt, Times: []int64{1, 2, 3}, Ints: []int64{4, 5, 6}}, false, nil)...)
	body := append([]byte{blockRaw}, valid[1:]...)
	if valid[0] == blockSnappy {
		b, err := unsnappy(valid[1:])
		if err != nil {
			t.Fatal(err)
		}
		body = append([]byte{blockRaw}, b...)
	}
	tests := []struct {
		name   string
		stored []byte
		kind   model.Kind
		count  int
	}{
		{"empty", nil, model.KindInt, 3},
		{"unknown flag", append([]byte{7}, body[1:]...), model.KindInt, 3},
		{"bad snappy", append([]byte{blockSnappy}, body[1:]...), model.KindInt, 3},
		{"count mismatch", body, model.KindInt, 2},
		{"count too large", body, model.KindInt, MaxBlockSize + 1},
		{"count zero", body, model.KindInt, 0},
		{"wrong kind", body, model.KindString, 3},
		{"trailing byte", append(slices.Clone(body), 0), model.KindInt, 3},
		{"short", body[:len(body)-1], model.KindInt, 3},
		{"times length too long", []byte{blockRaw, 0x7f, 1}, model.KindInt, 1},
	}
	for _, tc := range tests {
		col := model.Column{Kind: tc.kind}
		if err := decodeBlock(&col, tc.stored, tc.count); err == nil {
			t.Errorf("%s: decodeBlock(%x, %s, %d): got nil error, want one", tc.name, tc.stored, tc.kind, tc.count)
		}
	}
	col := model.Column{Kind: model.KindInt}
	if err := decodeBlock(&col, body, 3); err != nil {
		t.Fatalf("decodeBlock of the valid raw body: %v", err)
	}
}

// TestSnappyOnlyWhenSmaller checks that the writer stores a body raw when
// snappy does not shrink it, and compressed when it does.
func TestSnappyOnlyWhenSmaller(t *testing.T) {
	rng := rand.New(rand.NewSource(5))
	noise := make([]string, 50)
	for i := range noise {
		b := make([]byte, 32)
		rng.Read(b)
		noise[i] = string(b)
	}
	repetitive := make([]string, 50)
	for i := range repetitive {
		repetitive[i] = strings.Repeat("abcdefgh", 8) + fmt.Sprint(i)
	}
	tests := []struct {
		name string
		col  model.Column
		flag byte
	}{
		{"random strings", scol("s", times(50, 0, 1), noise...), blockRaw},
		{"repetitive strings", scol("s", times(50, 0, 1), repetitive...), blockSnappy},
	}
	for _, tc := range tests {
		var enc blockEncoder
		stored := enc.encode(&tc.col, false, nil)
		if stored[0] != tc.flag {
			t.Errorf("%s: got flag %d, want %d", tc.name, stored[0], tc.flag)
		}
		col := model.Column{Kind: tc.col.Kind}
		if err := decodeBlock(&col, stored, tc.col.Len()); err != nil {
			t.Fatalf("%s: decode: %v", tc.name, err)
		}
		col.Name = tc.col.Name
		if err := columnsEqual(col, tc.col); err != nil {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}

// TestReadColumnPreallocation checks that ReadColumn returns the same values
// whether or not it sizes the result in advance (the highly compressible
// constant column below exceeds maxValuesPerStoredByte).
func TestReadColumnPreallocation(t *testing.T) {
	const n = 20_000
	series := []SeriesData{{Columns: []model.Column{
		icol("const", times(n, 0, 10), make([]int64, n)...),
		kindColumn(rand.New(rand.NewSource(1)), "noisy", model.KindUint, n, 0, 10),
	}}}
	path := filepath.Join(t.TempDir(), "f.col")
	if _, err := Write(path, "c", 0, 1, series); err != nil {
		t.Fatal(err)
	}
	checkFile(t, path, "c", series)
}

func TestOpenV1Blocks(t *testing.T) {
	r, err := Open(goldenV1Path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.Version() != 1 {
		t.Fatalf("Version: got %d, want 1", r.Version())
	}
	for _, s := range r.AllSeries() {
		for _, c := range s.Columns {
			if len(c.Blocks) != 1 {
				t.Fatalf("%s %s: got %d blocks, want 1", s.Key, c.Name, len(c.Blocks))
			}
			want := BlockInfo{Count: c.Count, MinTime: c.MinTime, MaxTime: c.MaxTime}
			if b := c.Blocks[0]; !sameBlockInfo(&b, &want) {
				t.Errorf("%s %s: got %+v, want %+v", s.Key, c.Name, b, want)
			}
		}
	}
	if got := r.Meta().Replaces; got != nil {
		t.Errorf("version 1 Replaces: got %v, want nil", got)
	}
}

// fileIndex returns the index of the colfile b, decompressed when stored
// compressed (version 3).
func fileIndex(t *testing.T, b []byte) []byte {
	t.Helper()
	idx := b[binary.LittleEndian.Uint64(b[len(b)-FooterSize:]) : len(b)-FooterSize]
	if binary.LittleEndian.Uint16(b[8:]) < 3 {
		return idx
	}
	idx, err := indexBody(idx)
	if err != nil {
		t.Fatal(err)
	}
	return idx
}

// TestIndexBodyRejects checks the stored forms of a version 3 index that
// must not open: they get a corruption error, not a panic or a huge
// allocation.
func TestIndexBodyRejects(t *testing.T) {
	good := storedIndex(bytes.Repeat([]byte("series index "), 40))
	if good[0] != indexSnappy {
		t.Fatalf("a repetitive index was stored with flag %d", good[0])
	}
	for _, tc := range []struct {
		name   string
		stored []byte
		want   string
	}{
		{"empty", nil, "no flag byte"},
		{"unknown flag", []byte{7, 1, 2}, "flag 7"},
		{"bad snappy", []byte{indexSnappy, 0x05, 0xff, 0xff}, "snappy"},
		{"length bomb", append([]byte{indexSnappy}, binary.AppendUvarint(nil, 1<<30)...), "snappy claims"},
		{"truncated", good[:len(good)-3], "snappy"},
	} {
		if _, err := indexBody(tc.stored); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error mentioning %q", tc.name, err, tc.want)
		}
	}
	// Through Open, with the checksums right.
	path := filepath.Join(t.TempDir(), "f.col")
	if _, err := WriteWith(path, "c", 0, 1, []SeriesData{{Columns: []model.Column{icol("x", []int64{1, 2}, 5, 6)}}}, nil); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	foot := b[len(b)-FooterSize:]
	idxOff := binary.LittleEndian.Uint64(foot)
	bad := append(b[:idxOff:idxOff], 9)
	var nf [FooterSize]byte
	binary.LittleEndian.PutUint64(nf[0:], idxOff)
	binary.LittleEndian.PutUint64(nf[8:], 1)
	binary.LittleEndian.PutUint32(nf[16:], checksum([]byte{9}))
	binary.LittleEndian.PutUint32(nf[20:], checksum(nf[:20]))
	copy(nf[24:], Magic)
	if err := os.WriteFile(path, append(bad, nf[:]...), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(path); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "index: flag 9") {
		t.Errorf("Open: got %v, want a corruption error about the index flag", err)
	}
}
