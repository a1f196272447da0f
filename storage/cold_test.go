package storage

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/planner"
	"github.com/soltixdb/soltix/query"
	"github.com/soltixdb/soltix/storage/cold"
	"github.com/soltixdb/soltix/storage/vfs"
)

// coldNow is the clock of the cold tests: 60 days after groupT0, so that
// March 2025 (the data) has ended and 2025 has not.
var coldNow = time.Unix(0, groupT0).Add(60 * 24 * time.Hour)

// coldAfter is a cold_after of one day for raw data and the 1h and 1d
// levels (the 1M level's year has not ended).
func coldAfter() CollectionSettings {
	var s CollectionSettings
	for _, l := range []model.Level{model.LevelRaw, model.Level1h, model.Level1d, model.Level1M} {
		s.ColdAfter[l] = 24 * time.Hour
	}
	return s
}

// openColdDB opens dir with store (nil: no cold store), the cold tests'
// clock and small blocks.
func openColdDB(t testing.TB, dir string, store *cold.Store, fs vfs.FS) *DB {
	t.Helper()
	if fs == nil {
		fs = vfs.Default
	}
	return openFS(t, dir, fs, Options{Cold: store, TierInterval: -1, BlockSize: 16, Now: func() time.Time { return coldNow }})
}

// coldData writes 8 days of data for 3 devices per group, in two flushes
// (two files per partition), and sets coldAfter on collection c.
func coldData(t testing.TB, db *DB) [][]string {
	t.Helper()
	ctx := context.Background()
	devs := groupDevices(t, db, 3)
	var all []string
	for _, d := range devs {
		all = append(all, d...)
	}
	writeDays(t, db, all[:len(all)/2], 8, 0)
	if err := db.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	writeDays(t, db, all[len(all)/2:], 8, 1000)
	if err := db.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := db.SetSettings(ctx, "c", coldAfter()); err != nil {
		t.Fatal(err)
	}
	return devs
}

// coldQueries are queries over collection c at every level, rendered.
func coldQueries(t testing.TB, db *DB) string {
	t.Helper()
	lo, hi := time.Unix(0, groupT0).Add(-24*time.Hour), time.Unix(0, groupT0).Add(9*24*time.Hour)
	rng := fmt.Sprintf("time >= '%s' AND time < '%s'", lo.Format(time.RFC3339), hi.Format(time.RFC3339))
	qs := []string{
		"SELECT count(n), sum(n), min(f), max(f), first(f), last(f) FROM c WHERE " + rng,
		"SELECT count(n), sum(n), min(f), max(f), mean(f) FROM c WHERE " + rng + " GROUP BY 1h FILL(none)",
		"SELECT count(n), sum(n), min(f), max(f), spread(f) FROM c WHERE " + rng + " GROUP BY 1d FILL(none)",
		"SELECT count(n), sum(n), stddev(f) FROM c WHERE " + rng + " GROUP BY 1M FILL(none)",
		"SELECT count(n), sum(f) FROM c WHERE " + rng + " GROUP BY 1d, device_id FILL(none)",
		"SELECT n, f FROM c WHERE time >= '2025-03-03T05:00:00Z' AND time < '2025-03-03T09:00:00Z' AND device_id = 'dev1'",
		"SELECT max(n) FROM c WHERE time >= '2025-03-02T05:10:00Z' AND time < '2025-03-05T09:00:00Z' GROUP BY 7h FILL(none)",
	}
	var b strings.Builder
	for _, q := range qs {
		for _, raw := range []bool{false, true} {
			stmt, err := query.Parse(q)
			if err != nil {
				t.Fatal(err)
			}
			res, err := planner.ExecuteWith(context.Background(), db, stmt, planner.Options{Now: coldNow, RawOnly: raw})
			if err != nil {
				t.Fatalf("%s: %v", q, err)
			}
			fmt.Fprintf(&b, "%s raw=%v:\n", q, raw)
			for _, row := range res.Rows {
				fmt.Fprintf(&b, " %v\n", row)
			}
		}
	}
	return b.String()
}

// coldAnswers is everything the tests compare: the digest of every group
// and the queries.
func coldAnswers(t *testing.T, db *DB) string {
	t.Helper()
	var b strings.Builder
	for g := range db.NumGroups() {
		b.WriteString(groupDigest(t, db, g))
	}
	b.WriteString(coldQueries(t, db))
	return b.String()
}

// coldDue counts the files of coldData that coldAfter moves: all but
// those of the 1M level (its year has not ended) and the 1y level.
func coldDue(files []string) int {
	n := 0
	for _, p := range files {
		if !strings.Contains(p, "rollup_1M") && !strings.Contains(p, "rollup_1y") {
			n++
		}
	}
	return n
}

// localCols lists the .col files below dir's collections.
func localCols(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(filepath.Join(dir, collectionsDir), func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".col") {
			out = append(out, p)
		}
		return nil
	})
	return out
}

func TestTierMovesFilesAndAnswersTheSame(t *testing.T) {
	testTierMoves(t, newFakeS3(t))
}

func testTierMoves(t *testing.T, s3 testBucket) {
	dir := t.TempDir()
	ctx := context.Background()
	db := openColdDB(t, dir, s3.store(t), nil)
	coldData(t, db)
	want := coldAnswers(t, db)
	before := localCols(t, dir)
	due := coldDue(before)

	st, err := db.Tier(ctx)
	if err != nil {
		t.Fatalf("Tier: %v", err)
	}
	if st.Uploaded != due || st.Failed != 0 || st.ColdFiles != due {
		t.Fatalf("Tier: %+v, want %d uploaded", st, due)
	}
	after := localCols(t, dir)
	if len(after) != len(before)-st.Uploaded {
		t.Fatalf("%d local files before, %d after %d uploads", len(before), len(after), st.Uploaded)
	}
	for _, p := range after {
		if !strings.Contains(p, "rollup_1M") && !strings.Contains(p, "rollup_1y") {
			t.Fatalf("local file left: %s", p)
		}
	}
	if keys := s3.keys(t); len(keys) != st.Uploaded {
		t.Fatalf("%d objects for %d uploads", len(keys), st.Uploaded)
	}
	if got := coldAnswers(t, db); got != want {
		t.Fatalf("answers differ after tiering:\n%s", firstDiff(got, want))
	}
	// A second run has nothing to do.
	if st, err := db.Tier(ctx); err != nil || st.Uploaded != 0 || st.ColdFiles != due {
		t.Fatalf("second Tier: %+v, %v", st, err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	// A restart answers the same, from a fresh cache.
	store := s3.store(t)
	db = openColdDB(t, dir, store, nil)
	if got := coldAnswers(t, db); got != want {
		t.Fatalf("answers differ after a restart:\n%s", firstDiff(got, want))
	}
	db.Close()

	// Without the cold store the directory does not open.
	o := Options{Logger: quiet, FlushInterval: -1, TierInterval: -1, NumGroups: 4}
	if db, err := Open(dir, &o); err == nil || !strings.Contains(err.Error(), "no cold store is configured") {
		if db != nil {
			db.Close()
		}
		t.Fatalf("Open without a cold store: %v", err)
	}
}

func TestColdStatsAnswerWithoutFetching(t *testing.T) {
	s3 := newFakeS3(t)
	dir := t.TempDir()
	db := openColdDB(t, dir, s3.store(t), nil)
	coldData(t, db)
	if _, err := db.Tier(context.Background()); err != nil {
		t.Fatal(err)
	}
	db.Close()
	db = openColdDB(t, dir, s3.store(t), nil)
	defer db.Close()
	gets := s3.gets.Load()
	// Whole days of raw data: block statistics answer, no block is read.
	days := "SELECT count(n), sum(n), max(f) FROM c WHERE time >= '2025-03-01T00:00:00Z' AND time < '2025-03-09T00:00:00Z' GROUP BY 1d"
	run := func(q string, raw bool) model.ColdReadStats {
		t.Helper()
		stmt, _ := query.Parse(q)
		ctx := model.WithColdReads(context.Background(), &model.ColdReads{})
		res, err := planner.ExecuteWith(ctx, db, stmt, planner.Options{Now: coldNow, RawOnly: raw})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Rows) != 8 {
			t.Fatalf("%d rows", len(res.Rows))
		}
		return model.ColdReadsFrom(ctx).Stats()
	}
	if c := run(days, true); c != (model.ColdReadStats{}) {
		t.Fatalf("block statistics read cold blocks: %+v", c)
	}
	if n := s3.gets.Load() - gets; n != 0 {
		t.Fatalf("%d GETs for a query block statistics answer", n)
	}
	// Through the rollups: the 1d rows are read (from the 1d level's cold
	// files, one per group), no raw block.
	if c := run(days, false); c.Objects != int64(db.NumGroups()) || c.Fetched == 0 {
		t.Fatalf("1d rows: cold reads %+v", c)
	}
	if n := s3.gets.Load() - gets; n != int64(db.NumGroups()) {
		t.Fatalf("%d GETs for the 1d rows of %d groups", n, db.NumGroups())
	}
	// A raw select reads blocks: counted, and cached the second time (in
	// the cold store's local cache, or as colfile's stored blocks, which
	// then are not read at all).
	stmt, _ := query.Parse("SELECT n FROM c WHERE time >= '2025-03-02T00:00:00Z' AND time < '2025-03-03T00:00:00Z'")
	var first model.ColdReadStats
	for i := range 2 {
		ctx := model.WithColdReads(context.Background(), &model.ColdReads{})
		if _, err := planner.ExecuteWith(ctx, db, stmt, planner.Options{Now: coldNow}); err != nil {
			t.Fatal(err)
		}
		c := model.ColdReadsFrom(ctx).Stats()
		if i == 0 {
			first = c
			if c.Objects == 0 || c.Bytes == 0 || c.Fetched == 0 {
				t.Fatalf("first run: cold reads %+v", c)
			}
		} else if c.Fetched != 0 || c.Objects > first.Objects || c.Bytes > first.Bytes {
			// Fewer bytes may be read the second time: the times other
			// columns share stay decoded (colfile's sharedTimes), the
			// blocks' stored bytes too (colfile's storedBlocks).
			t.Fatalf("second run %+v, first %+v: want the same reads (or fewer) from the cache", c, first)
		}
	}
}

func TestTierFailsSafelyAndResumes(t *testing.T) {
	s3 := newFakeS3(t)
	dir := t.TempDir()
	ctx := context.Background()
	db := openColdDB(t, dir, s3.store(t), nil)
	defer db.Close()
	coldData(t, db)
	want := coldAnswers(t, db)
	before := localCols(t, dir)
	due := coldDue(before)

	s3.down.Store(true)
	st, err := db.Tier(ctx)
	if err == nil || st.Uploaded != 0 || st.Failed != tierMaxFailures || st.Waiting == 0 {
		t.Fatalf("Tier with S3 down: %+v, %v", st, err)
	}
	if after := localCols(t, dir); !slices.Equal(after, before) {
		t.Fatalf("local files changed with S3 down: %d before, %d after", len(before), len(after))
	}
	if got := coldAnswers(t, db); got != want {
		t.Fatalf("answers differ after a failed Tier:\n%s", firstDiff(got, want))
	}
	// The background run waits out the backoff of the files that failed.
	s3.down.Store(false)
	bst, err := db.tier(ctx, true)
	if err != nil || bst.Waiting != tierMaxFailures {
		t.Fatalf("background run after the failure: %+v, %v", bst, err)
	}
	if cs := db.ColdStats(); cs.UploadFailures != tierMaxFailures {
		t.Fatalf("ColdStats %+v", cs)
	}
	st, err = db.Tier(ctx)
	if err != nil || st.Uploaded+bst.Uploaded != due {
		t.Fatalf("Tier once S3 is back: %+v (background %+v), %v", st, bst, err)
	}
	if got := coldAnswers(t, db); got != want {
		t.Fatalf("answers differ after tiering:\n%s", firstDiff(got, want))
	}
}

func TestColdReadFailuresNameTheObject(t *testing.T) {
	s3 := newFakeS3(t)
	dir := t.TempDir()
	ctx := context.Background()
	db := openColdDB(t, dir, s3.store(t), nil)
	coldData(t, db)
	if _, err := db.Tier(ctx); err != nil {
		t.Fatal(err)
	}
	db.Close()
	// Pick the raw object of one day of group 0.
	var key string
	for _, k := range s3.keys(t) {
		if strings.Contains(k, "group_0000/raw/20250303") {
			key = k
			break
		}
	}
	if key == "" {
		t.Fatal("no object of 2025-03-03")
	}
	raw := "SELECT n FROM c WHERE time >= '2025-03-03T00:00:00Z' AND time < '2025-03-04T00:00:00Z'"
	orig := s3.object(t, key)
	for _, tc := range []struct {
		name  string
		setup func()
	}{
		{"down", func() { s3.down.Store(true) }},
		{"short body", func() { s3.short.Store(true) }},
		{"corrupt byte", func() {
			b := slices.Clone(orig)
			b[colfileHeaderSize()+5] ^= 0x40
			s3.replace(t, key, b)
		}},
		{"truncated", func() { s3.replace(t, key, orig[:len(orig)-100]) }},
		{"missing", func() {
			if err := s3.store(t).Delete(ctx, key); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := openColdDB(t, dir, s3.store(t), nil)
			defer db.Close()
			tc.setup()
			defer func() {
				s3.down.Store(false)
				s3.short.Store(false)
				s3.replace(t, key, orig)
			}()
			stmt, _ := query.Parse(raw)
			res, err := planner.ExecuteWith(ctx, db, stmt, planner.Options{Now: coldNow})
			if err == nil {
				t.Fatalf("query answered %d rows", len(res.Rows))
			}
			if !strings.Contains(err.Error(), key) {
				t.Fatalf("error does not name the object %s: %v", key, err)
			}
		})
	}
}

// colfileHeaderSize is where the first block of a colfile starts.
func colfileHeaderSize() int { return 10 }

func TestColdFileSettingsValidate(t *testing.T) {
	for _, tc := range []struct {
		spec SettingsSpec
		err  string
	}{
		{SettingsSpec{ColdAfter: map[string]string{"raw": "30d", "1h": "90d"}}, ""},
		{SettingsSpec{ColdAfter: map[string]string{"raw": "off"}}, ""},
		{SettingsSpec{ColdAfter: map[string]string{"1y": "30d"}}, "1y level"},
		{SettingsSpec{ColdAfter: map[string]string{"2h": "30d"}}, "unknown level"},
		{SettingsSpec{ColdAfter: map[string]string{"raw": "forever"}}, "want off"},
		{SettingsSpec{ColdAfter: map[string]string{"raw": "-1d"}}, "want off"},
		{SettingsSpec{ColdAfter: map[string]string{"raw": "30d"}, Retention: map[string]string{"raw": "7d"}}, "not shorter than its retention"},
	} {
		s, err := tc.spec.Apply(CollectionSettings{})
		if tc.err == "" {
			if err != nil {
				t.Fatalf("%+v: %v", tc.spec, err)
			}
			back, err := s.Spec().Apply(CollectionSettings{})
			if err != nil || back != s {
				t.Fatalf("%+v: round trip %+v, %v", tc.spec, back, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Fatalf("%+v: %v, want %q", tc.spec, err, tc.err)
		}
	}
	// Without cold_after the spec is what it was.
	if sp := (CollectionSettings{}).Spec(); sp.ColdAfter != nil {
		t.Fatalf("spec %+v", sp)
	}
	_ = errors.New
}

// liveKeys returns the object keys of the DB's cold files.
func liveKeys(db *DB) []string {
	db.coldMu.Lock()
	defer db.coldMu.Unlock()
	var out []string
	for _, e := range db.coldList.entries {
		if !e.gone() {
			out = append(out, e.Key)
		}
	}
	slices.Sort(out)
	return out
}

// settle runs Tier and checks that the bucket holds exactly the DB's cold
// files: nothing leaked, nothing missing.
func settle(t *testing.T, db *DB, s3 testBucket) TierStats {
	t.Helper()
	st, err := db.Tier(context.Background())
	if err != nil {
		t.Fatalf("Tier: %v", err)
	}
	if got, want := s3.keys(t), liveKeys(db); !slices.Equal(got, want) {
		t.Fatalf("bucket holds %d objects, the DB %d cold files:\n%v\n%v", len(got), len(want), got, want)
	}
	return st
}

func TestColdDeletesRetentionLateWritesAndDrops(t *testing.T) {
	testColdLifecycle(t, newFakeS3(t))
}

func testColdLifecycle(t *testing.T, s3 testBucket) {
	ctx := context.Background()
	refDir, dir := t.TempDir(), t.TempDir()
	ref := openColdDB(t, refDir, nil, nil)
	defer func() { ref.Close() }()
	db := openColdDB(t, dir, s3.store(t), nil)
	defer func() { db.Close() }()
	devs := coldData(t, ref)
	coldData(t, db)
	settle(t, db, s3)
	both := func(what string, op func(db *DB) error) {
		t.Helper()
		for _, d := range []*DB{ref, db} {
			if err := op(d); err != nil {
				t.Fatalf("%s: %v", what, err)
			}
		}
		if got, want := coldAnswers(t, db), coldAnswers(t, ref); got != want {
			t.Fatalf("after %s the answers differ from the local DB's:\n%s", what, firstDiff(got, want))
		}
	}
	day := func(d int, h int) int64 { return groupT0 + int64(d)*int64(24*time.Hour) + int64(h)*int64(time.Hour) }
	dev := devs[0][0]
	tags := model.Tags{{Key: "device_id", Value: dev}}

	both("a delete over cold data", func(db *DB) error {
		return db.Delete(ctx, "c", []model.Tags{tags}, day(2, 10), day(3, 4))
	})
	both("a late write into a cold partition", func(db *DB) error {
		if err := db.Write(ctx, []model.Point{pt("c", dev, day(4, 7)+1, iv("n", -7), fv("f", -7.5)), pt("c", devs[2][1], day(5, 1)+1, iv("n", 9))}); err != nil {
			return err
		}
		return db.Flush(ctx)
	})
	nCold := len(liveKeys(db))
	both("compaction", func(db *DB) error { return db.Compact(ctx) })
	t.Logf("cold files: %d before compaction, %d after", nCold, len(liveKeys(db)))
	if n := len(liveKeys(db)); n >= nCold {
		t.Fatalf("compaction of the deleted days left %d cold files of %d", n, nCold)
	}
	if st := settle(t, db, s3); st.Deleted == 0 || st.Uploaded == 0 {
		t.Fatalf("Tier after compaction: %+v, want the replaced objects deleted and the new files uploaded", st)
	}
	both("a restart", func(d *DB) error {
		if err := d.Close(); err != nil {
			return err
		}
		nd := openColdDB(t, map[*DB]string{ref: refDir, db: dir}[d], map[*DB]*cold.Store{ref: nil, db: s3.store(t)}[d], nil)
		if d == ref {
			ref = nd
		} else {
			db = nd
		}
		return nil
	})
	both("retention", func(db *DB) error {
		s := coldAfter()
		s.Retention[model.LevelRaw] = 58 * 24 * time.Hour
		s.Retention[model.Level1h] = 58 * 24 * time.Hour
		return db.SetSettings(ctx, "c", s)
	})
	for _, k := range s3.keys(t) {
		if strings.Contains(k, "/raw/20250301") || strings.Contains(k, "/1h/20250302") {
			// Not deleted yet: the tierer does it.
			settle(t, db, s3)
			break
		}
	}
	for _, k := range s3.keys(t) {
		if strings.Contains(k, "/raw/20250301") || strings.Contains(k, "/raw/20250302") || strings.Contains(k, "/1h/20250301") {
			t.Fatalf("expired object %s kept", k)
		}
	}
	both("dropping a group", func(db *DB) error { return db.DropGroup(ctx, 1) })
	settle(t, db, s3)
	for _, k := range s3.keys(t) {
		if strings.Contains(k, "/group_0001/") {
			t.Fatalf("object %s of a dropped group kept", k)
		}
	}
}
