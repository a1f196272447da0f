package colfile

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/soltixdb/soltix/model"
)

// goldenSeriesRestarts is the content of testdata/v6-restarts.col: one
// series of 5,000 readings at 10 s (a compacted day's block is this long),
// written in blocks of 4,096, so that the first block of each column has
// restart points (version 6): "count" a counter (uints), "temp" a walk of
// hundredths (decimal floats), "walk" a random walk with small steps
// (ints, Huffman-coded).
func goldenSeriesRestarts() []SeriesData {
	const n = 5000
	r := rand.New(rand.NewPCG(6, 6))
	ts := make([]int64, n)
	count := make([]uint64, n)
	temp := make([]float64, n)
	walk := make([]int64, n)
	c, tm, w := uint64(1000), int64(2150), int64(50)
	for i := range n {
		ts[i] = 1_700_000_000_000_000_000 + int64(i)*10_000_000_000
		c += uint64(r.IntN(7))
		tm += []int64{-3, -1, -1, 0, 0, 0, 0, 1, 1, 3}[r.IntN(10)]
		w += []int64{-2, -1, -1, 0, 0, 0, 1, 1, 2}[r.IntN(9)]
		count[i], temp[i], walk[i] = c, float64(tm)/100, w
	}
	return []SeriesData{{Tags: tags("host", "f"), Columns: []model.Column{
		ucol("count", ts, count...), fcol("temp", ts, temp...), icol("walk", ts, walk...),
	}}}
}

func TestGoldenRestarts(t *testing.T) {
	series := goldenSeriesRestarts()
	fresh := filepath.Join(t.TempDir(), "v6-restarts.col")
	if _, err := WriteWith(fresh, "cpu", 1, 7, series, &WriteOptions{BlockSize: 4096}); err != nil {
		t.Fatal(err)
	}
	freshBytes, err := os.ReadFile(fresh)
	if err != nil {
		t.Fatal(err)
	}
	if *rewrite {
		if err := os.WriteFile(goldenRestartsPath, freshBytes, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	golden, err := os.ReadFile(goldenRestartsPath)
	if err != nil {
		t.Fatalf("read golden file (regenerate with -rewrite): %v", err)
	}
	if !bytes.Equal(freshBytes, golden) {
		t.Errorf("WriteWith output (%d bytes) differs from %s (%d bytes); if the format changed on purpose, keep the old file and rewrite with -rewrite", len(freshBytes), goldenRestartsPath, len(golden))
	}
	if got, want := golden[:HeaderSize], []byte("SLTXCOL\x00\x06\x00"); !bytes.Equal(got, want) {
		t.Errorf("header %q, want %q", got, want)
	}
	r := checkFile(t, goldenRestartsPath, "cpu", series)
	// The first block of each column has restart points: the uint and
	// int tags 0x2d and 0x25 (delta with restarts), the decimal floats'
	// transform byte (after tag, count and exponent) with bit 4.
	for j, check := range []func(b []byte) bool{
		func(b []byte) bool { return b[0] == 0x2d },
		func(b []byte) bool { return b[0] == 0x31 && b[4]&4 != 0 },
		func(b []byte) bool { return b[0] == 0x25 },
	} {
		if b := r.blockValues(t, 0, j, 0); len(b) < 5 || !check(b) {
			t.Errorf("column %d block 0 values start %x: no restart points", j, b[:min(len(b), 6)])
		}
	}
	// Windows that start inside the long block read from a restart point.
	ts := series[0].Columns[0].Times
	for _, w := range [][2]int{{1, 10}, {1023, 1030}, {1500, 1860}, {2049, 4095}, {3000, 4500}, {4095, 4096}, {4000, 5000}} {
		lo, hi := ts[w[0]], ts[w[1]-1]
		for j, want := range series[0].Columns {
			got, err := r.ReadRange(0, j, lo, hi)
			if err != nil {
				t.Fatalf("ReadRange(%d, [%d, %d)): %v", j, w[0], w[1], err)
			}
			want = want.Slice(w[0], w[1])
			if !slices.Equal(got.Times, want.Times) || !slices.Equal(got.Ints, want.Ints) ||
				!slices.Equal(got.Uints, want.Uints) || !slices.Equal(got.Floats, want.Floats) {
				t.Errorf("ReadRange(column %d, rows [%d, %d)) differs", j, w[0], w[1])
			}
		}
	}
}
