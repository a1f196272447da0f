package colfile

import (
	"bytes"
	"flag"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/soltixdb/soltix/model"
)

var rewrite = flag.Bool("rewrite", false, "rewrite testdata/v1.col from goldenSeries")

const goldenPath = "testdata/v1.col"

// goldenSeries is the content of testdata/v1.col. Changing it, or anything
// in the encoder, makes TestGolden fail until the file is rewritten with
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

func TestGolden(t *testing.T) {
	fresh := filepath.Join(t.TempDir(), "v1.col")
	if _, err := Write(fresh, "cpu", 1, 2, goldenSeries()); err != nil {
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

	// The reader must decode the checked-in file to exactly goldenSeries.
	r := checkFile(t, goldenPath, "cpu", goldenSeries())
	want := Meta{Collection: "cpu", Group: 1, Seq: 2, MinTime: math.MinInt64, MaxTime: math.MaxInt64, Points: 23}
	if got := r.Meta(); got != want {
		t.Errorf("golden meta: got %+v, want %+v", got, want)
	}
	wantKeys := []string{"cpu", "cpu,host=a,region=eu", "cpu,host=b,region=東京"}
	for i, s := range r.Series() {
		if s.Key != wantKeys[i] {
			t.Errorf("golden series %d: got key %q, want %q", i, s.Key, wantKeys[i])
		}
	}
	// Header and footer bytes as documented in docs/format.md.
	if got, want := golden[:HeaderSize], []byte("SLTXCOL\x00\x01\x00"); !bytes.Equal(got, want) {
		t.Errorf("golden header: got %q, want %q", got, want)
	}
	if got := golden[len(golden)-8:]; string(got) != Magic {
		t.Errorf("golden footer magic: got %q, want %q", got, Magic)
	}

	// The writer must still produce the same bytes, so encoder drift is
	// caught too.
	if !bytes.Equal(freshBytes, golden) {
		t.Errorf("Write output (%d bytes) differs from %s (%d bytes); if the format changed on purpose, bump Version and rewrite with -rewrite", len(freshBytes), goldenPath, len(golden))
	}
}
