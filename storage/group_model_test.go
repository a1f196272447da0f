package storage

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/soltixdb/soltix/internal/timex"
	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/storage/vfs"
)

// moveDigest is groupDigest with the 1y level and raw reads of every
// field, over the span the model tests write.
func moveDigest(t *testing.T, db *DB, g int) string {
	t.Helper()
	ctx := context.Background()
	var b strings.Builder
	// Series with no data left are listed until a compaction forgets
	// them, on one DB as on the other: leave them out.
	for _, block := range strings.Split("\n"+groupDigest(t, db, g), "\nseries ")[1:] {
		if _, rest, _ := strings.Cut(block, "\n"); strings.TrimSpace(rest) != "" {
			b.WriteString("series " + strings.TrimRight(block, "\n") + "\n")
		}
	}
	series := db.SeriesIn("c", func(x int) bool { return x == g }, nil)
	for _, tags := range series {
		for _, f := range []string{"n", "f"} {
			lo := model.Level1y.Floor(groupT0)
			parts, err := db.ReadParts(ctx, "c", tags, f, lo, model.Level1y.End(lo), func(int64, int64) bool { return true }, model.Level1y)
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
				fmt.Fprintf(&b, "%v 1y %s: n=%d si=%d sf=%.3f min=%v max=%v first=%v last=%v\n",
					tags, f, s.Count, s.SumInt, s.SumFloat, s.Min, s.Max, s.First, s.Last)
			}
		}
	}
	return b.String()
}

// TestMoveMatchesOneDB moves a group under random writes, rewrites,
// deletes over several partitions, flushes and compactions on both sides,
// and checks the receiver answers (values and every rollup level) what one
// DB given the same operations in the same order answers, after the
// import, a flush, a compaction and restarts (clean and crash).
// With expire, raw data is kept 48 hours and the clock moves on between
// operations, every DB enforcing retention when it does: old data lives on
// in rollups only.
func TestMoveMatchesOneDB(t *testing.T) {
	for _, expire := range []bool{false, true} {
		for seed := range modelSeeds(40) {
			t.Run(fmt.Sprint(expire, seed), func(t *testing.T) { moveModel(t, uint64(seed), expire) })
		}
	}
}

func moveModel(t *testing.T, seed uint64, expire bool) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(seed, 12))
	const g = 1
	now := time.Unix(0, groupT0).Add(48 * time.Hour)
	settings := CollectionSettings{}
	settings.Retention[model.LevelRaw] = 48 * time.Hour
	open := func(dir string) *DB {
		db := openFS(t, dir, vfs.Default, Options{Now: func() time.Time { return now }})
		if expire {
			if err := db.SetSettings(ctx, "c", settings); err != nil {
				t.Fatal(err)
			}
		}
		return db
	}
	var log []string
	srcDir, dstDir := t.TempDir(), t.TempDir()
	src := open(srcDir)
	defer func() { src.Close() }()
	dst := open(dstDir)
	defer func() { dst.Close() }()
	oracle := open(t.TempDir())
	defer oracle.Close()
	// tick moves the clock on, when expiring, and enforces retention.
	tick := func() {
		if !expire || rng.IntN(4) != 0 {
			return
		}
		now = now.Add(time.Duration(1+rng.IntN(24)) * time.Hour)
		log = append(log, fmt.Sprintf("clock %d", (now.UnixNano()-groupT0)/int64(time.Hour)))
		for _, db := range []*DB{src, dst, oracle} {
			if err := db.EnforceRetention(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	devs := groupDevices(t, src, 2)
	mine, other := devs[g], devs[(g+1)%4]
	step := 10 * time.Minute
	write := func(dbs ...*DB) {
		var pts []model.Point
		n := 1 + rng.IntN(30)
		start := rng.IntN(3 * 144)
		base := groupT0
		if expire {
			// Inside the raw retention: the last 40 hours.
			base, start = now.UnixNano()-int64(40*time.Hour), rng.IntN(6*40-n*3)
		}
		for i := range n {
			d := mine[rng.IntN(2)]
			ts := base + int64(start+i*(1+rng.IntN(3)))*int64(step)
			v := rng.Int64N(1000)
			pts = append(pts, pt("c", d, ts, iv("n", v), fv("f", float64(v)/8)))
		}
		log = append(log, fmt.Sprintf("write %d at %d", n, start))
		for _, db := range dbs {
			if err := db.Write(ctx, pts); err != nil {
				t.Fatal(err)
			}
		}
	}
	del := func(dbs ...*DB) {
		var series []model.Tags
		for _, d := range mine {
			if rng.IntN(2) == 0 {
				series = append(series, model.Tags{{Key: "device_id", Value: d}})
			}
		}
		if len(series) == 0 {
			series = append(series, model.Tags{{Key: "device_id", Value: mine[0]}})
		}
		from, span := groupT0, 3*144
		if expire {
			// Where raw data is kept on every DB: over older time one
			// DB drops the deleted series' rows whole (they cannot be
			// cut), while a receiver that still holds the snapshot's raw
			// data there cuts it exactly; both are right by their data.
			// TestImportAppliesForwardedDeletesToExpiredRollups checks
			// a delete over rows only.
			from = timex.FloorDiv(now.UnixNano()-int64(48*time.Hour), int64(24*time.Hour)) * int64(24*time.Hour)
			span = int((now.UnixNano()-from)/int64(step)) + 1
		}
		lo := from + int64(rng.IntN(span))*int64(step) - int64(time.Minute)
		hi := lo + int64(rng.IntN(2*144))*int64(step)
		log = append(log, fmt.Sprintf("delete %d series [%d,%d]", len(series), (lo-groupT0)/int64(step), (hi-groupT0)/int64(step)))
		for _, db := range dbs {
			if err := db.Delete(ctx, "c", series, lo, hi); err != nil {
				t.Fatal(err)
			}
		}
	}
	chores := func(name string, db *DB) {
		switch rng.IntN(6) {
		case 0:
			log = append(log, "flush "+name)
			if err := db.Flush(ctx); err != nil {
				t.Fatal(err)
			}
		case 1:
			log = append(log, "compact "+name)
			if err := db.Compact(ctx); err != nil {
				t.Fatal(err)
			}
		case 2:
			// Other groups' traffic on the node.
			var pts []model.Point
			for i := range 5 {
				ts := groupT0 + int64(rng.IntN(3*144)+i)*int64(step)
				if expire {
					ts = now.UnixNano() - int64(rng.IntN(200)+i)*int64(step)
				}
				pts = append(pts, pt("c", other[0], ts, iv("n", 1), fv("f", 1)))
			}
			if err := db.Write(ctx, pts); err != nil {
				t.Fatal(err)
			}
		}
	}
	ops := func(n int, dbs ...*DB) {
		for range n {
			if rng.IntN(4) == 0 {
				del(dbs...)
			} else {
				write(dbs...)
			}
			chores("src", src)
			if slices.Contains(dbs, dst) {
				chores("dst", dst)
			}
			if rng.IntN(5) == 0 {
				oracle.Flush(ctx)
			}
			tick()
		}
	}
	ops(3+rng.IntN(6), src, oracle)
	if err := dst.ExpectGroup(g); err != nil {
		t.Fatal(err)
	}
	ops(rng.IntN(5), src, dst, oracle)
	log = append(log, "snapshot")
	snap, err := src.SnapshotGroup(ctx, g)
	if err != nil {
		t.Fatal(err)
	}
	ops(rng.IntN(5), src, dst, oracle)
	log = append(log, "import")
	if err := dst.ImportGroup(ctx, g, snap); err != nil {
		t.Fatal(err)
	}
	snap.Close()
	check := func(when string) {
		t.Helper()
		// An import may bring raw data the clock has moved past since
		// the snapshot; retention drops it as on one DB.
		for _, db := range []*DB{dst, oracle} {
			if err := db.EnforceRetention(ctx); err != nil {
				t.Fatal(err)
			}
		}
		want := moveDigest(t, oracle, g)
		if got := moveDigest(t, dst, g); got != want {
			t.Fatalf("%s: receiver differs from one DB (ops %s):\n%s", when, strings.Join(log, "; "), firstDiff(got, want))
		}
	}
	check("after import")
	for i := range 4 {
		ops(rng.IntN(3), dst, oracle)
		switch rng.IntN(4) {
		case 0:
			dst.Flush(ctx)
		case 1:
			dst.Compact(ctx)
		case 2:
			dst.Close()
			dst = open(dstDir)
		case 3:
			crash(t, dst)
			dst = open(dstDir)
		}
		check(fmt.Sprint("round ", i))
	}
	if err := dst.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	check("final flush")
}

// firstDiff shows the first differing line of two digests.
func firstDiff(got, want string) string {
	a, b := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := range max(len(a), len(b)) {
		var x, y string
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		if x != y {
			return fmt.Sprintf("line %d\n got %.400s\nwant %.400s", i, x, y)
		}
	}
	return "same"
}

// modelSeeds is n, or SOLTIX_MODEL_SEEDS when set (a longer hunt).
func modelSeeds(n int) int {
	if v, err := strconv.Atoi(os.Getenv("SOLTIX_MODEL_SEEDS")); err == nil && v > 0 {
		return v
	}
	return n
}

// TestImportAppliesForwardedDeletesToExpiredRollups: a delete forwarded
// to the receiver over time whose raw data retention dropped (kept only in
// rollups) removes the deleted series' rows from the snapshot's rollups,
// as it does on the sender and on one DB given the same operations.
func TestImportAppliesForwardedDeletesToExpiredRollups(t *testing.T) {
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
	dstDir := t.TempDir()
	src, dst, oracle := open(t.TempDir()), open(dstDir), open(t.TempDir())
	defer func() {
		for _, db := range []*DB{src, dst, oracle} {
			db.Close()
		}
	}()
	const g = 1
	devs := groupDevices(t, src, 2)
	for _, db := range []*DB{src, oracle} {
		writeDays(t, db, devs[g], 2, 0)
		if err := db.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	now = now.Add(6 * 24 * time.Hour)
	for _, db := range []*DB{src, oracle, dst} {
		if err := db.EnforceRetention(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if err := dst.ExpectGroup(g); err != nil {
		t.Fatal(err)
	}
	snap, err := src.SnapshotGroup(ctx, g)
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	// After the snapshot, a delete of one series over its first day
	// (raw data gone, rollup rows kept) reaches the old owner and is
	// forwarded.
	tags := []model.Tags{{{Key: "device_id", Value: devs[g][0]}}}
	for _, db := range []*DB{src, oracle, dst} {
		if err := db.Delete(ctx, "c", tags, groupT0+int64(time.Hour), groupT0+int64(24*time.Hour)-1); err != nil {
			t.Fatal(err)
		}
	}
	if err := dst.ImportGroup(ctx, g, snap); err != nil {
		t.Fatal(err)
	}
	for _, db := range []*DB{src, oracle, dst} {
		if err := db.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	want := moveDigest(t, oracle, g)
	if got := moveDigest(t, src, g); got != want {
		t.Fatalf("the sender differs from one DB:\n%s", firstDiff(got, want))
	}
	for _, when := range []string{"after the rollup pass", "after a restart"} {
		if got := moveDigest(t, dst, g); got != want {
			t.Fatalf("%s: the receiver differs from one DB (deleted rows came back):\n%s", when, firstDiff(got, want))
		}
		dst.Close()
		dst = open(dstDir)
	}
}

// TestMoveBackIgnoresDeletesFromBeforeTheDrop: a delete the old owner
// still holds for another group's sake (it lists series of two groups)
// does not cut the data of the group written on the new owner after it
// when the group moves back.
func TestMoveBackIgnoresDeletesFromBeforeTheDrop(t *testing.T) {
	ctx := context.Background()
	dirA := t.TempDir()
	a := openFS(t, dirA, vfs.Default, Options{})
	b := openFS(t, t.TempDir(), vfs.Default, Options{})
	defer b.Close()
	oracle := openFS(t, t.TempDir(), vfs.Default, Options{})
	defer oracle.Close()
	const g, h = 1, 2
	devs := groupDevices(t, a, 1)
	x, y := devs[g][0], devs[h][0]
	both := []model.Tags{{{Key: "device_id", Value: x}}, {{Key: "device_id", Value: y}}}
	lo, hi := groupT0, groupT0+int64(2*time.Hour)
	for _, db := range []*DB{a, oracle} {
		writeDays(t, db, []string{x, y}, 1, 0)
		if err := db.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		// One delete over both groups' series: A keeps it while group
		// h's file is not compacted.
		if err := db.Delete(ctx, "c", both, lo, hi); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.ExpectGroup(g); err != nil {
		t.Fatal(err)
	}
	moveGroup(t, a, b, g)
	if err := a.DropGroup(ctx, g); err != nil {
		t.Fatal(err)
	}
	// The new owner takes writes of x inside the deleted range.
	for _, db := range []*DB{b, oracle} {
		writeDays(t, db, []string{x}, 1, 700)
		if err := db.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	want := moveDigest(t, oracle, g)
	if got := moveDigest(t, b, g); got != want {
		t.Fatalf("the new owner differs from one DB:\n%s", firstDiff(got, want))
	}
	if err := a.ExpectGroup(g); err != nil {
		t.Fatal(err)
	}
	moveGroup(t, b, a, g)
	for step := range 3 {
		if got := moveDigest(t, a, g); got != want {
			t.Fatalf("step %d: the group moved back lost writes made after the delete:\n%s", step, firstDiff(got, want))
		}
		switch step {
		case 0:
			if err := a.Flush(ctx); err != nil {
				t.Fatal(err)
			}
		case 1:
			crash(t, a)
			a = openFS(t, dirA, vfs.Default, Options{})
		}
	}
	a.Close()
}

// TestImportOfOldRawKeepsOtherGroupsRollups: a snapshot whose raw data is
// older than the receiver's retention horizon (taken before the clock
// moved on) does not make the receiver, once restarted, take the other
// groups' raw data there as complete and rebuild their rollup rows, the
// only copy of their expired data, from nothing.
func TestImportOfOldRawKeepsOtherGroupsRollups(t *testing.T) {
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
	dstDir := t.TempDir()
	src, dst := open(t.TempDir()), open(dstDir)
	defer src.Close()
	const g, h = 1, 2
	devs := groupDevices(t, src, 1)
	writeDays(t, src, devs[g], 2, 0)
	writeDays(t, dst, devs[h], 2, 0)
	for _, db := range []*DB{src, dst} {
		if err := db.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	snap, err := src.SnapshotGroup(ctx, g)
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	now = now.Add(6 * 24 * time.Hour)
	if err := dst.EnforceRetention(ctx); err != nil {
		t.Fatal(err)
	}
	want := moveDigest(t, dst, h)
	if !strings.Contains(want, " 1d n ") {
		t.Fatalf("group %d has no rollup rows to keep:\n%.500s", h, want)
	}
	if err := dst.ImportGroup(ctx, g, snap); err != nil {
		t.Fatal(err)
	}
	crash(t, dst)
	dst = open(dstDir)
	defer func() { dst.Close() }()
	if err := dst.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got := moveDigest(t, dst, h); got != want {
		t.Fatalf("after the import and a restart, group %d's rollups changed:\n%s", h, firstDiff(got, want))
	}
}
