package storage

import (
	"context"
	"math"
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
