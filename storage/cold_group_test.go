package storage

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/planner"
	"github.com/soltixdb/soltix/query"
)

// coldEntries returns a copy of the DB's live cold entries.
func coldEntries(db *DB) []coldEntry {
	db.coldMu.Lock()
	defer db.coldMu.Unlock()
	var out []coldEntry
	for _, e := range db.coldList.entries {
		if !e.gone() {
			out = append(out, e)
		}
	}
	return out
}

// TestColdGroupMoveSharesObjects moves a group whose files are cold: the
// receiver refers to the sender's objects (nothing is uploaded or copied),
// answers as the sender did, and keeps answering once the sender dropped
// the group and compacted, and after a restart; the objects stay until
// the receiver's retention expires them.
func TestColdGroupMoveSharesObjects(t *testing.T) {
	testColdGroupMove(t, newFakeS3(t))
}

// putCounter is a bucket that counts object uploads.
type putCounter interface{ putCount() int64 }

func (f *fakeS3) putCount() int64 { return f.puts.Load() }

func testColdGroupMove(t *testing.T, s3 testBucket) {
	ctx := context.Background()
	src := openColdDB(t, t.TempDir(), s3.store(t), nil)
	defer src.Close()
	dstDir := t.TempDir()
	dst := openColdDB(t, dstDir, s3.store(t), nil)
	defer func() { dst.Close() }()
	coldData(t, src)
	if err := dst.SetSettings(ctx, "c", coldAfter()); err != nil {
		t.Fatal(err)
	}
	if _, err := src.Tier(ctx); err != nil {
		t.Fatal(err)
	}
	const g = 2
	want := groupDigest(t, src, g)
	if gs, err := src.GroupStats(g); err != nil || gs.ColdFiles == 0 || gs.ColdBytes == 0 || gs.RollupFiles == 0 {
		t.Fatalf("GroupStats %+v, %v: want cold files and the local 1M and 1y rollup files", gs, err)
	}
	keys := s3.keys(t)
	var puts int64
	pc, counts := s3.(putCounter)
	if counts {
		puts = pc.putCount()
	}
	moveGroup(t, src, dst, g)
	if counts && pc.putCount() != puts {
		t.Fatalf("the move uploaded %d objects", pc.putCount()-puts)
	}
	if got := s3.keys(t); !slices.Equal(got, keys) {
		t.Fatalf("the move changed the bucket: %d objects, %d before", len(got), len(keys))
	}
	refs := 0
	for _, e := range coldEntries(dst) {
		if !e.shared() || !slices.Contains(keys, e.Key) {
			t.Fatalf("receiver's cold file %+v is not a shared object of the sender", e)
		}
		refs++
	}
	if refs == 0 {
		t.Fatal("the receiver refers to no cold file")
	}
	for _, e := range coldEntries(src) {
		if e.Group == g && !e.shared() {
			t.Fatalf("sender's cold file %+v of the moved group is not marked shared", e)
		}
	}
	if got := groupDigest(t, dst, g); got != want {
		t.Fatalf("receiver answers differently:\n%s", firstDiff(got, want))
	}
	if err := src.DropGroup(ctx, g); err != nil {
		t.Fatal(err)
	}
	if _, err := src.Tier(ctx); err != nil {
		t.Fatal(err)
	}
	for _, e := range coldEntries(dst) {
		if !slices.Contains(s3.keys(t), e.Key) {
			t.Fatalf("the sender's drop deleted %s, which the receiver reads", e.Key)
		}
	}
	dst.Close()
	dst = openColdDB(t, dstDir, s3.store(t), nil)
	if got := groupDigest(t, dst, g); got != want {
		t.Fatalf("receiver answers differently after a restart:\n%s", firstDiff(got, want))
	}
	// A delete over the moved cold data: exact, and compaction rewrites
	// the unit without deleting the shared object.
	devs := dst.SeriesIn("c", func(x int) bool { return x == g }, nil)
	day2 := groupT0 + int64(2*24*time.Hour)
	if err := dst.Delete(ctx, "c", devs[:1], day2, day2+int64(5*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := dst.Compact(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := dst.Tier(ctx); err != nil {
		t.Fatal(err)
	}
	cols, err := dst.Read(ctx, "c", devs[0], []string{"n"}, day2, day2+int64(5*time.Hour))
	if err != nil || cols[0].Len() != 0 {
		t.Fatalf("deleted points read back: %v, %v", cols, err)
	}
	// Retention expires everything but the 1M level: the objects go.
	s := coldAfter()
	s.Retention[model.LevelRaw] = 2 * 24 * time.Hour
	s.ColdAfter[model.LevelRaw] = 24 * time.Hour
	for _, l := range []model.Level{model.Level1h, model.Level1d} {
		s.Retention[l], s.ColdAfter[l] = 20*24*time.Hour, 24*time.Hour
	}
	if err := dst.SetSettings(ctx, "c", s); err != nil {
		t.Fatal(err)
	}
	if _, err := dst.Tier(ctx); err != nil {
		t.Fatal(err)
	}
	if left := coldEntries(dst); len(left) != 0 {
		t.Fatalf("cold files left after retention: %+v", left)
	}
	for _, k := range s3.keys(t) {
		if strings.Contains(k, "/group_0002/") {
			t.Fatalf("object %s of the expired group kept", k)
		}
	}
}

// TestColdImportRewritesWhereTheReceiverHasData: where the receiver holds
// data of a partition already (forwarded writes), the import merges the
// cold files' data with it as it merges copied files, and answers as the
// sender with the forwarded writes on top.
func TestColdImportRewritesWhereTheReceiverHasData(t *testing.T) {
	s3 := newFakeS3(t)
	ctx := context.Background()
	src := openColdDB(t, t.TempDir(), s3.store(t), nil)
	defer src.Close()
	dst := openColdDB(t, t.TempDir(), s3.store(t), nil)
	defer dst.Close()
	ref := openColdDB(t, t.TempDir(), nil, nil)
	defer ref.Close()
	devs := coldData(t, src)
	coldData(t, ref)
	if _, err := src.Tier(ctx); err != nil {
		t.Fatal(err)
	}
	const g = 1
	// A forwarded write into day 3 (a cold partition) and a forwarded
	// delete over day 5, before the import.
	late := []model.Point{pt("c", devs[g][0], groupT0+int64(3*24*time.Hour)+1, iv("n", 77), fv("f", 0.5))}
	del := func(db *DB) error {
		return db.Delete(ctx, "c", []model.Tags{{{Key: "device_id", Value: devs[g][1]}}}, groupT0+int64(5*24*time.Hour), groupT0+int64(6*24*time.Hour)-1)
	}
	if err := dst.ExpectGroup(g); err != nil {
		t.Fatal(err)
	}
	for _, db := range []*DB{dst, ref} {
		if err := db.Write(ctx, late); err != nil {
			t.Fatal(err)
		}
		if err := db.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		if err := del(db); err != nil {
			t.Fatal(err)
		}
	}
	moveGroup(t, src, dst, g)
	if err := dst.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got, want := groupDigest(t, dst, g), groupDigest(t, ref, g); got != want {
		t.Fatalf("receiver answers differently from a DB that had it all:\n%s", firstDiff(got, want))
	}
	n := 0
	for _, e := range coldEntries(dst) {
		if strings.HasPrefix(e.Name, "20250304") || strings.HasPrefix(e.Name, "20250306") {
			t.Fatalf("the partitions the receiver had data in were not rewritten: %+v", e)
		}
		n++
	}
	if n == 0 {
		t.Fatal("the receiver refers to no cold file")
	}
}

// TestTierAlongsideWork runs Tier over and over while writes (late ones
// into cold partitions included), flushes, compactions, deletes and
// queries go on; afterwards the DB answers as a local DB given the same
// writes and deletes, and the bucket holds exactly its cold files.
func TestTierAlongsideWork(t *testing.T) {
	s3 := newFakeS3(t)
	ctx := context.Background()
	db := openColdDB(t, t.TempDir(), s3.store(t), nil)
	defer db.Close()
	ref := openColdDB(t, t.TempDir(), nil, nil)
	defer ref.Close()
	devs := coldData(t, db)
	coldData(t, ref)
	var all []string
	for _, d := range devs {
		all = append(all, d...)
	}
	var mu sync.Mutex
	var written []model.Point
	var deletes []func(*DB) error
	stop := make(chan struct{})
	var wg sync.WaitGroup
	errc := make(chan error, 16)
	loop := func(f func(i int) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if err := f(i); err != nil {
					errc <- err
					return
				}
			}
		}()
	}
	// Writers: one point a call, at a time no other point has (seconds
	// past the minute the base data uses), spread over the 8 cold days
	// and a day after them.
	for w := range 2 {
		loop(func(i int) error {
			dev := all[(i*7+w)%len(all)]
			ts := groupT0 + int64(i%9)*int64(24*time.Hour) + int64(i/9)*int64(time.Minute) + int64(w+1)*int64(time.Second)
			p := pt("c", dev, ts, iv("n", int64(i)), fv("f", float64(w)))
			if err := db.Write(ctx, []model.Point{p}); err != nil {
				return err
			}
			mu.Lock()
			written = append(written, p)
			mu.Unlock()
			if i >= 300 {
				<-stop
			}
			return nil
		})
	}
	loop(func(int) error { return db.Flush(ctx) })
	loop(func(int) error { return db.Compact(ctx) })
	loop(func(int) error { _, err := db.Tier(ctx); return err })
	loop(func(i int) error {
		// Deletes of base data (times on the minute): no writer writes
		// there, so their order against the writes does not matter.
		if i >= 5 {
			<-stop
			return nil
		}
		lo := groupT0 + int64(i+1)*int64(24*time.Hour) + int64(3*time.Hour)
		d := func(db *DB) error {
			return db.Delete(ctx, "c", []model.Tags{{{Key: "device_id", Value: all[i]}}}, lo, lo+int64(2*time.Hour))
		}
		mu.Lock()
		deletes = append(deletes, d)
		mu.Unlock()
		return d(db)
	})
	loop(func(int) error {
		stmt, _ := query.Parse("SELECT count(n), sum(n), max(f) FROM c WHERE time >= '2025-03-01T00:00:00Z' AND time < '2025-03-10T00:00:00Z' GROUP BY 1d")
		_, err := planner.ExecuteWith(ctx, db, stmt, planner.Options{Now: coldNow})
		return err
	})
	deadline := time.After(3 * time.Second)
	select {
	case err := <-errc:
		close(stop)
		wg.Wait()
		t.Fatal(err)
	case <-deadline:
	}
	close(stop)
	wg.Wait()
	select {
	case err := <-errc:
		t.Fatal(err)
	default:
	}
	if err := ref.Write(ctx, written); err != nil {
		t.Fatal(err)
	}
	for _, d := range deletes {
		if err := d(ref); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []*DB{db, ref} {
		if err := d.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	settle(t, db, s3)
	if got, want := coldAnswers(t, db), coldAnswers(t, ref); got != want {
		t.Fatalf("after concurrent work the answers differ from the local DB's (%d writes, %d deletes):\n%s", len(written), len(deletes), firstDiff(got, want))
	}
	t.Logf("%d writes, %d deletes, %d cold files, %+v", len(written), len(deletes), len(coldEntries(db)), db.ColdStats())
}
