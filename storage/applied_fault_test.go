package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/storage/vfs"
	"github.com/soltixdb/soltix/storage/vfs/errorfs"
)

// copyTree copies the regular files below src to dst.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		to := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(to, 0o755)
		}
		in, err := os.Open(path)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.Create(to)
		if err != nil {
			return err
		}
		_, err = io.Copy(out, in)
		return errors.Join(err, out.Close())
	})
	if err != nil {
		t.Fatal(err)
	}
}

// lastSegment returns the path and size of the newest WAL segment.
func lastSegment(t *testing.T, dir string) (string, int64) {
	t.Helper()
	segs, err := filepath.Glob(filepath.Join(dir, "wal", "*.wal"))
	if err != nil || len(segs) == 0 {
		t.Fatalf("segments: %v, %v", segs, err)
	}
	fi, err := os.Stat(segs[len(segs)-1])
	if err != nil {
		t.Fatal(err)
	}
	return segs[len(segs)-1], fi.Size()
}

// TestAppliedTornRecord: a crash that tears the WAL record of a
// WriteApplied or DeleteApplied at any byte leaves neither its data nor
// its position; the records before it keep both.
func TestAppliedTornRecord(t *testing.T) {
	tests := []struct {
		name string
		// last applies the message whose record is torn, at position 2
		// of group 1, after a write at position 1 of a point at time 10.
		last func(t *testing.T, e *appliedEnv)
		// whole is the first device's values when the record is whole.
		whole map[int64]int64
	}{
		{"write", func(t *testing.T, e *appliedEnv) {
			pts := []model.Point{pt("c", e.dev(1), 20, iv("n", 2)), pt("c", e.devs[1][1], 20, iv("n", 2)), pt("c", e.dev(1), 30, iv("n", 3))}
			if err := e.db.WriteApplied(context.Background(), pts, 1, 2); err != nil {
				t.Fatal(err)
			}
		}, map[int64]int64{10: 1, 20: 2, 30: 3}},
		{"delete", func(t *testing.T, e *appliedEnv) { e.d(t, 1, 2, 0, 15) }, map[int64]int64{}},
		{"position alone", func(t *testing.T, e *appliedEnv) { e.set(t, 1, 2) }, map[int64]int64{10: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := t.TempDir()
			db := openFS(t, base, vfs.Default, Options{})
			e := &appliedEnv{db: db, devs: groupDevices(t, db, 2)}
			e.w(t, 1, 1, 10, 1)
			seg, before := lastSegment(t, base)
			tt.last(t, e)
			if _, after := lastSegment(t, base); after <= before {
				t.Fatalf("segment %s did not grow: %d then %d bytes", seg, before, after)
			}
			crash(t, e.db)
			_, after := lastSegment(t, base)
			for size := before; size <= after; size++ {
				dir := t.TempDir()
				copyTree(t, base, dir)
				if err := os.Truncate(filepath.Join(dir, "wal", filepath.Base(seg)), size); err != nil {
					t.Fatal(err)
				}
				e.db = openFS(t, dir, vfs.Default, Options{})
				st := e.state(t)
				e.db.Close()
				wantPos, want := uint64(1), map[int64]int64{10: 1}
				if size == after {
					wantPos, want = 2, tt.whole
				}
				if st.positions[1] != wantPos || fmt.Sprint(st.values[1]) != fmt.Sprint(want) {
					t.Fatalf("cut at %d of %d..%d: position %d, values %v; want %d, %v", size, before, after,
						st.positions[1], st.values[1], wantPos, want)
				}
			}
		})
	}
}

// TestAppliedFsyncFailure: when the WAL's fsync fails, WriteApplied,
// DeleteApplied and SetApplied fail with ErrUnavailable and change
// neither the data nor the position seen; after a process crash (the
// record reached the kernel) or a power loss (it did not reach the disk)
// the data and the position are both there or both not.
func TestAppliedFsyncFailure(t *testing.T) {
	calls := []struct {
		name string
		call func(e *appliedEnv) error
		// the first device's values once the call is durable
		done map[int64]int64
	}{
		{"write", func(e *appliedEnv) error {
			return e.db.WriteApplied(context.Background(), []model.Point{pt("c", e.dev(1), 20, iv("n", 2))}, 1, 2)
		}, map[int64]int64{10: 1, 20: 2}},
		{"delete", func(e *appliedEnv) error {
			return e.db.DeleteApplied(context.Background(), "c", []model.Tags{{{Key: "device_id", Value: e.dev(1)}}}, 0, 15, 1, 2)
		}, map[int64]int64{}},
		{"set", func(e *appliedEnv) error { return e.db.SetApplied(1, 2) }, map[int64]int64{10: 1}},
	}
	for _, c := range calls {
		for _, how := range []string{"crash", "power loss"} {
			t.Run(c.name+"/"+how, func(t *testing.T) {
				dir, mem := t.TempDir(), vfs.NewCrashableMem()
				fs := errorfs.New(mem)
				db := openFS(t, dir, fs, Options{})
				e := &appliedEnv{db: db, devs: groupDevices(t, db, 1)}
				e.w(t, 1, 1, 10, 1)
				fs.Inject(errorfs.Rule{Op: errorfs.OpSync, Path: "*.wal", Err: syscall.EIO})
				if err := c.call(e); !errors.Is(err, ErrUnavailable) || !errors.Is(err, syscall.EIO) {
					t.Fatalf("with a failing fsync: %v, want ErrUnavailable and EIO", err)
				}
				st := e.state(t)
				if st.positions[1] != 1 || fmt.Sprint(st.values[1]) != fmt.Sprint(map[int64]int64{10: 1}) {
					t.Fatalf("after the failure: position %d, values %v", st.positions[1], st.values[1])
				}
				if err := e.db.WriteApplied(context.Background(), []model.Point{pt("c", e.dev(1), 40, iv("n", 4))}, 1, 3); !errors.Is(err, ErrUnavailable) {
					t.Fatalf("once the WAL failed: %v, want ErrUnavailable", err)
				}
				fs.Clear()
				var reopen vfs.FS = fs
				if how == "power loss" {
					reopen = mem.CrashClone()
				}
				crash(t, e.db)
				e.db = openFS(t, dir, reopen, Options{})
				defer e.db.Close()
				st = e.state(t)
				// The record of the failed call reached the kernel, and
				// not the disk; the one after it was never written.
				wantPos, want := uint64(2), c.done
				if how == "power loss" {
					wantPos, want = 1, map[int64]int64{10: 1}
				}
				if st.positions[1] != wantPos || fmt.Sprint(st.values[1]) != fmt.Sprint(want) {
					t.Fatalf("after a %s: position %d, values %v; want %d, %v", how, st.positions[1], st.values[1], wantPos, want)
				}
			})
		}
	}
}

// TestAppliedFormat: a directory stays format 2 until its first applied
// record and is format 4 before that record is in the WAL: when meta.json
// cannot be written the call fails and writes nothing. Format 4 stays
// across restarts and rewrites of meta.json, and follows format 3.
func TestAppliedFormat(t *testing.T) {
	ctx := context.Background()
	for _, from := range []int{2, 3} {
		t.Run(fmt.Sprint("from format ", from), func(t *testing.T) {
			dir, mem := t.TempDir(), vfs.NewCrashableMem()
			fs := errorfs.New(mem)
			db := openFS(t, dir, fs, noRollups())
			e := &appliedEnv{db: db, devs: groupDevices(t, db, 1)}
			if from == 3 {
				e.drop(t, 0)
			}
			writeN(t, db, e.dev(1), 0, 5)
			e.flush(t)
			if got := dirFormat(t, mem, dir); got != from || db.Applied(1) != 0 {
				t.Fatalf("format %d, position %d before any applied record; want %d and 0", got, db.Applied(1), from)
			}
			fs.Inject(errorfs.Rule{Op: errorfs.OpCreate, Path: "meta.json.tmp", Err: syscall.ENOSPC})
			for name, call := range map[string]func() error{
				"write": func() error { return db.WriteApplied(ctx, []model.Point{pt("c", e.dev(1), 20, iv("n", 2))}, 1, 2) },
				"delete": func() error {
					return db.DeleteApplied(ctx, "c", []model.Tags{{{Key: "device_id", Value: e.dev(1)}}}, 0, 2, 1, 2)
				},
				"set": func() error { return db.SetApplied(1, 2) },
			} {
				if err := call(); !errors.Is(err, syscall.ENOSPC) {
					t.Fatalf("%s when meta.json cannot be written: %v, want ENOSPC", name, err)
				}
			}
			fs.Clear()
			if got := dirFormat(t, mem, dir); got != from {
				t.Fatalf("format %d after failed calls, want %d", got, from)
			}
			crash(t, e.db)
			e.db = openFS(t, dir, fs, noRollups())
			if st := e.state(t); st.positions[1] != 0 || len(st.values[1]) != 5 {
				t.Fatalf("after failed calls and a restart: position %d, %d values; want 0 and 5", st.positions[1], len(st.values[1]))
			}
			e.w(t, 1, 2, 20, 2)
			if got := dirFormat(t, mem.CrashClone(), dir); got != formatApplied {
				t.Fatalf("format %d once an applied record is written, want %d", got, formatApplied)
			}
			if err := e.db.Close(); err != nil {
				t.Fatal(err)
			}
			e.db = openFS(t, dir, fs, noRollups())
			defer e.db.Close()
			if err := e.db.saveDirMeta(); err != nil {
				t.Fatal(err)
			}
			if got := dirFormat(t, mem, dir); got != formatApplied || e.db.Applied(1) != 2 {
				t.Fatalf("after a restart: format %d, position %d; want %d and 2", got, e.db.Applied(1), formatApplied)
			}
		})
	}
}

// TestAppliedConcurrent: two consumers deliver the same stream of each
// group concurrently (a duplicate consumer, by mistake) while flushes and
// drops of another group run: every message is applied once, the
// positions never go down, and all of it survives a crash. Run it with
// -race.
func TestAppliedConcurrent(t *testing.T) {
	const msgs = 300
	ctx := context.Background()
	dir := t.TempDir()
	db := openFS(t, dir, vfs.Default, Options{})
	e := &appliedEnv{db: db, devs: groupDevices(t, db, 1)}
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	stop := make(chan struct{})
	for g := range 3 { // group 3 is dropped meanwhile
		for range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for seq := uint64(1); seq <= msgs; seq++ {
					var err error
					if seq%50 == 0 {
						tags := []model.Tags{{{Key: "device_id", Value: e.dev(g)}}}
						err = db.DeleteApplied(ctx, "c", tags, int64(seq-3), int64(seq-3), g, seq)
					} else {
						err = db.WriteApplied(ctx, []model.Point{pt("c", e.dev(g), int64(seq), iv("n", int64(seq)))}, g, seq)
					}
					if err != nil {
						errs <- fmt.Errorf("group %d message %d: %w", g, seq, err)
						return
					}
				}
			}()
		}
	}
	var bg sync.WaitGroup
	bg.Add(2)
	go func() { // positions never go down
		defer bg.Done()
		last := make([]uint64, 3)
		for {
			select {
			case <-stop:
				return
			default:
			}
			for g := range last {
				p := db.Applied(g)
				if p < last[g] {
					errs <- fmt.Errorf("group %d position went from %d to %d", g, last[g], p)
					return
				}
				last[g] = p
			}
		}
	}()
	go func() {
		defer bg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			var err error
			if i%2 == 0 {
				err = db.Flush(ctx)
			} else {
				err = db.DropGroup(ctx, 3)
			}
			if err != nil {
				errs <- err
				return
			}
		}
	}()
	wg.Wait()
	close(stop)
	bg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	want := make(map[int64]int64)
	for seq := int64(1); seq <= msgs; seq++ {
		if seq%50 != 0 && (seq+3)%50 != 0 {
			want[seq] = seq
		}
	}
	check := func(when string) {
		t.Helper()
		st := e.state(t)
		for g := range 3 {
			if st.positions[g] != msgs || fmt.Sprint(st.values[g]) != fmt.Sprint(want) {
				t.Fatalf("%s, group %d: position %d, %d values; want %d and %d", when, g, st.positions[g], len(st.values[g]), msgs, len(want))
			}
		}
	}
	check("applied")
	crash(t, e.db)
	e.db = openFS(t, dir, vfs.Default, Options{})
	defer e.db.Close()
	check("after a crash")
}

// TestAppliedFlushCannotRemoveSegments: when a flush has recorded the
// positions in groups.json but cannot remove the WAL segments, the
// start-up replays the applied records of those segments over the
// recorded positions, in order, and the result is the position as it was.
func TestAppliedFlushCannotRemoveSegments(t *testing.T) {
	tests := []struct {
		name     string
		run      func(t *testing.T, e *appliedEnv, flush func())
		position uint64
		values   map[int64]int64
	}{
		{"forward", func(t *testing.T, e *appliedEnv, flush func()) {
			e.w(t, 1, 5, 10, 5)
			flush()
			e.w(t, 1, 6, 20, 6)
		}, 6, map[int64]int64{10: 5, 20: 6}},
		{"set backwards before the flush", func(t *testing.T, e *appliedEnv, flush func()) {
			e.w(t, 1, 10, 10, 5)
			e.set(t, 1, 4)
			flush()
		}, 4, map[int64]int64{10: 5}},
		{"set backwards after the flush", func(t *testing.T, e *appliedEnv, flush func()) {
			e.w(t, 1, 10, 10, 5)
			flush()
			e.set(t, 1, 4)
		}, 4, map[int64]int64{10: 5}},
		{"dropped after the flush", func(t *testing.T, e *appliedEnv, flush func()) {
			e.w(t, 1, 10, 10, 5)
			flush()
			e.drop(t, 1)
		}, 0, map[int64]int64{}},
		{"dropped and applied again", func(t *testing.T, e *appliedEnv, flush func()) {
			e.w(t, 1, 10, 10, 5)
			flush()
			e.drop(t, 1)
			e.w(t, 1, 3, 30, 3)
			flush()
		}, 3, map[int64]int64{30: 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			fs := errorfs.New(vfs.Default)
			db := openFS(t, dir, fs, Options{})
			e := &appliedEnv{db: db, devs: groupDevices(t, db, 1)}
			fs.Inject(errorfs.Rule{Op: errorfs.OpRemove, Path: "*.wal", Err: syscall.EIO})
			tt.run(t, e, func() {
				if err := e.db.Flush(context.Background()); !errors.Is(err, syscall.EIO) {
					t.Fatalf("Flush that cannot remove segments: %v, want EIO", err)
				}
			})
			crash(t, e.db)
			fs.Clear()
			e.db = openFS(t, dir, fs, Options{})
			defer e.db.Close()
			st := e.state(t)
			if st.positions[1] != tt.position || fmt.Sprint(st.values[1]) != fmt.Sprint(tt.values) {
				t.Fatalf("after a crash: position %d, values %v; want %d, %v", st.positions[1], st.values[1], tt.position, tt.values)
			}
		})
	}
}
