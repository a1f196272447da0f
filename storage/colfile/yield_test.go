package colfile

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/soltixdb/soltix/model"
)

// TestWriteYieldsPerColumn: WriteOptions.Yield runs once before each
// column is encoded, whatever the columns' block layout, and the file is
// the same as without it.
func TestWriteYieldsPerColumn(t *testing.T) {
	series := []SeriesData{
		{Tags: tags("host", "a"), Columns: []model.Column{
			icol("x", times(2500, 0, 10), make([]int64, 2500)...),
			icol("y", times(2500, 0, 10), make([]int64, 2500)...), // same times: a union
			icol("z", times(10, 5, 1), make([]int64, 10)...),
		}},
		{Tags: tags("host", "b"), Columns: []model.Column{
			fcol("f", times(3, 0, 1), 1, 2, 3),
		}},
	}
	dir := t.TempDir()
	calls := 0
	with := filepath.Join(dir, "with.col")
	if _, err := WriteWith(with, "c", 0, 1, series, &WriteOptions{BlockSize: 1000, Yield: func() { calls++ }}); err != nil {
		t.Fatal(err)
	}
	if calls != 4 {
		t.Fatalf("Yield called %d times, want one per column (4)", calls)
	}
	without := filepath.Join(dir, "without.col")
	if _, err := WriteWith(without, "c", 0, 1, series, &WriteOptions{BlockSize: 1000}); err != nil {
		t.Fatal(err)
	}
	a, err := os.ReadFile(with)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(without)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Fatal("the file written with Yield differs from the one without")
	}
}
