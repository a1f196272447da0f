package storage

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/soltixdb/soltix/storage/vfs"
	"github.com/soltixdb/soltix/storage/vfs/errorfs"
)

// TestTierDiskFaults: a Tier whose local steps fail (the index copy, the
// cold list, removing the local file) loses nothing: the files stay local
// or the cold list holds them, the answers stay, no unlisted object is
// left, and a restart settles what the failure left.
func TestTierDiskFaults(t *testing.T) {
	for _, tc := range []struct {
		name string
		rule errorfs.Rule
		// local says the files stay local (the failure came before the
		// list named them).
		local bool
	}{
		{"index copy write", errorfs.Rule{Op: errorfs.OpWrite, Path: "*.idx.tmp", Err: syscall.ENOSPC}, true},
		{"index copy sync", errorfs.Rule{Op: errorfs.OpSync, Path: "*.idx.tmp", Err: syscall.EIO}, true},
		{"cold list write", errorfs.Rule{Op: errorfs.OpWrite, Path: "list.tmp", Err: syscall.ENOSPC}, true},
		{"cold list rename", errorfs.Rule{Op: errorfs.OpRename, Path: "list.tmp", Err: syscall.EIO}, true},
		{"cold dir sync", errorfs.Rule{Op: errorfs.OpSyncDir, Match: func(p string) bool { return filepath.Base(p) == coldDir }, Err: syscall.EIO}, true},
		{"local remove", errorfs.Rule{Op: errorfs.OpRemove, Path: "*.col", Err: syscall.EIO}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s3 := newFakeS3(t)
			ctx := context.Background()
			dir := t.TempDir()
			fs := errorfs.New(vfs.Default)
			db := openColdDB(t, dir, s3.store(t), fs)
			coldData(t, db)
			want := coldAnswers(t, db)
			before := localCols(t, dir)
			fs.Inject(tc.rule)
			st, err := db.Tier(ctx)
			if err == nil {
				t.Fatalf("Tier with %s failing: %+v, no error", tc.name, st)
			}
			if tc.local && (st.Uploaded != 0 || !slices.Equal(localCols(t, dir), before)) {
				t.Fatalf("Tier: %+v; local files changed though nothing was recorded", st)
			}
			if got := coldAnswers(t, db); got != want {
				t.Fatalf("answers differ after the failed Tier:\n%s", firstDiff(got, want))
			}
			if got, live := s3.keys(t), liveKeys(db); !slices.Equal(got, live) {
				t.Fatalf("bucket holds %d objects, the list %d", len(got), len(live))
			}
			fs.Clear()
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			db = openColdDB(t, dir, s3.store(t), nil)
			defer db.Close()
			if got := coldAnswers(t, db); got != want {
				t.Fatalf("answers differ after a restart:\n%s", firstDiff(got, want))
			}
			settle(t, db, s3)
			if n := len(localCols(t, dir)); n != len(before)-coldDue(before) {
				t.Fatalf("%d local files after a Tier that works, want %d", n, len(before)-coldDue(before))
			}
			if got := coldAnswers(t, db); got != want {
				t.Fatalf("answers differ after tiering:\n%s", firstDiff(got, want))
			}
		})
	}
}

// TestColdStubLost: a lost or damaged index copy is fetched from the
// object again at Open.
func TestColdStubLost(t *testing.T) {
	s3 := newFakeS3(t)
	dir := t.TempDir()
	db := openColdDB(t, dir, s3.store(t), nil)
	coldData(t, db)
	want := coldAnswers(t, db)
	settle(t, db, s3)
	db.Close()
	stubs, _ := filepath.Glob(filepath.Join(dir, coldDir, "*.idx"))
	if len(stubs) < 2 {
		t.Fatalf("%d index copies", len(stubs))
	}
	if err := vfs.Default.Remove(stubs[0]); err != nil {
		t.Fatal(err)
	}
	f, err := vfs.Default.OpenFile(stubs[1], 2, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("garbage"))
	f.Close()
	db = openColdDB(t, dir, s3.store(t), nil)
	if got := coldAnswers(t, db); got != want {
		t.Fatalf("answers differ:\n%s", firstDiff(got, want))
	}
	db.Close()
	// With the store down too, Open fails naming the object.
	if err := vfs.Default.Remove(stubs[0]); err != nil {
		t.Fatal(err)
	}
	o := Options{Logger: quiet, FlushInterval: -1, TierInterval: -1, Cold: s3.store(t)}
	s3.down.Store(true)
	if db, err := Open(dir, &o); err == nil || !strings.Contains(err.Error(), "s3://b/") {
		if db != nil {
			db.Close()
		}
		t.Fatalf("Open with an index copy lost and the store down: %v", err)
	}
}
