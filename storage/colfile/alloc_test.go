package colfile

import (
	"fmt"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/soltixdb/soltix/model"
)

// compressibleColumn returns n one-second points of a column whose values
// compress to almost nothing: a constant, or a flag that changes rarely.
// Such a column decodes to far more than 16 values per stored byte.
func compressibleColumn(kind model.Kind, n int) model.Column {
	col := model.Column{Name: "v", Kind: kind, Times: times(n, 1_700_000_000_000_000_000, 1_000_000_000)}
	for i := range n {
		switch kind {
		case model.KindFloat:
			col.Floats = append(col.Floats, 21.5)
		case model.KindInt:
			col.Ints = append(col.Ints, 7)
		case model.KindBool:
			col.Bools = append(col.Bools, i/100_000%2 == 1)
		}
	}
	return col
}

// resultBytes is the memory a decoded column's slices need.
func resultBytes(col *model.Column) uint64 {
	n := uint64(col.Len())
	switch col.Kind {
	case model.KindBool:
		return n * 9
	default:
		return n * 16
	}
}

// TestReadAllocatesResultSize checks that decoding a very compressible
// column allocates in proportion to what it returns. Before the readers
// grew their output geometrically, a constant series of 1 M one-second
// points allocated 7.6 GiB to return 15 MiB (every block copied all the
// values before it).
func TestReadAllocatesResultSize(t *testing.T) {
	for _, tc := range []struct {
		kind      model.Kind
		n         int
		blockSize int
		version   int
	}{
		{model.KindFloat, 2_000_000, 0, 0},
		{model.KindInt, 2_000_000, 0, 0},
		{model.KindBool, 2_000_000, 0, 0},
		{model.KindFloat, 2_000_000, MaxBlockSize, 0},
		{model.KindFloat, 300_000, 100, 0},
	} {
		t.Run(fmt.Sprintf("%s/%d/block%d", tc.kind, tc.n, tc.blockSize), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "c.col")
			series := []SeriesData{{Tags: tags("device_id", "d1"), Columns: []model.Column{compressibleColumn(tc.kind, tc.n)}}}
			if _, err := WriteWith(path, "c", 0, 1, series, &WriteOptions{BlockSize: tc.blockSize}); err != nil {
				t.Fatal(err)
			}
			r, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			for _, read := range []struct {
				name string
				fn   func() (model.Column, error)
			}{
				{"ReadColumn", func() (model.Column, error) { return r.ReadColumn(0, 0) }},
				{"ReadRange", func() (model.Column, error) { return r.ReadRange(0, 0, 0, 1<<62) }},
			} {
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				col, err := read.fn()
				runtime.ReadMemStats(&after)
				if err != nil {
					t.Fatal(err)
				}
				if col.Len() != tc.n {
					t.Fatalf("%s: got %d points, want %d", read.name, col.Len(), tc.n)
				}
				alloc, want := after.TotalAlloc-before.TotalAlloc, resultBytes(&col)
				t.Logf("%s: allocated %d bytes for a %d-byte result (%.2fx)", read.name, alloc, want, float64(alloc)/float64(want))
				if alloc > 3*want {
					t.Errorf("%s: allocated %d bytes for a %d-byte result: more than 3x", read.name, alloc, want)
				}
			}
		})
	}
}
