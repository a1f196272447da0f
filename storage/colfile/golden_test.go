package colfile

import (
	"bytes"
	"context"
	"encoding/binary"
	"flag"
	"fmt"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/soltixdb/soltix/model"
)

var rewrite = flag.Bool("rewrite", false, "rewrite testdata/v6.col from goldenSeriesV6 and testdata/v6-restarts.col from goldenSeriesRestarts")

// The golden files. testdata/v1.col was written by the version 1 writer
// and is never rewritten: it proves that old files stay readable. So are
// the files of earlier revisions of version 2: testdata/v2-exact-times.col
// (before subset times) and testdata/v2.col (subsets as bitmaps only,
// float statistics as 8-byte floats only), both holding goldenSeriesV2,
// and testdata/v2-compact.col (the last version 2 revision, holding
// goldenSeriesCompact), and testdata/v3.col (version 3: the same series,
// with the index compressed), and testdata/v4.col (version 4: the same
// series, where "cpu,host=c", none of whose columns holds all its times,
// stores their union once: union blocks), and testdata/v5.col (version 5:
// goldenSeriesV5, whose last series holds rollup-like rows that take the
// strings' fields scheme). testdata/v6.col is the current format:
// goldenSeriesV6, written in blocks of up to 1,024 values so that its
// last series, a walk of 1,000 steps, takes a rANS code; and
// testdata/v6-restarts.col holds blocks long enough for restart points
// (goldenSeriesRestarts).
const (
	goldenV1Path         = "testdata/v1.col"
	goldenExactTimesPath = "testdata/v2-exact-times.col"
	goldenBitmapPath     = "testdata/v2.col"
	goldenCompactPath    = "testdata/v2-compact.col"
	goldenV3Path         = "testdata/v3.col"
	goldenV4Path         = "testdata/v4.col"
	goldenV5Path         = "testdata/v5.col"
	goldenPath           = "testdata/v6.col"
	goldenRestartsPath   = "testdata/v6-restarts.col"
)

// goldenOptions are the write options of testdata/v2.col: small blocks, so
// that columns have several, and a lineage.
var goldenOptions = WriteOptions{BlockSize: 4, Replaces: []uint64{1, 5, 6}}

// goldenCompactOptions are the write options of testdata/v2-compact.col
// and testdata/v3.col and v4.col: blocks large enough for sparse subset selections
// to beat bitmaps.
var goldenCompactOptions = WriteOptions{BlockSize: 64, Replaces: []uint64{1, 5, 6}}

// goldenSeries is the content of testdata/v1.col and the start of that of
// the version 2 golden files (goldenSeriesV2, goldenSeriesCompact).
// Changing either, or anything in the encoder, makes TestGolden fail until
// testdata/v6.col is rewritten with
//
//	go test ./storage/colfile -run TestGolden -rewrite
//
// which must only happen together with a format version bump or a change
// that provably leaves old files readable (keep the old file then, as
// testdata/v2.col, testdata/v2-compact.col, testdata/v3.col,
// testdata/v4.col and testdata/v5.col were kept).
func goldenSeries() []SeriesData {
	return []SeriesData{
		{Tags: tags("host", "a", "region", "eu"), Columns: []model.Column{
			fcol("usage", []int64{1_700_000_000_000_000_000, 1_700_000_010_000_000_000, 1_700_000_020_000_000_000},
				0.5, math.NaN(), math.Inf(-1)),
			icol("count", []int64{1_700_000_000_000_000_000, 1_700_000_010_000_000_000}, -3, math.MaxInt64),
		}},
		{Tags: tags("host", "b", "region", "東京"), Columns: []model.Column{
			ucol("bytes", []int64{-5, 0, 5}, 0, 1<<63, math.MaxUint64),
			bcol("up", times(10, 100, 1), true, false, true, true, false, false, false, true, true, false),
			scol("state", []int64{7}, ""),
			scol("zmsg", []int64{1, 2}, "héllo", "x,y=z"),
		}},
		{Tags: nil, Columns: []model.Column{icol("n", []int64{math.MinInt64, math.MaxInt64}, 1, 2)}},
	}
}

// goldenSeriesV2 is the content of testdata/v2.col and
// testdata/v2-exact-times.col: goldenSeries and a series whose columns
// share times. With blocks of 4, column b takes the
// times of both its blocks from column a; column c shares its first block
// with a and stores its second; column d shares its first block with a
// and its second with c.
func goldenSeriesV2() []SeriesData {
	ts := []int64{1_700_000_000_003_000_000, 1_700_000_009_998_000_000, 1_700_000_020_001_000_000,
		1_700_000_030_000_000_000, 1_700_000_039_999_000_000, 1_700_000_050_002_000_000}
	other := append(slices.Clone(ts[:4]), ts[4]+1_000_000, ts[5]+1_000_000)
	return append(goldenSeries(), SeriesData{Tags: tags("host", "c"), Columns: []model.Column{
		fcol("a", ts, 20.5, 20.25, 20.5, 20.75, 21, 21),
		icol("b", ts, 3, 3, 4, 5, 5, 5),
		bcol("c", other, false, false, true, true, true, false),
		scol("d", other, "ok", "ok", "ok", "warn", "ok", "ok"),
	}})
}

// goldenSeriesCompact is the content of testdata/v2-compact.col:
// goldenSeriesV2 and a series whose columns miss some of the times of its
// fullest column, "base" (180 values, blocks of 64, 64 and 52):
//
//   - "dense" misses about half of them at random, so its blocks keep
//     bitmaps;
//   - "few" misses two times of block 0, one of block 1 and none of
//     block 2, so its blocks list the absent positions (block 2 an empty
//     list);
//   - "rare" holds every 37th time, so its blocks list the present
//     positions;
//   - "odd" misses one time and holds awkward floats: NaN first in block
//     0 (first and sum as f64), −0 last in block 1 (last as f64, and the
//     sum, whose quarters min and max at one decimal cannot express),
//     +Inf in block 2 (the plain entry, head 0xff).
//
// Float statistics are compact except in column "usage" of
// goldenSeries, whose one block has min −Inf: its plain entry is smaller.
func goldenSeriesCompact() []SeriesData {
	const n = 180
	ts := make([]int64, n)
	for i := range ts {
		ts[i] = 1_700_000_000_000_000_000 + int64(i)*10_000_000_000 + int64(i*7919%1000)*1_000_000
	}
	pick := func(name string, keep func(i int) bool, value func(i int) float64) model.Column {
		c := model.Column{Name: name, Kind: model.KindFloat}
		for i, t := range ts {
			if keep(i) {
				c.Append(t, model.Float(value(i)))
			}
		}
		return c
	}
	lat := func(i int) float64 { return float64(4512345+17*i-(i*i)%23) / 1e5 }
	odd := func(i int) float64 {
		switch i {
		case 0:
			return math.NaN()
		case 127:
			return math.Copysign(0, -1)
		case 140:
			return math.Inf(1)
		}
		return float64(i-80) / 4
	}
	return append(goldenSeriesV2(), SeriesData{Tags: tags("host", "d"), Columns: []model.Column{
		pick("base", func(int) bool { return true }, lat),
		pick("dense", func(i int) bool { return (i*i+3*i)%7 < 4 }, func(i int) float64 { return float64(i) / 10 }),
		pick("few", func(i int) bool { return i != 5 && i != 17 && i != 100 }, func(i int) float64 { return 20.5 + float64(i)*0.25 }),
		pick("odd", func(i int) bool { return i != 3 }, odd),
		pick("rare", func(i int) bool { return i%37 == 0 }, func(i int) float64 { return float64(1000 - i) }),
	}})
}

// goldenSeriesV5 is the content of testdata/v5.col and v6.col: goldenSeriesCompact
// and a series "cpu,host=e" with a string column of 24 rollup-like rows
// (strings of uvarints: a head, a count, time offsets, drifting values),
// which the fields scheme stores column by column, a string column of
// repeated text (the dictionary scheme), and "walk", 64 integers of a
// random walk with small steps, whose steps take a Huffman code with the
// dense table.
func goldenSeriesV5() []SeriesData {
	rows := model.Column{Name: "rows", Kind: model.KindString}
	text := model.Column{Name: "text", Kind: model.KindString}
	first := uint64(100)
	for i := range 24 {
		var b []byte
		for _, v := range []uint64{0x95 | 360<<7, 0, 10, first, uint64(i*7%13) * 2, uint64(i % 5), uint64(i*3%7) * 3, 18000 + uint64(i*i*37%1000), 1_000_000 + uint64(i*7919%65536)} {
			b = binary.AppendUvarint(b, v)
		}
		first += uint64(i%3) * 2
		t := int64(1_700_000_000_000_000_000 + i*3_600_000_000_000)
		rows.Append(t, model.String(string(b)))
		text.Append(t, model.String(fmt.Sprint("host ", i*i%17, " é"))) // ends in an unfinished uvarint
	}
	walk := model.Column{Name: "walk", Kind: model.KindInt}
	v := int64(50)
	for i := range 64 {
		v += []int64{0, 1, -1, 0, 2, 0, -1, 0, 1, -2, 0, 0, 1}[i*7%13]
		walk.Append(int64(1_700_000_000_000_000_000+i*10_000_000_000), model.Int(v))
	}
	return append(goldenSeriesCompact(), SeriesData{Tags: tags("host", "e"), Columns: []model.Column{rows, text, walk}})
}

// goldenV6Options are the write options of testdata/v6.col: blocks of up
// to 1,024 values, string fields, and a lineage.
var goldenV6Options = WriteOptions{BlockSize: 1024, Replaces: []uint64{1, 5, 6}, StringFields: true}

// goldenSeriesV6 is the content of testdata/v6.col: goldenSeriesV5, a
// series "cpu,host=f" whose column "steps" holds 1,000 integers of a
// random walk with unit normal steps (the TSBS cpu-only values), which
// take a rANS code, and a series "cpu,host=g" with a string column of 20
// paths, all but two of which begin with the same 17 bytes (the prefix
// scheme with marks), and one of 20 rollup-like rows of full hours (the
// prefix scheme, compact: the fields scheme does not apply, as rows end
// in an unfinished uvarint).
func goldenSeriesV6() []SeriesData {
	paths := model.Column{Name: "path", Kind: model.KindString}
	rows := model.Column{Name: "rows", Kind: model.KindString}
	for i := range 20 {
		t := int64(1_700_000_000_000_000_000 + i*3_600_000_000_000)
		p := fmt.Sprintf("/var/lib/soltix/g%d/%d.col", i%3, i*i*7919%1000)
		if i == 0 || i == 19 {
			p = fmt.Sprint("/tmp/", i)
		}
		paths.Append(t, model.String(p))
		var b []byte
		for _, v := range []uint64{0x95 | 360<<7, 0, 10, uint64(i * 37 % 11), 1_000_000 + uint64(i*7919%65536)} {
			b = binary.AppendUvarint(b, v)
		}
		rows.Append(t, model.String(string(b)+fmt.Sprint(i, " é")))
	}
	prefixed := SeriesData{Tags: tags("host", "g"), Columns: []model.Column{paths, rows}}
	return append(goldenSeriesV6Steps(), prefixed)
}

// goldenSeriesV6Steps is goldenSeriesV6 without "cpu,host=g".
func goldenSeriesV6Steps() []SeriesData {
	steps := model.Column{Name: "steps", Kind: model.KindInt}
	r := rand.New(rand.NewSource(6))
	v := 50.0
	for i := range 1000 {
		v += r.NormFloat64()
		steps.Append(int64(1_700_000_000_000_000_000+i*10_000_000_000), model.Int(int64(math.Round(v))))
	}
	return append(goldenSeriesV5(), SeriesData{Tags: tags("host", "f"), Columns: []model.Column{steps}})
}

func TestGoldenV1(t *testing.T) {
	golden, err := os.ReadFile(goldenV1Path)
	if err != nil {
		t.Fatal(err)
	}
	// The reader must decode the checked-in file to exactly goldenSeries.
	r := checkFile(t, goldenV1Path, "cpu", goldenSeries())
	want := Meta{Collection: "cpu", Group: 1, Seq: 2, MinTime: math.MinInt64, MaxTime: math.MaxInt64, Points: 23}
	if got := r.Meta(); !sameMeta(got, want) {
		t.Errorf("golden meta: got %+v, want %+v", got, want)
	}
	checkGoldenKeys(t, r)
	if got, want := golden[:HeaderSize], []byte("SLTXCOL\x00\x01\x00"); !bytes.Equal(got, want) {
		t.Errorf("golden header: got %q, want %q", got, want)
	}
	if got := golden[len(golden)-8:]; string(got) != Magic {
		t.Errorf("golden footer magic: got %q, want %q", got, Magic)
	}
	// The test-only version 1 writer must still produce the same bytes, so
	// the version 1 files other tests build are faithful.
	fresh := filepath.Join(t.TempDir(), "v1.col")
	if err := writeV1(fresh, "cpu", 1, 2, goldenSeries()); err != nil {
		t.Fatal(err)
	}
	if freshBytes, err := os.ReadFile(fresh); err != nil || !bytes.Equal(freshBytes, golden) {
		t.Errorf("writeV1 output (%d bytes, %v) differs from %s (%d bytes)", len(freshBytes), err, goldenV1Path, len(golden))
	}
}

// TestGolden checks the version 2 golden files: the files of earlier
// revisions must decode to what they were written from, and the writer
// must still produce testdata/v2-compact.col byte for byte.
func TestGolden(t *testing.T) {
	for _, path := range []string{goldenExactTimesPath, goldenBitmapPath} {
		t.Run(path, func(t *testing.T) {
			r := checkGolden(t, path, goldenSeriesV2())
			if path != goldenBitmapPath {
				return
			}
			// The shared times of series "cpu,host=c", as described on
			// goldenSeriesV2.
			wantFrom := [][]int{{0, 0}, {1, 1}, {1, 0}, {1, 3}}
			for j, want := range wantFrom {
				for k, from := range want {
					if got := r.blockRefs()[3][j][k].timesFrom; got != from {
						t.Errorf("golden series 3 column %d block %d: times from %d, want %d", j, k, got, from)
					}
				}
			}
			// Spot-check statistics a reader can use without decoding: series
			// "cpu,host=b,region=東京", column "up" (10 bools in blocks of 4).
			up := r.SeriesAt(2).Columns[2]
			if up.Name != "up" || len(up.Blocks) != 3 || up.Blocks[2].Count != 2 || !up.Blocks[1].First.Equal(model.Bool(false)) || !up.Blocks[2].Last.Equal(model.Bool(false)) {
				t.Errorf("golden column up: got %+v", up)
			}
			usage := r.SeriesAt(1).Columns[1]
			if usage.Name != "usage" || len(usage.Blocks) != 1 || !usage.Blocks[0].Min.Equal(model.Float(math.Inf(-1))) || !usage.Blocks[0].Max.Equal(model.Float(0.5)) {
				t.Errorf("golden column usage: got %+v", usage)
			}
		})
	}

	for _, path := range []string{goldenCompactPath, goldenV3Path, goldenV4Path} {
		t.Run(path, func(t *testing.T) {
			golden, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			checkCompactGolden(t, path, golden, goldenSeriesCompact())
		})
	}
	t.Run(goldenV5Path, func(t *testing.T) {
		golden, err := os.ReadFile(goldenV5Path)
		if err != nil {
			t.Fatal(err)
		}
		checkCompactGolden(t, goldenV5Path, golden, goldenSeriesV5())
	})

	t.Run(goldenV5Path, func(t *testing.T) {
		golden, err := os.ReadFile(goldenV5Path)
		if err != nil {
			t.Fatal(err)
		}
		checkCompactGolden(t, goldenV5Path, golden, goldenSeriesV5())
		// Series "cpu,host=e": its rows take the fields scheme (tag 0x52,
		// after the block's flag and times), the text the dictionary.
		r5, err := Open(goldenV5Path)
		if err != nil {
			t.Fatal(err)
		}
		defer r5.Close()
		for j, want := range []byte{0x52, 0x51} {
			body := r5.blockValues(t, 5, j, 0)
			if len(body) == 0 || body[0] != want {
				t.Errorf("series 5 column %d: values tag %x, want %#x", j, body[:min(len(body), 1)], want)
			}
		}
		// The walk: delta ints (0x21), count 64, head 100 (zigzag 50),
		// gcd 1, Huffman packing (5) with a dense table of 5 values.
		if body := r5.blockValues(t, 5, 2, 0); !bytes.HasPrefix(body, []byte{0x21, 64, 100, 1, 5, 0x85}) {
			t.Errorf("walk values %x, want a Huffman code with a dense table", body)
		}
		// Series "cpu,host=c": a and b have the same 6 times, c and d
		// another 6; their union is stored once, in a's block (times
		// from 3c+1 = 13), and b, c and d select from it by bitmaps.
		for j, want := range []blockRef{{union: true}, {timesFrom: 1, subset: true}, {timesFrom: 1, subset: true}, {timesFrom: 1, subset: true}} {
			got := r5.blockRefs()[3][j][0]
			got.off, got.length = 0, 0
			if got != want {
				t.Errorf("series 3 column %d block 0: got %+v, want %+v", j, got, want)
			}
		}
		// The index is stored compressed, behind its flag.
		stored := golden[binary.LittleEndian.Uint64(golden[len(golden)-FooterSize:]) : len(golden)-FooterSize]
		if idx := fileIndex(t, golden); stored[0] != indexSnappy || len(stored) >= len(idx) {
			t.Errorf("stored index: flag %d, %d bytes for %d; want snappy and smaller", stored[0], len(stored), len(idx))
		}
	})

	t.Run(goldenPath, func(t *testing.T) {
		fresh := filepath.Join(t.TempDir(), "v6.col")
		if _, err := WriteWith(fresh, "cpu", 1, 7, goldenSeriesV6(), &goldenV6Options); err != nil {
			t.Fatal(err)
		}
		freshBytes, err := os.ReadFile(fresh)
		if err != nil {
			t.Fatal(err)
		}
		if *rewrite {
			if err := os.WriteFile(goldenPath, freshBytes, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		golden, err := os.ReadFile(goldenPath)
		if err != nil {
			t.Fatalf("read golden file (regenerate with -rewrite): %v", err)
		}
		checkGolden(t, goldenPath, goldenSeriesV6())
		r, err := Open(goldenPath)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		// Series "cpu,host=f": delta ints (0x21), count 1000 (e8 07),
		// head 102 (zigzag 51), gcd 1, rANS packing (7) with a dense
		// table (head bit 7).
		if body := r.blockValues(t, 6, 0, 0); !bytes.HasPrefix(body, []byte{0x21, 0xe8, 0x07, 102, 1, 7}) || len(body) < 7 || body[6]&0x80 == 0 {
			t.Errorf("steps values %x, want a rANS code with a dense table", body[:min(len(body), 8)])
		}
		// Series "cpu,host=g": the prefix scheme (tag 0x53) with marks,
		// h = 2·17, then "/var/lib/soltix/g"; and compact, h = 2·5 + 1.
		for j, want := range [][]byte{append([]byte{0x53, 20, 34}, "/var/lib/soltix/g"...), {0x53, 20, 11, 0x95, 0xe9, 0x02, 0, 10}} {
			if body := r.blockValues(t, 7, j, 0); !bytes.HasPrefix(body, want) {
				t.Errorf("series 7 column %d: values %x, want the prefix scheme %x", j, body, want)
			}
		}
		// Without WriteOptions.StringFields the rows stay plain.
		plainPath := filepath.Join(t.TempDir(), "plain.col")
		if _, err := WriteWith(plainPath, "cpu", 1, 7, goldenSeriesV6(), &goldenCompactOptions); err != nil {
			t.Fatal(err)
		}
		rp, err := Open(plainPath)
		if err != nil {
			t.Fatal(err)
		}
		defer rp.Close()
		if body := rp.blockValues(t, 5, 0, 0); len(body) == 0 || body[0] == 0x52 {
			t.Errorf("rows without StringFields: values tag %x, want not the fields scheme", body[:min(len(body), 1)])
		}
		if !bytes.Equal(freshBytes, golden) {
			t.Errorf("WriteWith output (%d bytes) differs from %s (%d bytes); if the format changed on purpose, keep the old file and rewrite with -rewrite", len(freshBytes), goldenPath, len(golden))
		}
	})
}

// checkCompactGolden checks a golden file holding goldenSeriesCompact:
// its content, subset selections and forms of statistics.
func checkCompactGolden(t *testing.T, path string, golden []byte, series []SeriesData) {
	t.Helper()
	r := checkGolden(t, path, series)
	// The subset selections of series "cpu,host=d" (columns base,
	// dense, few, odd, rare), as described on goldenSeriesCompact:
	// 'e' exact (own) times, 'b' bitmap, 's' sparse.
	wantSel := []string{"eee", "bbb", "sss", "sss", "sss"}
	for j, want := range wantSel {
		var got []byte
		for _, ref := range r.blockRefs()[4][j] {
			switch {
			case ref.sparse && ref.subset && ref.timesFrom == 1:
				got = append(got, 's')
			case ref.subset && ref.timesFrom == 1:
				got = append(got, 'b')
			case ref.timesFrom == 0:
				got = append(got, 'e')
			default:
				got = append(got, '?')
			}
		}
		if string(got) != want {
			t.Errorf("%s series 4 column %d: selections %q, want %q", path, j, got, want)
		}
	}
	// The statistics forms: compact for every float column but "usage",
	// per the kind bytes, whose positions in the index the reader does
	// not keep, so find them by name and kind.
	idx := fileIndex(t, golden)
	for _, c := range []struct {
		name    string
		compact bool
	}{{"usage", false}, {"a", true}, {"base", true}, {"dense", true}, {"odd", true}} {
		plain := appendString(nil, c.name)
		kind := byte(model.KindFloat)
		if c.compact {
			kind |= kindCompactFloats
		}
		if !bytes.Contains(idx, append(plain, kind)) || bytes.Contains(idx, append(plain, kind^kindCompactFloats)) {
			t.Errorf("%s column %q: kind byte %#x not found, or not alone", path, c.name, kind)
		}
	}
}

// checkGolden checks that the version 2, 3 or 4 golden file at path holds series
// and the golden meta, keys, header and footer.
func checkGolden(t *testing.T, path string, series []SeriesData) *Reader {
	t.Helper()
	golden, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	r := checkFile(t, path, "cpu", series)
	points := 0
	for _, s := range series {
		for _, c := range s.Columns {
			points += c.Len()
		}
	}
	want := Meta{Collection: "cpu", Group: 1, Seq: 7, MinTime: math.MinInt64, MaxTime: math.MaxInt64, Points: points, Replaces: []uint64{1, 5, 6}}
	if got := r.Meta(); !sameMeta(got, want) {
		t.Errorf("golden meta: got %+v, want %+v", got, want)
	}
	checkGoldenKeys(t, r)
	// Header and footer bytes as documented in docs/format.md.
	version := byte(2)
	switch path {
	case goldenV3Path:
		version = 3
	case goldenV4Path:
		version = 4
	case goldenV5Path:
		version = 5
	case goldenPath, goldenRestartsPath:
		version = Version
	}
	if got, want := golden[:HeaderSize], []byte{'S', 'L', 'T', 'X', 'C', 'O', 'L', 0, version, 0}; !bytes.Equal(got, want) {
		t.Errorf("golden header: got %q, want %q", got, want)
	}
	if got := golden[len(golden)-8:]; string(got) != Magic {
		t.Errorf("golden footer magic: got %q, want %q", got, Magic)
	}
	return r
}

// checkGoldenKeys checks the series keys of a golden file.
func checkGoldenKeys(t *testing.T, r *Reader) {
	t.Helper()
	wantKeys := []string{"cpu", "cpu,host=a,region=eu", "cpu,host=b,region=東京", "cpu,host=c", "cpu,host=d", "cpu,host=e", "cpu,host=f", "cpu,host=g"}
	switch {
	case r.NumSeries() == 6: // goldenSeriesV5
		wantKeys = wantKeys[:6]
	case r.NumSeries() == 5: // goldenSeriesCompact
		wantKeys = wantKeys[:5]
	case r.Version() == 1:
		wantKeys = wantKeys[:3]
	case r.NumSeries() == 4: // goldenSeriesV2
		wantKeys = wantKeys[:4]
	}
	if r.NumSeries() != len(wantKeys) {
		t.Fatalf("golden file has %d series, want %d", r.NumSeries(), len(wantKeys))
	}
	for i, s := range r.AllSeries() {
		if s.Key != wantKeys[i] {
			t.Errorf("golden series %d: got key %q, want %q", i, s.Key, wantKeys[i])
		}
	}
}

// blockValues returns the values bytes of block k of column j of series
// si: the body after the times (or selection, for which it returns nil).
func (r *Reader) blockValues(t *testing.T, si, j, k int) []byte {
	t.Helper()
	ds := r.decode(si)
	stored, err := r.readStored(context.Background(), ds, j, k, r.corruptBlock(ds, j, k, ""))
	if err != nil {
		t.Fatal(err)
	}
	body, err := blockBody(stored)
	if err != nil {
		t.Fatal(err)
	}
	switch ref := ds.refs[j][k]; {
	case ref.subset || ref.union:
		return nil
	case ref.timesFrom == 0:
		n, w := binary.Uvarint(body)
		return body[w+int(n):]
	}
	return body
}
