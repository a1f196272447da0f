package storage

import (
	"context"
	"slices"
	"testing"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/storage/colfile"
	"github.com/soltixdb/soltix/storage/wal"
)

// TestCompactBlockSize: flushes write blocks of BlockSize values and
// compaction of CompactBlockSize (default DefaultCompactBlockSize, or
// BlockSize when only that is set), and a read of a window that starts
// and ends inside a compacted block returns exactly its values.
func TestCompactBlockSize(t *testing.T) {
	const n = 10_000
	for _, tc := range []struct {
		name             string
		block, compacted int
		wantFlush        int
		wantCompacted    []int
	}{
		{"defaults", 0, 0, colfile.DefaultBlockSize, []int{4096, 4096, 1808}},
		{"block size only", 700, 0, 700, nil},
		{"both", 700, 5000, 700, []int{5000, 5000}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			db, err := Open(dir, &Options{Logger: quiet, FlushInterval: -1, Sync: wal.SyncNever, NumGroups: 1,
				BlockSize: tc.block, CompactBlockSize: tc.compacted})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			ctx := context.Background()
			want := make([]int64, n)
			for half := range 2 {
				var pts []model.Point
				for i := half * n / 2; i < (half+1)*n/2; i++ {
					want[i] = int64(i%97) - int64(i%13)
					pts = append(pts, pt("c", "d", int64(i)*1e9, iv("n", want[i])))
				}
				if err := db.Write(ctx, pts); err != nil {
					t.Fatal(err)
				}
				if err := db.Flush(ctx); err != nil {
					t.Fatal(err)
				}
			}
			files := colFiles(t, dir)
			if len(files) != 2 {
				t.Fatalf("%d files after two flushes", len(files))
			}
			if got := blockCounts(t, files[0]); got[0] != min(tc.wantFlush, n/2) {
				t.Errorf("flushed blocks %v, want blocks of %d", got, tc.wantFlush)
			}
			if err := db.Compact(ctx); err != nil {
				t.Fatal(err)
			}
			files = colFiles(t, dir)
			if len(files) != 1 {
				t.Fatalf("%d files after compaction", len(files))
			}
			wantBlocks := tc.wantCompacted
			if wantBlocks == nil {
				for left := n; left > 0; left -= tc.block {
					wantBlocks = append(wantBlocks, min(left, tc.block))
				}
			}
			if got := blockCounts(t, files[0]); !slices.Equal(got, wantBlocks) {
				t.Errorf("compacted blocks %v, want %v", got, wantBlocks)
			}
			tags := model.Tags{{Key: "device_id", Value: "d"}}
			for _, w := range [][2]int{{0, n}, {1, 2}, {1500, 1600}, {4095, 4097}, {5000, 9999}, {6000, n}} {
				cols, err := db.Read(ctx, "c", tags, []string{"n"}, int64(w[0])*1e9, int64(w[1]-1)*1e9)
				if err != nil {
					t.Fatal(err)
				}
				if len(cols) != 1 || !slices.Equal(cols[0].Ints, want[w[0]:w[1]]) {
					t.Errorf("read of rows [%d, %d) differs", w[0], w[1])
				}
			}
		})
	}
}

// blockCounts returns the value counts of the blocks of the first column
// of the first series of the colfile at path.
func blockCounts(t *testing.T, path string) []int {
	t.Helper()
	r, err := colfile.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var out []int
	for _, b := range r.SeriesAt(0).Columns[0].Blocks {
		out = append(out, b.Count)
	}
	return out
}
