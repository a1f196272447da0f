package colfile

import (
	"bytes"
	"flag"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/soltixdb/soltix/model"
)

var rewrite = flag.Bool("rewrite", false, "rewrite testdata/v2.col from goldenSeries")

// The golden files. testdata/v1.col was written by the version 1 writer
// and is never rewritten: it proves that old files stay readable.
// testdata/v2.col is the current format.
const (
	goldenV1Path = "testdata/v1.col"
	goldenPath   = "testdata/v2.col"
)

// goldenOptions are the write options of testdata/v2.col: small blocks, so
// that columns have several, and a lineage.
var goldenOptions = WriteOptions{BlockSize: 4, Replaces: []uint64{1, 5, 6}}

// goldenSeries is the content of testdata/v1.col and the start of that of
// testdata/v2.col (goldenSeriesV2). Changing either, or anything in the
// encoder, makes TestGolden fail until testdata/v2.col is rewritten with
//
//	go test ./storage/colfile -run TestGolden -rewrite
//
// which must only happen together with a format version bump or a change
// that provably leaves old files readable.
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

// goldenSeriesV2 is the content of testdata/v2.col: goldenSeries and a
// series whose columns share times. With blocks of 4, column b takes the
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

func TestGolden(t *testing.T) {
	fresh := filepath.Join(t.TempDir(), "v2.col")
	opts := goldenOptions
	if _, err := WriteWith(fresh, "cpu", 1, 7, goldenSeriesV2(), &opts); err != nil {
		t.Fatal(err)
	}
	freshBytes, err := os.ReadFile(fresh)
	if err != nil {
		t.Fatal(err)
	}
	if *rewrite {
		if err := os.MkdirAll(filepath.Dir(goldenPath), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(goldenPath, freshBytes, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	golden, err := os.ReadFile(goldenPath)
	if err != nil {
		t.Fatalf("read golden file (regenerate with -rewrite): %v", err)
	}

	// The reader must decode the checked-in file to exactly goldenSeries,
	// and so the same data as written before subset times existed.
	r := checkFile(t, goldenPath, "cpu", goldenSeriesV2())
	checkFile(t, filepath.Join("testdata", "v2-exact-times.col"), "cpu", goldenSeriesV2()).Close()
	want := Meta{Collection: "cpu", Group: 1, Seq: 7, MinTime: math.MinInt64, MaxTime: math.MaxInt64, Points: 47, Replaces: []uint64{1, 5, 6}}
	if got := r.Meta(); !sameMeta(got, want) {
		t.Errorf("golden meta: got %+v, want %+v", got, want)
	}
	checkGoldenKeys(t, r)
	// The shared times of series "cpu,host=c", as described on
	// goldenSeriesV2.
	wantFrom := [][]int{{0, 0}, {1, 1}, {1, 0}, {1, 3}}
	for j, want := range wantFrom {
		for k, from := range want {
			if got := r.blocks[3][j][k].timesFrom; got != from {
				t.Errorf("golden series 3 column %d block %d: times from %d, want %d", j, k, got, from)
			}
		}
	}
	// Spot-check statistics a reader can use without decoding: series
	// "cpu,host=b,region=東京", column "up" (10 bools in blocks of 4).
	up := r.Series()[2].Columns[2]
	if up.Name != "up" || len(up.Blocks) != 3 || up.Blocks[2].Count != 2 || !up.Blocks[1].First.Equal(model.Bool(false)) || !up.Blocks[2].Last.Equal(model.Bool(false)) {
		t.Errorf("golden column up: got %+v", up)
	}
	usage := r.Series()[1].Columns[1]
	if usage.Name != "usage" || len(usage.Blocks) != 1 || !usage.Blocks[0].Min.Equal(model.Float(math.Inf(-1))) || !usage.Blocks[0].Max.Equal(model.Float(0.5)) {
		t.Errorf("golden column usage: got %+v", usage)
	}
	// Header and footer bytes as documented in docs/format.md.
	if got, want := golden[:HeaderSize], []byte("SLTXCOL\x00\x02\x00"); !bytes.Equal(got, want) {
		t.Errorf("golden header: got %q, want %q", got, want)
	}
	if got := golden[len(golden)-8:]; string(got) != Magic {
		t.Errorf("golden footer magic: got %q, want %q", got, Magic)
	}

	// The writer must still produce the same bytes, so encoder drift is
	// caught too.
	if !bytes.Equal(freshBytes, golden) {
		t.Errorf("WriteWith output (%d bytes) differs from %s (%d bytes); if the format changed on purpose, bump Version and rewrite with -rewrite", len(freshBytes), goldenPath, len(golden))
	}
}

// checkGoldenKeys checks the series keys of a golden file.
func checkGoldenKeys(t *testing.T, r *Reader) {
	t.Helper()
	wantKeys := []string{"cpu", "cpu,host=a,region=eu", "cpu,host=b,region=東京", "cpu,host=c"}
	if r.Version() == 1 {
		wantKeys = wantKeys[:3]
	}
	if len(r.Series()) != len(wantKeys) {
		t.Fatalf("golden file has %d series, want %d", len(r.Series()), len(wantKeys))
	}
	for i, s := range r.Series() {
		if s.Key != wantKeys[i] {
			t.Errorf("golden series %d: got key %q, want %q", i, s.Key, wantKeys[i])
		}
	}
}
