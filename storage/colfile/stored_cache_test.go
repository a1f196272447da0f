package colfile

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
)

// countingReaderAt counts the reads that reach the file.
type countingReaderAt struct {
	b     []byte
	reads atomic.Int64
}

func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	c.reads.Add(1)
	return bytes.NewReader(c.b).ReadAt(p, off)
}

// TestStoredBlocksCached: a block read again comes from storedBlocks, not
// the file, decodes the same, and a Reader's Close forgets its blocks.
func TestStoredBlocksCached(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f.col")
	series := goldenSeriesRestarts()
	if _, err := WriteWith(path, "cpu", 1, 7, series, &WriteOptions{BlockSize: 1000}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ra := &countingReaderAt{b: b}
	r, err := NewReader(ra, int64(len(b)), path)
	if err != nil {
		t.Fatal(err)
	}
	want := series[0].Columns[2]
	read := func() int64 {
		before := ra.reads.Load()
		got, err := r.ReadBlock(0, 2, 3)
		if err != nil {
			t.Fatal(err)
		}
		if w := want.Slice(3000, 4000); !slices.Equal(got.Ints, w.Ints) || !slices.Equal(got.Times, w.Times) {
			t.Fatal("block 3 of walk differs")
		}
		return ra.reads.Load() - before
	}
	if n := read(); n == 0 {
		t.Fatal("the first read of a block did not read the file")
	}
	if n := read(); n != 0 {
		t.Errorf("the second read of a block read the file %d times", n)
	}
	// Evicted and read again, a block is remembered once for Close.
	for range 3 {
		storedBlocks.forget([]blockKey{{r, r.blockRefs()[0][2][3].off}})
		if n := read(); n == 0 {
			t.Fatal("a read after eviction did not read the file")
		}
	}
	r.cachedMu.Lock()
	if len(r.cached) != 2 { // walk's block 3 and the count block whose times it shares
		t.Errorf("the Reader remembers %d cached blocks, want 2", len(r.cached))
	}
	r.cachedMu.Unlock()
	r.Close()
	storedBlocks.mu.Lock()
	left := 0
	for k := range storedBlocks.m {
		if k.r == r {
			left++
		}
	}
	storedBlocks.mu.Unlock()
	if left != 0 {
		t.Errorf("%d blocks of a closed Reader stay cached", left)
	}
}
