package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/storage/vfs"
)

// groupT0 is the start of the data the group tests write.
var groupT0 = time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC).UnixNano()

// groupDevices are devices in each of 4 groups (found by GroupOf).
func groupDevices(t testing.TB, db *DB, perGroup int) [][]string {
	t.Helper()
	out := make([][]string, db.NumGroups())
	for i := 0; ; i++ {
		dev := fmt.Sprintf("dev%d", i)
		g := db.GroupOf("c", model.Tags{{Key: "device_id", Value: dev}})
		if len(out[g]) < perGroup {
			out[g] = append(out[g], dev)
		}
		done := true
		for _, ds := range out {
			done = done && len(ds) == perGroup
		}
		if done {
			return out
		}
	}
}

// writeDays writes, for each device, one point every 20 minutes over days
// days from groupT0, with value base + the point's index.
func writeDays(t testing.TB, db *DB, devs []string, days int, base int64) {
	t.Helper()
	var pts []model.Point
	for _, d := range devs {
		for i := int64(0); i < int64(days)*72; i++ {
			pts = append(pts, pt("c", d, groupT0+i*int64(20*time.Minute), iv("n", base+i), fv("f", float64(base+i)/4)))
		}
	}
	if err := db.Write(context.Background(), pts); err != nil {
		t.Fatalf("Write: %v", err)
	}
}

// groupDigest describes everything a query can see of group g in
// collection c: its series, every value, and the summaries ReadParts gives
// at every level for each hour, day and month of the data.
func groupDigest(t *testing.T, db *DB, g int) string {
	t.Helper()
	ctx := context.Background()
	var b strings.Builder
	series := db.SeriesIn("c", func(x int) bool { return x == g }, nil)
	fields, _ := db.Fields("c")
	names := make([]string, 0, len(fields))
	for f := range fields {
		names = append(names, f)
	}
	slices.Sort(names)
	for _, tags := range series {
		fmt.Fprintf(&b, "series %v\n", tags)
		cols, err := db.Read(ctx, "c", tags, names, math.MinInt64, math.MaxInt64)
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
		for _, c := range cols {
			for i := 0; i < c.Len(); i++ {
				fmt.Fprintf(&b, " %s@%d=%v", c.Name, c.Times[i], c.Value(i))
			}
			b.WriteByte('\n')
		}
		for _, l := range []model.Level{model.Level1h, model.Level1d, model.Level1M} {
			for lo := l.Floor(groupT0 - int64(24*time.Hour)); lo < groupT0+int64(8*24*time.Hour); lo = l.Next(lo) {
				for _, f := range names {
					parts, err := db.ReadParts(ctx, "c", tags, f, lo, l.End(lo), func(int64, int64) bool { return true }, l)
					if err != nil {
						t.Fatalf("ReadParts: %v", err)
					}
					var s model.Summary
					for _, p := range parts {
						ps := p.Summary
						if ps == nil {
							v := model.Summarize(&p.Values)
							ps = &v
						}
						s.Merge(ps)
					}
					if s.Count > 0 {
						fmt.Fprintf(&b, " %s %s %d: n=%d si=%d sf=%.3f min=%v max=%v first=%v last=%v\n",
							l, f, lo, s.Count, s.SumInt, s.SumFloat, s.Min, s.Max, s.First, s.Last)
					}
				}
			}
		}
	}
	return b.String()
}

// moveGroup snapshots group g of from and imports it into to.
func moveGroup(t *testing.T, from, to *DB, g int) {
	t.Helper()
	ctx := context.Background()
	snap, err := from.SnapshotGroup(ctx, g)
	if err != nil {
		t.Fatalf("SnapshotGroup: %v", err)
	}
	defer snap.Close()
	if err := to.ImportGroup(ctx, g, snap); err != nil {
		t.Fatalf("ImportGroup: %v", err)
	}
}

func TestGroupAddressing(t *testing.T) {
	db := openFS(t, t.TempDir(), vfs.Default, Options{})
	defer db.Close()
	if db.NumGroups() != 4 {
		t.Fatalf("NumGroups = %d", db.NumGroups())
	}
	devs := groupDevices(t, db, 2)
	for g, ds := range devs {
		for _, d := range ds {
			tags := model.Tags{{Key: "device_id", Value: d}}
			if want := model.GroupOf(model.DeviceOf(model.SeriesKey("c", tags), tags, "device_id"), 4); want != g {
				t.Fatalf("GroupOf(%s) = %d, model says %d", d, g, want)
			}
		}
		writeDays(t, db, ds, 1, 0)
	}
	if err := db.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	writeDays(t, db, devs[1], 1, 100) // in memory
	for g := range 4 {
		got := db.SeriesIn("c", func(x int) bool { return x == g }, nil)
		if len(got) != 2 {
			t.Fatalf("group %d: %d series, want 2", g, len(got))
		}
		for _, tags := range got {
			if !slices.Contains(devs[g], tags.Get("device_id")) {
				t.Fatalf("group %d: series %v is not one of %v", g, tags, devs[g])
			}
		}
		st, err := db.GroupStats(g)
		if err != nil {
			t.Fatal(err)
		}
		wantMem := 0
		if g == 1 {
			wantMem = 2 * 72 * 2
		}
		if st.Series != 2 || st.Files != 1 || st.Bytes <= 0 || st.RollupFiles == 0 || st.MemoryPoints != wantMem {
			t.Fatalf("group %d stats %+v", g, st)
		}
	}
	if got := db.HeldGroups(); !slices.Equal(got, []int{0, 1, 2, 3}) {
		t.Fatalf("HeldGroups = %v", got)
	}
	if n := len(db.SeriesIn("c", nil, nil)); n != 8 {
		t.Fatalf("SeriesIn(all) = %d series", n)
	}
	if n := len(db.SeriesIn("c", func(int) bool { return true }, func(tags model.Tags) bool { return tags.Get("device_id") == devs[2][0] })); n != 1 {
		t.Fatalf("SeriesIn with match = %d series", n)
	}
	if _, err := db.GroupStats(4); err == nil {
		t.Fatal("GroupStats(4) of 4 groups succeeded")
	}
}

// TestGroupMoveRoundTrip moves a group with files, compacted and not, an
// uncompacted delete and rollups into an empty DB and compares every
// answer, before and after the receiver's rollup pass and restart.
func TestGroupMoveRoundTrip(t *testing.T) {
	ctx := context.Background()
	src := openFS(t, t.TempDir(), vfs.Default, Options{})
	defer src.Close()
	devs := groupDevices(t, src, 3)
	for _, ds := range devs {
		writeDays(t, src, ds, 3, 0)
	}
	if err := src.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	const g = 2
	writeDays(t, src, devs[g][:1], 2, 1000) // overwrites: a second file per partition
	if err := src.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	del := model.Tags{{Key: "device_id", Value: devs[g][1]}}
	if err := src.Delete(ctx, "c", []model.Tags{del}, groupT0+int64(5*time.Hour), groupT0+int64(30*time.Hour)); err != nil {
		t.Fatal(err)
	}
	writeDays(t, src, devs[g][2:], 1, 5000) // memory only: SnapshotGroup flushes it
	want := groupDigest(t, src, g)
	if !strings.Contains(want, "n=1000") && !strings.Contains(want, "=1000") {
		t.Fatalf("digest lacks the overwrite:\n%.400s", want)
	}

	dir := t.TempDir()
	dst := openFS(t, dir, vfs.Default, Options{})
	writeDays(t, dst, devs[0], 1, 7) // the receiver's own group 0
	other := groupDigest(t, dst, 0)
	moveGroup(t, src, dst, g)
	for step, check := range []func(){
		func() {},
		func() {
			if err := dst.Flush(ctx); err != nil {
				t.Fatal(err)
			}
		},
		func() {
			if err := dst.Close(); err != nil {
				t.Fatal(err)
			}
			dst = openFS(t, dir, vfs.Default, Options{})
		},
	} {
		check()
		if got := groupDigest(t, dst, g); got != want {
			t.Fatalf("step %d: group %d differs after the move:\n got %.2000s\nwant %.2000s", step, g, got, want)
		}
		if got := groupDigest(t, dst, 0); got != other {
			t.Fatalf("step %d: the receiver's group 0 changed", step)
		}
		if n := len(dst.SeriesIn("c", func(x int) bool { return x != 0 && x != g }, nil)); n != 0 {
			t.Fatalf("step %d: receiver holds %d series of groups not moved", step, n)
		}
	}
	// Rollups are clean after the pass: a 1d read of a whole day is
	// answered by rollup rows.
	parts, err := dst.ReadParts(ctx, "c", model.Tags{{Key: "device_id", Value: devs[g][0]}}, "n",
		groupT0, groupT0+int64(24*time.Hour)-1, func(int64, int64) bool { return true }, model.Level1d)
	if err != nil || len(parts) != 1 || parts[0].Summary == nil || parts[0].Level != model.Level1d {
		t.Fatalf("1d read after the rollup pass: %v, %+v", err, parts)
	}
	dst.Close()
}

// TestImportKeepsNewerWrites: writes of the group the receiver holds
// before the import (in files and in memory) win over the snapshot's.
func TestImportKeepsNewerWrites(t *testing.T) {
	ctx := context.Background()
	src := openFS(t, t.TempDir(), vfs.Default, Options{})
	defer src.Close()
	const g = 1
	devs := groupDevices(t, src, 2)[g]
	writeDays(t, src, devs, 2, 0)
	dir := t.TempDir()
	dst := openFS(t, dir, vfs.Default, Options{})
	// Newer writes reach the receiver first: the first day of devs[0]
	// in a file, the first day of devs[1] in memory.
	writeDays(t, dst, devs[:1], 1, 500)
	if err := dst.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	writeDays(t, dst, devs[1:], 1, 900)
	moveGroup(t, src, dst, g)
	// The oracle: one DB given the same writes in order.
	oracle := openFS(t, t.TempDir(), vfs.Default, Options{})
	defer oracle.Close()
	writeDays(t, oracle, devs, 2, 0)
	writeDays(t, oracle, devs[:1], 1, 500)
	writeDays(t, oracle, devs[1:], 1, 900)
	if err := oracle.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	want := groupDigest(t, oracle, g)
	check := func(when string) {
		if got := groupDigest(t, dst, g); got != want {
			t.Fatalf("%s: answers differ from one DB given the same writes:\n got %.1500s\nwant %.1500s", when, got, want)
		}
		for i, d := range devs {
			got := readAll(t, dst, "c", model.Tags{{Key: "device_id", Value: d}}, "n")["n"]
			if len(got) != 2*72 {
				t.Fatalf("%s: %s has %d values, want %d", when, d, len(got), 2*72)
			}
			for j := int64(0); j < 2*72; j++ {
				want := j
				if j < 72 {
					want += []int64{500, 900}[i]
				}
				if v := got[groupT0+j*int64(20*time.Minute)]; v != model.Int(want) {
					t.Fatalf("%s: %s value %d = %v, want %d", when, d, j, v, want)
				}
			}
		}
	}
	check("after import")
	if err := dst.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	check("after flush")
	if err := dst.Compact(ctx); err != nil {
		t.Fatal(err)
	}
	check("after compaction")
	dst.Close()
	dst = openFS(t, dir, vfs.Default, Options{})
	defer dst.Close()
	check("after restart")
}

// TestImportKindConflict: a field kind clash installs nothing.
func TestImportKindConflict(t *testing.T) {
	ctx := context.Background()
	src := openFS(t, t.TempDir(), vfs.Default, Options{})
	defer src.Close()
	devs := groupDevices(t, src, 1)
	writeDays(t, src, devs[3], 1, 0)
	dst := openFS(t, t.TempDir(), vfs.Default, Options{})
	defer dst.Close()
	if err := dst.Write(ctx, []model.Point{pt("c", devs[0][0], groupT0, fv("n", 1))}); err != nil {
		t.Fatal(err)
	}
	snap, err := src.SnapshotGroup(ctx, 3)
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	if err := dst.ImportGroup(ctx, 3, snap); !errors.Is(err, ErrKindConflict) {
		t.Fatalf("ImportGroup = %v, want ErrKindConflict", err)
	}
	if n := len(dst.SeriesIn("c", nil, nil)); n != 1 {
		t.Fatalf("receiver has %d series after a refused import", n)
	}
	if err := dst.ImportGroup(ctx, 2, snap); err == nil {
		t.Fatal("importing a snapshot of group 3 as group 2 succeeded")
	}
}

// TestDropGroupDoesNotComeBack drops a group with data in files and in
// the WAL only, and checks that neither a restart nor a crash brings it
// back, while later writes to the group stay.
func TestDropGroupDoesNotComeBack(t *testing.T) {
	ctx := context.Background()
	for _, mode := range []string{"close", "crash"} {
		t.Run(mode, func(t *testing.T) {
			dir := t.TempDir()
			fs := vfs.NewCrashableMem()
			db := openFS(t, dir, fs, Options{})
			devs := groupDevices(t, db, 2)
			for _, ds := range devs {
				writeDays(t, db, ds, 2, 0)
			}
			if err := db.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			const g = 0
			// Group 3 is dropped first; group 0's points in the WAL only
			// are numbered between the two drops.
			if err := db.DropGroup(ctx, 3); err != nil {
				t.Fatalf("DropGroup: %v", err)
			}
			writeDays(t, db, devs[g], 1, 300) // WAL and memory only
			keep := groupDigest(t, db, 1)
			if err := db.DropGroup(ctx, g); err != nil {
				t.Fatalf("DropGroup: %v", err)
			}
			if n := len(db.SeriesIn("c", func(x int) bool { return x == g }, nil)); n != 0 {
				t.Fatalf("%d series of the dropped group left", n)
			}
			if got := db.HeldGroups(); !slices.Equal(got, []int{1, 2}) {
				t.Fatalf("HeldGroups after dropping %d = %v", g, got)
			}
			if st, _ := db.GroupStats(g); st != (GroupStats{Group: g}) {
				t.Fatalf("stats of the dropped group: %+v", st)
			}
			later := []model.Point{pt("c", devs[g][0], groupT0+int64(100*time.Hour), iv("n", 42))}
			if err := db.Write(ctx, later); err != nil {
				t.Fatal(err)
			}
			if mode == "close" {
				if err := db.Close(); err != nil {
					t.Fatal(err)
				}
			} else {
				crash(t, db)
				fs = fs.CrashClone()
			}
			for range 2 {
				db = openFS(t, dir, fs, Options{})
				series := db.SeriesIn("c", func(x int) bool { return x == g }, nil)
				if len(series) != 1 {
					t.Fatalf("after reopen: group %d has series %v, want only the later write's", g, series)
				}
				got := readAll(t, db, "c", series[0], "n")["n"]
				if len(got) != 1 || got[groupT0+int64(100*time.Hour)] != model.Int(42) {
					t.Fatalf("after reopen: %v", got)
				}
				if groupDigest(t, db, 1) != keep {
					t.Fatal("group 1 changed")
				}
				if err := db.Flush(ctx); err != nil {
					t.Fatal(err)
				}
				crash(t, db)
				fs = fs.CrashClone()
			}
		})
	}
}

// TestSnapshotPinsSurviveCompaction: files a compaction replaces while a
// snapshot holds them stay readable until the snapshot closes.
func TestSnapshotPinsSurviveCompaction(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	src := openFS(t, dir, vfs.Default, Options{})
	defer src.Close()
	const g = 3
	devs := groupDevices(t, src, 2)[g]
	writeDays(t, src, devs, 2, 0)
	if err := src.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	writeDays(t, src, devs[:1], 1, 50)
	want := groupDigest(t, src, g)
	snap, err := src.SnapshotGroup(ctx, g)
	if err != nil {
		t.Fatal(err)
	}
	before := memColFiles(t, vfs.Default, dir)
	writeDays(t, src, devs[1:], 1, 70)
	if err := src.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := src.Compact(ctx); err != nil {
		t.Fatal(err)
	}
	for _, f := range snap.Files() {
		rc, err := snap.Open(f.Path)
		if err != nil {
			t.Fatalf("Open(%s) after compaction: %v", f.Path, err)
		}
		n, err := io.Copy(io.Discard, rc)
		rc.Close()
		if err != nil || n != f.Size {
			t.Fatalf("%s: read %d bytes (%v), want %d", f.Path, n, err, f.Size)
		}
	}
	dst := openFS(t, t.TempDir(), vfs.Default, Options{})
	defer dst.Close()
	if err := dst.ImportGroup(ctx, g, snap); err != nil {
		t.Fatal(err)
	}
	if got := groupDigest(t, dst, g); got != want {
		t.Fatalf("imported group differs from the snapshot's:\n got %.1500s\nwant %.1500s", got, want)
	}
	if err := snap.Close(); err != nil {
		t.Fatal(err)
	}
	after := memColFiles(t, vfs.Default, dir)
	gone := 0
	for _, f := range snap.Files() {
		if f.Path == ManifestPath {
			continue
		}
		if !slices.Contains(before, "/"+f.Path) {
			t.Fatalf("snapshot file %s was not on disk at snapshot time (%v)", f.Path, before)
		}
		if !slices.Contains(after, "/"+f.Path) {
			gone++
		}
	}
	if gone == 0 {
		t.Fatalf("no file replaced under the snapshot was removed when it closed: %v", after)
	}
	// One raw file per partition of the group is left: the compaction's.
	parts := make(map[string]int)
	for _, p := range after {
		if strings.Contains(p, "group_0003/") && !strings.Contains(p, "rollup_") {
			parts[p[strings.LastIndex(p, "/")+1:][:16]]++
		}
	}
	for p, n := range parts {
		if n != 1 {
			t.Fatalf("partition %s has %d raw files after the snapshot closed: %v", p, n, after)
		}
	}
}

// TestGroupMoveUnderLoad moves a group while both DBs take writes of
// other groups, flush, compact and answer reads, for the race detector
// and for the answers.
func TestGroupMoveUnderLoad(t *testing.T) {
	ctx := context.Background()
	src := openFS(t, t.TempDir(), vfs.Default, Options{})
	defer src.Close()
	dst := openFS(t, t.TempDir(), vfs.Default, Options{})
	defer dst.Close()
	const g = 3
	devs := groupDevices(t, src, 2)
	writeDays(t, src, devs[g], 2, 0)
	want := groupDigest(t, src, g)
	done := make(chan struct{})
	errc := make(chan error, 2)
	for _, db := range []*DB{src, dst} {
		go func() {
			for i := int64(0); ; i++ {
				select {
				case <-done:
					errc <- nil
					return
				default:
				}
				pts := []model.Point{pt("c", devs[0][i%2], groupT0+i, iv("n", i))}
				err := db.Write(ctx, pts)
				if err == nil && i%50 == 0 {
					err = db.Flush(ctx)
				}
				if err == nil && i%120 == 0 {
					err = db.Compact(ctx)
				}
				if err == nil {
					_, err = db.Read(ctx, "c", pts[0].Tags, []string{"n"}, math.MinInt64, math.MaxInt64)
				}
				if err != nil {
					errc <- err
					return
				}
			}
		}()
	}
	moveGroup(t, src, dst, g)
	close(done)
	for range 2 {
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
	if got := groupDigest(t, dst, g); got != want {
		t.Fatalf("group moved under load differs:\n got %.1000s\nwant %.1000s", got, want)
	}
}

// TestImportAppliesForwardedDeletes: a delete made after the snapshot and
// forwarded to the receiver before the import (after ExpectGroup) applies
// to the snapshot's data,
// also after a compaction on the receiver, and a write forwarded after
// the delete survives it.
func TestImportAppliesForwardedDeletes(t *testing.T) {
	ctx := context.Background()
	src := openFS(t, t.TempDir(), vfs.Default, Options{})
	defer src.Close()
	const g = 0
	devs := groupDevices(t, src, 2)
	writeDays(t, src, devs[g], 1, 0)
	dst := openFS(t, t.TempDir(), vfs.Default, Options{})
	defer dst.Close()
	if err := dst.ExpectGroup(g); err != nil {
		t.Fatal(err)
	}
	tags := model.Tags{{Key: "device_id", Value: devs[g][0]}}
	lo, hi := groupT0, groupT0+int64(2*time.Hour)-1
	// The snapshot is taken first; the delete reaches the old owner
	// after it, and is forwarded.
	snap, err := src.SnapshotGroup(ctx, g)
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	for _, db := range []*DB{src, dst} {
		if err := db.Delete(ctx, "c", []model.Tags{tags}, lo, hi); err != nil {
			t.Fatal(err)
		}
	}
	// A later write inside the range, forwarded too.
	p := []model.Point{pt("c", devs[g][0], groupT0+int64(time.Hour), iv("n", 777))}
	for _, db := range []*DB{src, dst} {
		if err := db.Write(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	// Receiver-side work that forgets spent tombstones.
	writeDays(t, dst, devs[1], 1, 0)
	if err := dst.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	writeDays(t, dst, devs[1], 1, 1)
	if err := dst.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := dst.Compact(ctx); err != nil {
		t.Fatal(err)
	}
	// The receiver must still hold the delete when the import comes.
	dst.mu.RLock()
	held := len(dst.tombs)
	dst.mu.RUnlock()
	if held == 0 {
		t.Fatal("the receiver forgot the forwarded delete before the import")
	}
	if err := dst.ImportGroup(ctx, g, snap); err != nil {
		t.Fatal(err)
	}
	got := readAll(t, dst, "c", tags, "n")["n"]
	for ts, v := range got {
		if ts >= lo && ts <= hi && !(ts == groupT0+int64(time.Hour) && v == model.Int(777)) {
			t.Fatalf("deleted point %d = %v came back with the import", ts, v)
		}
	}
	if got[groupT0+int64(time.Hour)] != model.Int(777) {
		t.Fatalf("the write after the delete is lost: %v", got[groupT0+int64(time.Hour)])
	}
	if len(got) != 72-6+1 {
		t.Fatalf("%d values, want %d", len(got), 72-6+1)
	}
}

// TestMoveGroupWhoseRawDataExpired: a group whose old raw data retention
// dropped, kept only in rollups, moves with its rollup rows and answers
// the same on the receiver, before and after its rollup pass.
func TestMoveGroupWhoseRawDataExpired(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(0, groupT0)
	clock := func() time.Time { return now }
	settings := CollectionSettings{}
	settings.Retention[model.LevelRaw] = 48 * time.Hour
	open := func(dir string) *DB {
		db := openFS(t, dir, vfs.Default, Options{Now: clock})
		if err := db.SetSettings(ctx, "c", settings); err != nil {
			t.Fatal(err)
		}
		return db
	}
	src := open(t.TempDir())
	defer src.Close()
	const g = 1
	devs := groupDevices(t, src, 2)
	writeDays(t, src, devs[g], 2, 0)
	if err := src.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	now = now.Add(6 * 24 * time.Hour)
	var pts []model.Point
	for _, d := range devs[g] {
		pts = append(pts, pt("c", d, now.UnixNano(), iv("n", 9), fv("f", 1.5)))
	}
	if err := src.Write(ctx, pts); err != nil {
		t.Fatal(err)
	}
	if err := src.EnforceRetention(ctx); err != nil {
		t.Fatal(err)
	}
	want := groupDigest(t, src, g)
	if !strings.Contains(want, "1d n "+fmt.Sprint(groupT0)+": n=72") {
		t.Fatalf("the sender does not answer the expired days from rollups:\n%.800s", want)
	}
	dir := t.TempDir()
	dst := open(dir)
	moveGroup(t, src, dst, g)
	for step := range 3 {
		if got := groupDigest(t, dst, g); got != want {
			t.Fatalf("step %d: differs:\n got %.1500s\nwant %.1500s", step, got, want)
		}
		switch step {
		case 0:
			if err := dst.Flush(ctx); err != nil {
				t.Fatal(err)
			}
		case 1:
			dst.Close()
			dst = open(dir)
		}
	}
	dst.Close()
}

// TestImportSplitsBySmallerPartition: a receiver with shorter partitions
// than the sender splits the snapshot's files by its own, one file per
// partition holding data (not per partition of the span).
func TestImportSplitsBySmallerPartition(t *testing.T) {
	ctx := context.Background()
	src := openFS(t, t.TempDir(), vfs.Default, Options{PartitionDuration: 1 << 62})
	defer src.Close()
	devs := groupDevices(t, src, 1)
	tags := model.Tags{{Key: "device_id", Value: devs[1][0]}}
	if err := src.Write(ctx, []model.Point{pt("c", devs[1][0], 5, iv("n", 1)), pt("c", devs[1][0], 1<<61, iv("n", 2))}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	dst := openFS(t, dir, vfs.Default, Options{PartitionDuration: time.Hour})
	defer dst.Close()
	moveGroup(t, src, dst, 1)
	got := readAll(t, dst, "c", tags, "n")["n"]
	if len(got) != 2 || got[5] != model.Int(1) || got[1<<61] != model.Int(2) {
		t.Fatalf("values after the import: %v", got)
	}
	if st, _ := dst.GroupStats(1); st.Files != 2 {
		t.Fatalf("%d raw files, want one per hour holding data (2)", st.Files)
	}
}
