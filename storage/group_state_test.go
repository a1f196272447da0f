package storage

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/storage/vfs"
	"github.com/soltixdb/soltix/storage/vfs/errorfs"
)

// checkGroupMemory checks that every group's memory counts are its
// series' values in memory, that they add up to the DB's totals, and that
// GroupStats and Health agree with them. It returns the values in memory
// by group.
func checkGroupMemory(t *testing.T, db *DB, when string) []int {
	t.Helper()
	db.mu.RLock()
	var mem, imm int
	for _, g := range db.groups {
		var gm, gi int
		for _, series := range g.series {
			for _, s := range series {
				if s.mem != nil {
					gm += s.mem.points
				}
				if s.imm != nil {
					gi += s.imm.points
				}
			}
		}
		if gm != g.memPoints || gi != g.immPoints {
			t.Errorf("%s: group %d counts %d active and %d flushing values, its series hold %d and %d", when, g.id, g.memPoints, g.immPoints, gm, gi)
		}
		mem += g.memPoints
		imm += g.immPoints
	}
	if mem != db.memPoints || imm != db.immPoints {
		t.Errorf("%s: groups add up to %d active and %d flushing values, the DB counts %d and %d", when, mem, imm, db.memPoints, db.immPoints)
	}
	db.mu.RUnlock()
	out := make([]int, db.NumGroups())
	sum := 0
	for g := range out {
		st, err := db.GroupStats(g)
		if err != nil {
			t.Fatal(err)
		}
		out[g] = st.MemoryPoints
		sum += st.MemoryPoints
	}
	if h := db.Health().MemoryPoints; h != sum {
		t.Errorf("%s: GroupStats add up to %d values in memory, Health says %d", when, sum, h)
	}
	return out
}

// TestGroupMemoryCounts: the values each group holds in memory add up to
// the DB's totals through writes, deletes, failed and successful flushes,
// drops, imports and a restart's replay.
func TestGroupMemoryCounts(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	fs := errorfs.New(vfs.Default)
	db := openFS(t, dir, fs, Options{})
	devs := groupDevices(t, db, 2)
	for _, ds := range devs {
		writeDays(t, db, ds, 1, 0) // 72 points of 2 fields per device
	}
	want := []int{288, 288, 288, 288}
	if got := checkGroupMemory(t, db, "after writes"); !slices.Equal(got, want) {
		t.Fatalf("after writes: group memory %v, want %v", got, want)
	}
	// Delete the first 12 points of one device of group 1.
	dev := model.Tags{{Key: "device_id", Value: devs[1][0]}}
	if err := db.Delete(ctx, "c", []model.Tags{dev}, math.MinInt64, groupT0+int64(11*20*time.Minute)); err != nil {
		t.Fatal(err)
	}
	want[1] -= 24
	if got := checkGroupMemory(t, db, "after a delete"); !slices.Equal(got, want) {
		t.Fatalf("after a delete: group memory %v, want %v", got, want)
	}
	// A failed flush folds the flushing generation back.
	fs.Inject(errorfs.Rule{Op: errorfs.OpSync, Path: "*.col.tmp", Err: syscall.EIO})
	if err := db.Flush(ctx); err == nil {
		t.Fatal("Flush with failing fsync succeeded")
	}
	fs.Clear()
	writeDays(t, db, devs[2][:1], 1, 100) // the same times again: 144 more values
	want[2] += 144
	if got := checkGroupMemory(t, db, "after a failed flush"); !slices.Equal(got, want) {
		t.Fatalf("after a failed flush: group memory %v, want %v", got, want)
	}
	// A restart replays the WAL into the same counts.
	crash(t, db)
	db = openFS(t, dir, vfs.Default, Options{})
	if got := checkGroupMemory(t, db, "after replay"); !slices.Equal(got, want) {
		t.Fatalf("after replay: group memory %v, want %v", got, want)
	}
	if err := db.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	want = []int{0, 0, 0, 0}
	if got := checkGroupMemory(t, db, "after a flush"); !slices.Equal(got, want) {
		t.Fatalf("after a flush: group memory %v, want %v", got, want)
	}
	for _, ds := range devs {
		writeDays(t, db, ds[:1], 1, 200)
	}
	want = []int{144, 144, 144, 144}
	if err := db.DropGroup(ctx, 3); err != nil {
		t.Fatal(err)
	}
	want[3] = 0
	if got := checkGroupMemory(t, db, "after a drop"); !slices.Equal(got, want) {
		t.Fatalf("after a drop: group memory %v, want %v", got, want)
	}
	// An import flushes nothing on the receiver: its memory stays.
	src := openFS(t, t.TempDir(), vfs.Default, Options{})
	defer src.Close()
	writeDays(t, src, devs[2], 2, 500)
	moveGroup(t, src, db, 2)
	if got := checkGroupMemory(t, db, "after an import"); !slices.Equal(got, want) {
		t.Fatalf("after an import: group memory %v, want %v", got, want)
	}
	checkGroupMemory(t, src, "the sender after a snapshot")
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

// lastSeqs returns LastSeq of every group.
func lastSeqs(db *DB) []uint64 {
	out := make([]uint64, db.NumGroups())
	for g := range out {
		out[g] = db.LastSeq(g)
	}
	return out
}

// TestGroupLastSeq: LastSeq moves for the group a write, delete, flush,
// drop or import changes and for no other, and a restart (clean or after
// a crash) gives the same numbers back.
func TestGroupLastSeq(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	fs := vfs.NewCrashableMem()
	db := openFS(t, dir, fs, Options{})
	devs := groupDevices(t, db, 1)
	if got := lastSeqs(db); !slices.Equal(got, make([]uint64, 4)) {
		t.Fatalf("new DB: LastSeq %v, want zeros", got)
	}
	if db.LastSeq(-1) != 0 || db.LastSeq(4) != 0 {
		t.Fatal("LastSeq of a group outside the DB is not 0")
	}
	// moved checks that exactly the groups listed moved up from before.
	moved := func(when string, before []uint64, groups ...int) []uint64 {
		t.Helper()
		now := lastSeqs(db)
		for g := range now {
			if slices.Contains(groups, g) {
				if now[g] <= before[g] {
					t.Errorf("%s: LastSeq(%d) = %d, want above %d", when, g, now[g], before[g])
				}
			} else if now[g] != before[g] {
				t.Errorf("%s: LastSeq(%d) moved from %d to %d", when, g, before[g], now[g])
			}
		}
		return now
	}
	// reopen restarts the DB (crash: without a flush, from a crash
	// image) and checks that LastSeq comes back unchanged.
	reopen := func(when string, crashed bool) {
		t.Helper()
		before := lastSeqs(db)
		if crashed {
			crash(t, db)
			fs = fs.CrashClone()
		} else {
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			before = lastSeqs(db) // Close flushed
		}
		db = openFS(t, dir, fs, Options{})
		moved(when, before)
		// Later changes take higher numbers than every group's.
		top := slices.Max(before)
		if err := db.Write(ctx, []model.Point{pt("c", devs[0][0], groupT0, iv("n", 1))}); err != nil {
			t.Fatal(err)
		}
		if got := db.LastSeq(0); got <= top {
			t.Errorf("%s: a write after the restart took %d, not above %d", when, got, top)
		}
	}
	s := lastSeqs(db)
	writeDays(t, db, devs[1], 1, 0)
	s = moved("a write to group 1", s, 1)
	writeDays(t, db, devs[2], 1, 0)
	s = moved("a write to group 2", s, 2)
	if err := db.Delete(ctx, "c", []model.Tags{{{Key: "device_id", Value: devs[1][0]}}}, groupT0, groupT0+int64(time.Hour)); err != nil {
		t.Fatal(err)
	}
	s = moved("a delete in group 1", s, 1)
	// A delete naming a series this DB does not hold still names its group.
	if err := db.Delete(ctx, "c", []model.Tags{{{Key: "device_id", Value: devs[3][0]}}}, groupT0, groupT0+int64(time.Hour)); err != nil {
		t.Fatal(err)
	}
	moved("a delete in group 3", s, 3)
	reopen("replay after a crash", true)
	s = lastSeqs(db)
	if err := db.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	// Group 0 got a write in reopen, group 1 and 2 have memory; group 3
	// only a delete, which writes no file.
	s = moved("a flush", s, 0, 1, 2)
	reopen("a clean restart", false)
	reopen("a crash after a flush", true)
	if err := db.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := db.Compact(ctx); err != nil {
		t.Fatal(err)
	}
	reopen("a crash after a compaction", true)
	s = lastSeqs(db)
	if err := db.DropGroup(ctx, 2); err != nil {
		t.Fatal(err)
	}
	s = moved("a drop of group 2", s, 2)
	reopen("a crash after a drop", true)

	// An import gives the group numbers of the receiver's, above all.
	src := openFS(t, t.TempDir(), vfs.Default, Options{})
	defer src.Close()
	writeDays(t, src, devs[2], 2, 500)
	s = lastSeqs(db)
	moveGroup(t, src, db, 2)
	moved("an import of group 2", s, 2)
	reopen("a crash after an import", true)
	reopen("a clean restart after an import", false)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestGroupEpoch: SetGroupEpoch is durable (a crash right after keeps
// it), only goes forward, survives a drop, and a drop survives it.
func TestGroupEpoch(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	fs := vfs.NewCrashableMem()
	db := openFS(t, dir, fs, Options{})
	devs := groupDevices(t, db, 1)
	reopen := func() {
		t.Helper()
		crash(t, db)
		fs = fs.CrashClone()
		db = openFS(t, dir, fs, Options{})
	}
	epochs := func() []uint64 {
		out := make([]uint64, db.NumGroups())
		for g := range out {
			out[g] = db.GroupEpoch(g)
		}
		return out
	}
	if got := epochs(); !slices.Equal(got, []uint64{0, 0, 0, 0}) {
		t.Fatalf("new DB: epochs %v", got)
	}
	steps := []struct {
		g       int
		epoch   uint64
		wantErr error
		want    []uint64
	}{
		{1, 5, nil, []uint64{0, 5, 0, 0}},
		{2, 3, nil, []uint64{0, 5, 3, 0}},
		{1, 5, nil, []uint64{0, 5, 3, 0}},               // the same again
		{1, 4, ErrEpochBackwards, []uint64{0, 5, 3, 0}}, // backwards
		{1, 9, nil, []uint64{0, 9, 3, 0}},
		{2, 0, ErrEpochBackwards, []uint64{0, 9, 3, 0}},
	}
	for i, s := range steps {
		err := db.SetGroupEpoch(s.g, s.epoch)
		if !errors.Is(err, s.wantErr) || (s.wantErr == nil) != (err == nil) {
			t.Fatalf("step %d: SetGroupEpoch(%d, %d) = %v, want %v", i, s.g, s.epoch, err, s.wantErr)
		}
		reopen()
		if got := epochs(); !slices.Equal(got, s.want) {
			t.Fatalf("step %d: after a crash, epochs %v, want %v", i, got, s.want)
		}
	}
	for _, g := range []int{-1, 4} {
		if err := db.SetGroupEpoch(g, 1); err == nil {
			t.Errorf("SetGroupEpoch(%d) of a group outside the DB succeeded", g)
		}
		if db.GroupEpoch(g) != 0 {
			t.Errorf("GroupEpoch(%d) of a group outside the DB is not 0", g)
		}
	}
	// A drop keeps the epochs; an epoch written after it keeps the drop.
	writeDays(t, db, devs[1], 1, 0)
	if err := db.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := db.DropGroup(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if err := db.SetGroupEpoch(3, 2); err != nil {
		t.Fatal(err)
	}
	reopen()
	if got := epochs(); !slices.Equal(got, []uint64{0, 9, 3, 2}) {
		t.Fatalf("after a drop: epochs %v", got)
	}
	if n := len(db.SeriesIn("c", nil, nil)); n != 0 {
		t.Fatalf("the dropped group came back with %d series", n)
	}
	// A failed write of groups.json records nothing.
	efs := errorfs.New(vfs.Default)
	edir := t.TempDir()
	edb := openFS(t, edir, efs, Options{})
	efs.Inject(errorfs.Rule{Op: errorfs.OpSync, Path: "groups.json.tmp", Err: syscall.EIO})
	if err := edb.SetGroupEpoch(0, 7); !errors.Is(err, syscall.EIO) {
		t.Fatalf("SetGroupEpoch with failing fsync = %v, want EIO", err)
	}
	if e := edb.GroupEpoch(0); e != 0 {
		t.Fatalf("after a failed SetGroupEpoch: epoch %d", e)
	}
	efs.Clear()
	if err := edb.SetGroupEpoch(0, 7); err != nil {
		t.Fatal(err)
	}
	if err := edb.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestGroupsFileCompatible: groups.json written before epochs and
// last_seq existed is read, and the file written now keeps "dropped" as
// the older versions read it.
func TestGroupsFileCompatible(t *testing.T) {
	dir := t.TempDir()
	db := openFS(t, dir, vfs.Default, Options{})
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	old := `{"dropped": {"2": 40}}`
	if err := os.WriteFile(filepath.Join(dir, groupsFileName), []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	db = openFS(t, dir, vfs.Default, Options{})
	if got := db.LastSeq(2); got != 40 {
		t.Fatalf("LastSeq of a group dropped at 40 = %d", got)
	}
	if err := db.SetGroupEpoch(1, 3); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, groupsFileName))
	if err != nil {
		t.Fatal(err)
	}
	var older struct {
		Dropped map[string]uint64 `json:"dropped"`
	}
	if err := json.Unmarshal(b, &older); err != nil || older.Dropped["2"] != 40 || len(older.Dropped) != 1 {
		t.Fatalf("an older reader sees dropped %v (%v) in %s", older.Dropped, err, b)
	}
	var now groupsFile
	if err := json.Unmarshal(b, &now); err != nil || now.Epochs["1"] != 3 {
		t.Fatalf("epochs %v (%v) in %s", now.Epochs, err, b)
	}
	for _, bad := range []string{`{"epochs": {"4": 1}}`, `{"last_seq": {"x": 1}}`, `{"dropped": [1]}`} {
		if err := os.WriteFile(filepath.Join(dir, groupsFileName), []byte(bad), 0o644); err != nil {
			t.Fatal(err)
		}
		if db, err := Open(dir, &Options{Logger: quiet, FlushInterval: -1}); err == nil {
			db.Close()
			t.Errorf("Open with groups.json %s succeeded", bad)
		}
	}
}
