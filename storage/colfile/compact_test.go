package colfile

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/soltixdb/soltix/model"
)

// gappyColumn returns a float column of the times of base for which keep
// returns true, with short decimal values.
func gappyColumn(name string, base []int64, keep func(i int) bool) model.Column {
	c := model.Column{Name: name, Kind: model.KindFloat}
	for i, t := range base {
		if keep(i) {
			c.Append(t, model.Float(float64(4500000+i%977)/1e5))
		}
	}
	return c
}

// jitteredTimes returns n times 10 s apart with up to a second of jitter.
func jitteredTimes(rng *rand.Rand, n int) []int64 {
	ts := make([]int64, n)
	for i := range ts {
		ts[i] = 1_700_000_000_000_000_000 + int64(i)*10_000_000_000 + rng.Int63n(1000)*1_000_000
	}
	return ts
}

// TestSparseSubsets writes columns holding subsets of a series' fullest
// column's times, checks that they read back exactly, and that every
// block takes the sparse selection exactly when it is smaller than the
// bitmap, in the form the case expects.
func TestSparseSubsets(t *testing.T) {
	rng := rand.New(rand.NewSource(12))
	base := jitteredTimes(rng, 2500)
	missing := make([]bool, len(base))
	for i := range missing {
		missing[i] = rng.Intn(100) < 3
	}
	tests := []struct {
		name string
		keep func(i int) bool
		bs   int
		want string // per block: 'a' absent list, 'p' present list, 'e' empty list, 'b' bitmap
	}{
		{"3% missing", func(i int) bool { return !missing[i] || i == 0 }, 1000, "aaa"},
		{"one missing", func(i int) bool { return i != 1234 }, 1000, "eae"},
		{"3% present", func(i int) bool { return missing[i] || i%1000 == 0 }, 1000, "ppp"},
		{"half missing", func(i int) bool { return rng.Intn(2) == 0 || i%1000 == 0 }, 1000, "bbb"},
		{"small blocks", func(i int) bool { return !missing[i] || i%8 == 0 }, 8, strings.Repeat("?", (len(base)+7)/8)},
		{"regular gaps", func(i int) bool { return i%10 != 3 }, 500, "aaaaa"},
		{"some blocks full", func(i int) bool { return i < 1000 || rng.Intn(2) == 0 || i%500 == 0 }, 500, "eebbb"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			full := gappyColumn("full", base, func(int) bool { return true })
			part := gappyColumn("part", base, tc.keep)
			series := []SeriesData{{Tags: tags("truck", "a"), Columns: []model.Column{full, part}}}
			path := filepath.Join(t.TempDir(), "f.col")
			if _, err := WriteWith(path, "c", 0, 1, series, &WriteOptions{BlockSize: tc.bs}); err != nil {
				t.Fatal(err)
			}
			r := checkFile(t, path, "c", series)
			var got []byte
			var enc blockEncoder
			lo := 0
			for k, ref := range r.blockRefs()[0][1] {
				if !ref.subset || ref.timesFrom != 1 {
					t.Fatalf("block %d: times from %d, subset %v; want a subset of column 0", k, ref.timesFrom, ref.subset)
				}
				all := base[k*tc.bs : min((k+1)*tc.bs, len(base))]
				n := r.SeriesAt(0).Columns[1].Blocks[k].Count
				ts := part.Times[lo : lo+n]
				lo += n
				bitmap := subsetBitmap(nil, all, ts)
				sparse, _ := appendSparse(nil, nil, all, ts)
				if ref.sparse != (len(sparse) < len(bitmap)) {
					t.Errorf("block %d: sparse %v with a %d-byte sparse selection and a %d-byte bitmap", k, ref.sparse, len(sparse), len(bitmap))
				}
				if sel, sp := enc.subsetSelection(all, ts); sp != ref.sparse || len(sel) != min(len(sparse), len(bitmap)) {
					t.Errorf("block %d: subsetSelection gives %d bytes, sparse %v", k, len(sel), sp)
				}
				switch {
				case !ref.sparse:
					got = append(got, 'b')
				case n == len(all):
					got = append(got, 'e')
				case listsAbsent(n, len(all)):
					got = append(got, 'a')
				default:
					got = append(got, 'p')
				}
			}
			if want := strings.ReplaceAll(tc.want, "?", ""); want != "" && string(got) != tc.want {
				t.Errorf("selections %q, want %q", got, tc.want)
			}
		})
	}
}

// TestSparseSubsetsSmaller: with 3% of readings missing, the sparse
// selection costs a fraction of the bitmap's bit per value (about a
// third: some 10 bits per missing reading).
func TestSparseSubsetsSmaller(t *testing.T) {
	rng := rand.New(rand.NewSource(13))
	base := jitteredTimes(rng, 20_000)
	all := base[:1000]
	var ts []int64
	for _, t := range all {
		if rng.Intn(100) >= 3 {
			ts = append(ts, t)
		}
	}
	sparse, _ := appendSparse(nil, nil, all, ts)
	bitmap := subsetBitmap(nil, all, ts)
	t.Logf("%d of %d times: sparse selection %d bytes, bitmap %d bytes", len(ts), len(all), len(sparse), len(bitmap))
	if len(sparse)*2 > len(bitmap) {
		t.Errorf("sparse selection of %d bytes, more than half the %d-byte bitmap", len(sparse), len(bitmap))
	}
}

// TestDecodeSubsetBlockRejects feeds malformed subset blocks to
// decodeSubsetBlock: each must fail with an error saying what is wrong,
// and leave no times behind.
func TestDecodeSubsetBlockRejects(t *testing.T) {
	all := times(100, 1000, 10)
	c := model.Column{Kind: model.KindInt}
	for i, tm := range all {
		if i != 7 && i != 50 {
			c.Append(tm, model.Int(int64(i)))
		}
	}
	values := appendValues(nil, &c, false)
	// block returns a raw stored block: a selection and the values.
	block := func(sel []byte) []byte { return slices.Concat([]byte{blockRaw}, sel, values) }
	// sparse returns a sparse selection listing gaps.
	sparse := func(gaps ...uint64) []byte {
		enc := appendGaps(nil, gaps)
		return append(binary.AppendUvarint(nil, uint64(len(enc))), enc...)
	}
	valid := block(sparse(7, 42))
	if got, _ := appendSparse(nil, nil, all, c.Times); !bytes.Equal(block(got), valid) {
		t.Fatalf("appendSparse gives %x, want %x", got, valid[1:len(valid)-len(values)])
	}
	tests := []struct {
		name    string
		stored  []byte
		count   int
		sparse  bool
		errHave string
	}{
		{"valid", valid, 98, true, ""},
		{"valid bitmap", block(subsetBitmap(nil, all, c.Times)), 98, false, ""},
		{"truncated gap stream", slices.Concat([]byte{blockRaw}, sparse(7, 42)[:3]), 98, true, "sparse selection length"},
		{"gap stream cut short", slices.Concat([]byte{blockRaw, 2}, sparse(7, 42)[1:3], values), 98, true, "sparse selection"},
		{"position out of range", block(sparse(7, 92)), 98, true, "goes past the 100 times"},
		{"position at the end", block(sparse(7, 92-1)), 98, true, ""},
		{"huge gap", block(sparse(7, math.MaxUint64)), 98, true, "goes past the 100 times"},
		{"too few positions", block(sparse(7)), 98, true, "lists 1 positions, the counts in the index need 2"},
		{"too many positions", block(sparse(7, 1, 1)), 98, true, "lists 3 positions"},
		{"count says more", valid, 99, true, "lists 2 positions, the counts in the index need 1"},
		{"count above the owner's", valid, 101, true, "a subset of 100 times, index says 101"},
		{"count zero", valid, 0, true, "count 0"},
		{"empty list with bytes", block(sparse(7)), 100, true, "lists no position"},
		{"no body", []byte{blockRaw}, 98, true, "sparse selection length"},
		{"bad flag", append([]byte{7}, valid[1:]...), 98, true, "unknown block flag"},
		{"bitmap too short", []byte{blockRaw, 0xff}, 98, false, "subset bitmap of 13 bytes"},
		{"bitmap count mismatch", block(subsetBitmap(nil, all, c.Times)), 97, false, "selects 98 times, index says 97"},
		{"values count mismatch", block(sparse(7)), 99, true, "98 integer values, index says 99"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			col := model.Column{Kind: model.KindInt, Times: []int64{1}, Ints: []int64{1}}
			err := decodeSubsetBlock(&col, tc.stored, tc.count, all, tc.sparse)
			if tc.errHave == "" {
				if err != nil {
					t.Fatalf("decodeSubsetBlock: %v", err)
				}
				if tc.name == "position at the end" {
					return
				}
				want := model.Column{Kind: model.KindInt, Times: []int64{1}, Ints: []int64{1}}
				appendColumn(&want, &c)
				if err := columnsEqual(col, want); err != nil {
					t.Errorf("decodeSubsetBlock: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.errHave) {
				t.Fatalf("decodeSubsetBlock: got %v, want an error mentioning %q", err, tc.errHave)
			}
			// A bad selection leaves col as it was (a bad value encoding
			// may leave times; the reader drops col on any error).
			if !strings.Contains(tc.errHave, "values") && (len(col.Times) != 1 || len(col.Ints) != 1) {
				t.Errorf("decodeSubsetBlock left %d times and %d values, want 1 of each", len(col.Times), len(col.Ints))
			}
		})
	}
}

// TestSparseSubsetDamaged damages the sparse selection of a block in a
// file (fixing its CRC): reading must fail with a CorruptionError naming
// the block and what is wrong, never return other data.
func TestSparseSubsetDamaged(t *testing.T) {
	rng := rand.New(rand.NewSource(14))
	base := jitteredTimes(rng, 300)
	series := []SeriesData{{Tags: tags("truck", "a"), Columns: []model.Column{
		gappyColumn("full", base, func(int) bool { return true }),
		gappyColumn("part", base, func(i int) bool { return i%97 != 5 }),
	}}}
	path := filepath.Join(t.TempDir(), "f.col")
	if _, err := WriteWith(path, "c", 0, 1, series, &WriteOptions{BlockSize: 50}); err != nil {
		t.Fatal(err)
	}
	// Block 2 of column "part" (times 100 to 149) misses time 102: its
	// selection lists the one gap 2.
	const k = 2
	r := checkFile(t, path, "c", series)
	ref := r.blockRefs()[0][1][k]
	if !ref.sparse {
		t.Fatalf("column part block %d: not sparse", k)
	}
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if orig[ref.off] != blockRaw {
		t.Fatalf("column part block %d: flag %d, want raw", k, orig[ref.off])
	}
	tests := []struct {
		name    string
		edit    func(body []byte) // body: the block's bytes after the flag
		errHave string
	}{
		{"selection length past the body", func(b []byte) { b[0] = 0x7f }, "sparse selection length"},
		{"selection length short", func(b []byte) { b[0]-- }, "sparse selection"},
		{"position out of range", func(b []byte) {
			enc := appendGaps(nil, []uint64{60})
			if len(enc) != int(b[0]) {
				t.Fatalf("replacement gap stream of %d bytes, original %d", len(enc), b[0])
			}
			copy(b[1:], enc)
		}, "goes past the 50 times"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			bad := slices.Clone(orig)
			tc.edit(bad[ref.off+1 : ref.off+ref.length])
			binary.LittleEndian.PutUint32(bad[ref.off+ref.length:], checksum(bad[ref.off:ref.off+ref.length]))
			badPath := filepath.Join(t.TempDir(), "bad.col")
			if err := os.WriteFile(badPath, bad, 0o644); err != nil {
				t.Fatal(err)
			}
			r, err := Open(badPath)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer r.Close()
			_, err = r.ReadColumn(0, 1)
			var ce *CorruptionError
			if !errors.As(err, &ce) || ce.Offset != ref.off {
				t.Fatalf("ReadColumn: got %v, want a CorruptionError at offset %d", err, ref.off)
			}
			for _, s := range []string{`column "part"`, "block 2", tc.errHave} {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not mention %q", err, s)
				}
			}
			if _, err := r.ReadBlock(0, 1, 0); err != nil {
				t.Errorf("ReadBlock of the intact block 0: %v", err)
			}
		})
	}
}

// awkwardFloats are values whose statistics stress the compact form.
var awkwardFloats = []float64{
	math.NaN(), math.Float64frombits(0x7ff8_0000_dead_beef), math.Float64frombits(0xfff0_0000_0000_0001),
	math.Copysign(0, -1), 0, math.Inf(1), math.Inf(-1),
	math.SmallestNonzeroFloat64, -math.SmallestNonzeroFloat64, 2.2250738585072014e-308, math.MaxFloat64, -math.MaxFloat64,
	0.1, 0.2, 0.30000000000000004, 1e-22, 1.5e-22, 9007199254740991, 9007199254740992, -9007199254740993,
	45.12345, -45.12345, 1e22, 1e23, 123456789.123456789, 1.0 / 3,
}

// TestCompactFloatStats checks that the compact statistics of float
// blocks decode to the same bits, whatever the values, and are smaller
// for short decimals.
func TestCompactFloatStats(t *testing.T) {
	tests := []struct {
		name   string
		vs     []float64
		maxLen int // the largest compact form expected
	}{
		{"decimals", []float64{45.12345, 45.12351, 45.12338, 45.1234}, 16},
		{"negative decimals", []float64{-3.5, -2.25, -7}, 12},
		{"integers", []float64{17, 18, 16, 20, 19}, 8},
		{"one value", []float64{20.5}, 9},
		{"zero", []float64{0}, 9},
		{"large integers", []float64{9007199254740991, 9007199254740990}, 41},
		{"small decimals", []float64{1e-22, 3e-22}, 41},
		{"NaN first", []float64{math.NaN(), 1.5, 2.5}, 41},
		{"NaN last", []float64{1.5, 2.5, math.NaN()}, 41},
		{"all NaN", []float64{math.NaN(), math.NaN()}, 41},
		{"negative zero first", []float64{math.Copysign(0, -1), 1, -1}, 41},
		{"negative zero min", []float64{math.Copysign(0, -1), 1}, 41},
		{"infinity", []float64{1, math.Inf(1)}, 41},
		{"subnormals", []float64{math.SmallestNonzeroFloat64, 5e-324 * 3}, 41},
		{"sum not a decimal", []float64{0.1, 0.2, 0.3}, 41},
		{"huge", []float64{math.MaxFloat64, -math.MaxFloat64}, 41},
		{"thirds", []float64{1.0 / 3, 2.0 / 3}, 41},
	}
	check := func(t *testing.T, b BlockInfo) []byte {
		t.Helper()
		enc := appendCompactFloats(nil, &b)
		d := decoder{b: enc}
		var got BlockInfo
		got.Count, got.MinTime, got.MaxTime = b.Count, b.MinTime, b.MaxTime
		// A plain entry reports min above max, which the encoder takes.
		if err := d.stats(model.KindFloat, &got, uint64(b.Count), true); d.err != nil || (err != nil && !(b.Min.Float() > b.Max.Float())) {
			t.Fatalf("decode %x: %v, %v", enc, err, d.err)
		}
		if d.off != len(enc) {
			t.Errorf("decode %x: %d bytes left", enc, len(enc)-d.off)
		}
		if !sameBlockInfo(&got, &b) {
			t.Errorf("compact statistics %x: got %+v, want %+v", enc, got, b)
		}
		return enc
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := fcol("f", times(len(tc.vs), 0, 1), tc.vs...)
			enc := check(t, blockStats(&c))
			if len(enc) > tc.maxLen {
				t.Errorf("compact statistics of %v: %d bytes %x, want at most %d", tc.vs, len(enc), enc, tc.maxLen)
			}
			path := filepath.Join(t.TempDir(), "f.col")
			series := []SeriesData{{Columns: []model.Column{c}}}
			if _, err := Write(path, "c", 0, 1, series); err != nil {
				t.Fatal(err)
			}
			checkFile(t, path, "c", series)
		})
	}
	// Every combination of awkward values as first, last, min, max and
	// sum, consistent or not: the codec must not rely on the statistics
	// being those of a block.
	t.Run("awkward", func(t *testing.T) {
		rng := rand.New(rand.NewSource(15))
		pick := func() float64 { return awkwardFloats[rng.Intn(len(awkwardFloats))] }
		for range 20000 {
			b := BlockInfo{Count: 1 + rng.Intn(MaxBlockSize), Stats: true,
				First: model.Float(pick()), Last: model.Float(pick()), Min: model.Float(pick()), Max: model.Float(pick()), SumFloat: pick()}
			if rng.Intn(2) == 0 {
				lo := math.Min(b.Min.Float(), b.Max.Float())
				b.Min, b.First = model.Float(lo), model.Float(lo)
			}
			check(t, b)
		}
	})
	t.Run("random bits", func(t *testing.T) {
		rng := rand.New(rand.NewSource(16))
		for range 20000 {
			f := func() float64 { return math.Float64frombits(rng.Uint64()) }
			check(t, BlockInfo{Count: 1 + rng.Intn(1000), Stats: true, First: model.Float(f()), Last: model.Float(f()), Min: model.Float(f()), Max: model.Float(f()), SumFloat: f()})
		}
	})
}

// indexKind returns the kind byte of the column entry named name in the
// index of the file at path, which must occur once with one of the kind
// bytes kinds.
func indexKind(t *testing.T, path, name string, kinds ...byte) byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	idx := fileIndex(t, b)
	found := -1
	for _, k := range kinds {
		if n := bytes.Count(idx, append(appendString(nil, name), k)); n > 1 || (n == 1 && found >= 0) {
			t.Fatalf("column %q: several column entries", name)
		} else if n == 1 {
			found = int(k)
		}
	}
	if found < 0 {
		t.Fatalf("column %q with one of the kinds %x not found in the index", name, kinds)
	}
	return byte(found)
}

// TestCompactFloatStatsChosen checks that the writer gives a float column
// compact statistics exactly when they are smaller than the plain ones,
// never to other kinds or to columns without statistics.
func TestCompactFloatStatsChosen(t *testing.T) {
	rng := rand.New(rand.NewSource(17))
	noise := make([]float64, 50)
	for i := range noise {
		noise[i] = rng.NormFloat64()
	}
	decimals := make([]float64, 50)
	for i := range decimals {
		decimals[i] = float64(rng.Intn(100000)) / 100
	}
	mixed := slices.Clone(decimals)
	mixed[3] = math.NaN() // one block's sum, and its first or last, as f64
	tests := []struct {
		name    string
		col     model.Column
		noStats bool
		want    byte
	}{
		{"decimals", fcol("f", times(50, 0, 1), decimals...), false, byte(model.KindFloat) | kindCompactFloats},
		{"decimals with a NaN", fcol("f", times(50, 0, 1), mixed...), false, byte(model.KindFloat) | kindCompactFloats},
		{"noise", fcol("f", times(50, 0, 1), noise...), false, byte(model.KindFloat)},
		{"decimals without statistics", fcol("f", times(50, 0, 1), decimals...), true, byte(model.KindFloat) | kindNoStats},
		{"ints", icol("f", times(3, 0, 1), 1, 2, 3), false, byte(model.KindInt)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "f.col")
			series := []SeriesData{{Columns: []model.Column{tc.col}}}
			if _, err := WriteWith(path, "c", 0, 1, series, &WriteOptions{BlockSize: 10, NoStats: tc.noStats}); err != nil {
				t.Fatal(err)
			}
			if tc.noStats {
				if err := openAndReadAll(path); err != nil {
					t.Fatal(err)
				}
			} else {
				checkFile(t, path, "c", series)
			}
			r, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			k := byte(tc.col.Kind)
			if got := indexKind(t, path, "f", k, k|kindCompactFloats, k|kindNoStats); got != tc.want {
				t.Errorf("kind byte %#x, want %#x", got, tc.want)
			}
			if tc.col.Kind != model.KindFloat || tc.noStats {
				return
			}
			compact := 0
			for _, b := range r.SeriesAt(0).Columns[0].Blocks {
				compact += len(appendCompactFloats(nil, &b))
			}
			if plain := 40 * len(r.SeriesAt(0).Columns[0].Blocks); (compact < plain) != (tc.want&kindCompactFloats != 0) {
				t.Errorf("compact statistics %d bytes, plain %d, kind byte %#x", compact, plain, tc.want)
			}
		})
	}
}

// TestCompactFloatStatsRejects edits the compact statistics of the last
// block entry of a file (the end of its index), or the kind byte, and
// checks that impossible ones are refused by Open and wrong ones by the
// read, with an error saying what is wrong.
func TestCompactFloatStatsRejects(t *testing.T) {
	// One float column "x" holding 1.5, 2.25 and 0.5 in one block: its
	// statistics are head 2 (two decimals), min 50, max 225 − 50, first
	// 150 − 50, last 0, sum 425 − 3·50 and correction 0.
	col := fcol("x", []int64{10, 20, 30}, 1.5, 2.25, 0.5)
	info := blockStats(&col)
	stats := appendCompactFloats(nil, &info)
	if want := slices.Concat([]byte{2}, binary.AppendVarint(nil, 50), []byte{175, 1, 100, 0}, binary.AppendVarint(nil, 275), []byte{0}); !bytes.Equal(stats, want) {
		t.Fatalf("compact statistics %x, want %x", stats, want)
	}
	plain := append([]byte{compactPlain}, appendStats(nil, model.KindFloat, &info)...)
	kindAt := func(b []byte) []byte { return append(appendString(nil, "x"), b...) }
	tail := func(b []byte) func(idx []byte) []byte {
		return func(idx []byte) []byte { return append(bytes.TrimSuffix(idx, stats), b...) }
	}
	withKind := func(k byte) func(idx []byte) []byte {
		return func(idx []byte) []byte {
			return replaceOnce(idx, kindAt([]byte{byte(model.KindFloat) | kindCompactFloats}), kindAt([]byte{k}))
		}
	}
	tests := []struct {
		name    string
		edit    func(idx []byte) []byte
		atRead  bool
		errHave string
	}{
		{"unchanged", tail(stats), true, ""},
		{"plain entry", tail(plain), true, ""},
		{"plain entry cut short", tail(plain[:40]), false, "read block 0"},
		{"scale 23", tail(slices.Concat([]byte{23}, stats[1:])), false, "scale 23 above 22"},
		{"scale 31", tail(slices.Concat([]byte{0x1f}, stats[1:])), false, "scale 31 above 22"},
		{"min mantissa out of range", tail(slices.Concat([]byte{2}, binary.AppendVarint(nil, 1<<53), stats[2:])), false, "leave [-2^53, 2^53]"},
		{"max mantissa out of range", tail(slices.Concat(stats[:2], binary.AppendUvarint(nil, 1<<53), stats[4:])), false, "leave [-2^53, 2^53]"},
		{"first above max", tail(slices.Concat(stats[:4], []byte{176, 1}, stats[5:])), false, "first is 176 above min, max only 175"},
		{"last above max", tail(slices.Concat(stats[:5], []byte{255, 1}, stats[6:])), false, "last is 255 above min, max only 175"},
		{"sum cut short", tail(stats[:len(stats)-1]), false, "read block 0"},
		{"no sum", tail(stats[:len(stats)-3]), false, "read block 0"},
		{"trailing byte", tail(append(slices.Clone(stats), 0)), false, "trailing"},
		{"wrong sum correction", tail(slices.Concat(stats[:len(stats)-1], []byte{2})), true, "statistics of the decoded values differ"},
		{"wrong first", tail(slices.Concat(stats[:4], []byte{101}, stats[5:])), true, "statistics of the decoded values differ"},
		{"wrong scale", tail(slices.Concat([]byte{3}, stats[1:])), true, "statistics of the decoded values differ"},
		{"compact bit dropped", withKind(byte(model.KindFloat)), false, "read block 0"},
		{"compact bit on an int column", withKind(byte(model.KindInt) | kindCompactFloats), false, "kind byte 0x42: compact float statistics need a float column with statistics"},
		{"compact bit without statistics", withKind(byte(model.KindFloat) | kindCompactFloats | kindNoStats), false, "kind byte 0xc1: compact float statistics need"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "f.col")
			series := []SeriesData{{Columns: []model.Column{col}}}
			if _, err := Write(path, "c", 0, 1, series); err != nil {
				t.Fatal(err)
			}
			rewriteIndex(t, path, func(idx []byte) []byte {
				if !bytes.HasSuffix(idx, stats) {
					t.Fatalf("index %x does not end with the statistics %x", idx, stats)
				}
				return tc.edit(idx)
			})
			if tc.errHave == "" {
				checkFile(t, path, "c", series)
				return
			}
			err := openAndReadAll(path)
			var ce *CorruptionError
			if !errors.As(err, &ce) || !strings.Contains(err.Error(), tc.errHave) {
				t.Fatalf("got %v, want a CorruptionError mentioning %q", err, tc.errHave)
			}
			if !tc.atRead && !strings.Contains(err.Error(), "index") {
				t.Errorf("error %q does not say the index is damaged", err)
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

// FuzzCompactFloats checks that compact float statistics decode to the
// bits they were made from, for any five floats and count.
func FuzzCompactFloats(f *testing.F) {
	for i, v := range awkwardFloats {
		w := awkwardFloats[(i*7+3)%len(awkwardFloats)]
		f.Add(math.Float64bits(v), math.Float64bits(w), math.Float64bits(math.Min(v, w)), math.Float64bits(math.Max(v, w)), math.Float64bits(v+w), uint16(i))
	}
	f.Add(math.Float64bits(1.5), math.Float64bits(0.5), math.Float64bits(0.5), math.Float64bits(2.25), math.Float64bits(4.25), uint16(2))
	f.Fuzz(func(t *testing.T, first, last, lo, hi, sum uint64, count uint16) {
		b := BlockInfo{Count: int(count) + 1, Stats: true,
			First: model.Float(math.Float64frombits(first)), Last: model.Float(math.Float64frombits(last)),
			Min: model.Float(math.Float64frombits(lo)), Max: model.Float(math.Float64frombits(hi)), SumFloat: math.Float64frombits(sum)}
		enc := appendCompactFloats(nil, &b)
		if len(enc) > 1+40 {
			t.Fatalf("compact statistics of %d bytes", len(enc))
		}
		d := decoder{b: enc}
		got := BlockInfo{Count: b.Count}
		err := d.stats(model.KindFloat, &got, uint64(b.Count), true)
		if d.err != nil || d.off != len(enc) {
			t.Fatalf("decode %x: %v, %d of %d bytes", enc, d.err, d.off, len(enc))
		}
		if !sameBlockInfo(&got, &b) {
			t.Fatalf("compact statistics %x: got %+v, want %+v", enc, got, b)
		}
		if err != nil && !(b.Min.Float() > b.Max.Float()) {
			t.Fatalf("decode %x: %v", enc, err)
		}
	})
}
