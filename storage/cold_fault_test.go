package storage

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/planner"
	"github.com/soltixdb/soltix/query"
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

// TestColdPending: a DB whose cold store could not be opened at start-up
// (ColdPending) opens, answers from the index copies what they answer,
// fails reads of cold blocks naming the object, keeps files local, and
// works fully once SetCold gives it the store.
func TestColdPending(t *testing.T) {
	s3 := newFakeS3(t)
	ctx := context.Background()
	dir := t.TempDir()
	db := openColdDB(t, dir, s3.store(t), nil)
	coldData(t, db)
	want := coldAnswers(t, db)
	settle(t, db, s3)
	db.Close()

	db, err := Open(dir, &Options{Logger: quiet, FlushInterval: -1, TierInterval: -1, NumGroups: 4, BlockSize: 16,
		ColdPending: true, Now: func() time.Time { return coldNow }})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if st := db.ColdStats(); !st.Enabled || st.Reachable || st.Files == 0 {
		t.Fatalf("ColdStats %+v", st)
	}
	// Whole days of raw data: answered by block statistics.
	stmt, _ := query.Parse("SELECT count(n), max(f) FROM c WHERE time >= '2025-03-01T00:00:00Z' AND time < '2025-03-09T00:00:00Z' GROUP BY 1d")
	if res, err := planner.ExecuteWith(ctx, db, stmt, planner.Options{Now: coldNow, RawOnly: true}); err != nil || len(res.Rows) != 8 {
		t.Fatalf("statistics query with the store pending: %v, %v", res, err)
	}
	stmt, _ = query.Parse("SELECT n FROM c WHERE time >= '2025-03-02T00:00:00Z' AND time < '2025-03-03T00:00:00Z'")
	if _, err := planner.ExecuteWith(ctx, db, stmt, planner.Options{Now: coldNow}); err == nil || !strings.Contains(err.Error(), "not reachable yet") || !strings.Contains(err.Error(), "/raw/20250302") {
		t.Fatalf("raw read with the store pending: %v", err)
	}
	if _, err := db.Tier(ctx); !errors.Is(err, ErrColdUnreachable) {
		t.Fatalf("Tier with the store pending: %v", err)
	}
	if err := db.SetCold(s3.store(t)); err != nil {
		t.Fatal(err)
	}
	if err := db.SetCold(s3.store(t)); err == nil {
		t.Fatal("a second SetCold succeeded")
	}
	if got := coldAnswers(t, db); got != want {
		t.Fatalf("answers differ once the store is set:\n%s", firstDiff(got, want))
	}
	settle(t, db, s3)
}

// TestColdAdopt: a node whose disk is lost left its cold files in the
// bucket; a new node adopts them (by the lost node's id) and answers as
// the lost node did, objects a compaction replaced left out.
func TestColdAdopt(t *testing.T) {
	s3 := newFakeS3(t)
	ctx := context.Background()
	dir := t.TempDir()
	db := openColdDB(t, dir, s3.store(t), nil)
	devs := coldData(t, db)
	settle(t, db, s3)
	// A delete over cold data, compacted and tiered again, whose old
	// objects could not be deleted: the bucket holds both.
	day2 := groupT0 + int64(2*24*time.Hour)
	if err := db.Delete(ctx, "c", []model.Tags{{{Key: "device_id", Value: devs[0][0]}}}, day2, day2+int64(5*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := db.Compact(ctx); err != nil {
		t.Fatal(err)
	}
	if err := db.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	s3.noDel.Store(true)
	if _, err := db.Tier(ctx); err == nil {
		t.Fatal("Tier deleted with deletes failing")
	}
	s3.noDel.Store(false)
	want := coldAnswers(t, db)
	id := db.coldList.idString()
	live := len(liveKeys(db))
	if len(s3.keys(t)) <= live {
		t.Fatalf("no replaced object left in the bucket: %d objects, %d cold files", len(s3.keys(t)), live)
	}
	db.Close()

	// The disk is lost; a new node adopts the files.
	db = openColdDB(t, t.TempDir(), s3.store(t), nil)
	defer db.Close()
	if err := db.SetSettings(ctx, "c", coldAfter()); err != nil {
		t.Fatal(err)
	}
	if _, err := db.AdoptCold(ctx, "0123"); err == nil {
		t.Fatal("AdoptCold took a bad id")
	}
	if st, err := db.AdoptCold(ctx, "0123456789abcdef"); err != nil || st.Files != 0 {
		t.Fatalf("AdoptCold of an unknown id: %+v, %v", st, err)
	}
	st, err := db.AdoptCold(ctx, id)
	if err != nil || st.Files != live || st.Superseded == 0 {
		t.Fatalf("AdoptCold: %+v, %v; want %d files and the replaced objects left out", st, err, live)
	}
	if _, err := db.AdoptCold(ctx, id); err == nil || !strings.Contains(err.Error(), "holds data already") {
		t.Fatalf("a second AdoptCold: %v", err)
	}
	if err := db.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got := coldAnswers(t, db); got != want {
		t.Fatalf("the adopting node answers differently:\n%s", firstDiff(got, want))
	}
}

// TestColdLateWriteWhileS3Down: a late write into a cold partition while
// S3 is down is durable; reads of its time fail naming the object, and
// the rollup rebuild that needs the cold data fails (flushes say so)
// until S3 is back; then the answers are the local DB's.
func TestColdLateWriteWhileS3Down(t *testing.T) {
	s3 := newFakeS3(t)
	ctx := context.Background()
	dir := t.TempDir()
	db := openColdDB(t, dir, s3.store(t), nil)
	defer func() { db.Close() }()
	ref := openColdDB(t, t.TempDir(), nil, nil)
	defer ref.Close()
	devs := coldData(t, db)
	coldData(t, ref)
	settle(t, db, s3)
	late := []model.Point{pt("c", devs[1][0], groupT0+int64(4*24*time.Hour)+7, iv("n", 5), fv("f", 2.5))}
	for _, d := range []*DB{db, ref} {
		if err := d.Write(ctx, late); err != nil {
			t.Fatal(err)
		}
	}
	if err := ref.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	s3.down.Store(true)
	if err := db.Flush(ctx); err == nil {
		t.Fatal("the rollup rebuild over cold data succeeded with S3 down")
	}
	// Its time lies in a cold file's block: reading it needs S3, and
	// fails rather than answer without the cold values.
	if cols, err := db.Read(ctx, "c", late[0].Tags, []string{"n"}, late[0].Time, late[0].Time); err == nil || !strings.Contains(err.Error(), "s3://b/") {
		t.Fatalf("the late write's time reads back %v, %v with S3 down", cols, err)
	}
	if db.Health().ConsecutiveFlushFailures == 0 {
		t.Fatal("the failed flush is not in Health")
	}
	// A restart while S3 is down (the store pending) loses nothing.
	db.Close()
	db = openFS(t, dir, nil, Options{ColdPending: true, TierInterval: -1, BlockSize: 16, Now: func() time.Time { return coldNow }})
	s3.down.Store(false)
	if err := db.SetCold(s3.store(t)); err != nil {
		t.Fatal(err)
	}
	if err := db.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got, want := coldAnswers(t, db), coldAnswers(t, ref); got != want {
		t.Fatalf("answers differ from the local DB's:\n%s", firstDiff(got, want))
	}
	settle(t, db, s3)
}
