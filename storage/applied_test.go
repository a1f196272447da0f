package storage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/storage/vfs"
	"github.com/soltixdb/soltix/storage/wal"
)

// appliedEnv is a DB and devices of each of its 4 groups.
type appliedEnv struct {
	db   *DB
	devs [][]string
}

// dev returns the first device of group g.
func (e *appliedEnv) dev(g int) string { return e.devs[g][0] }

// w applies a message of group g at position seq holding one point of the
// group's first device at time ts with value v.
func (e *appliedEnv) w(t *testing.T, g int, seq uint64, ts, v int64) {
	t.Helper()
	if err := e.db.WriteApplied(context.Background(), []model.Point{pt("c", e.dev(g), ts, iv("n", v))}, g, seq); err != nil {
		t.Fatalf("WriteApplied(g%d, %d): %v", g, seq, err)
	}
}

// d applies a delete of group g at position seq of the first device's
// points in [min, max].
func (e *appliedEnv) d(t *testing.T, g int, seq uint64, min, max int64) {
	t.Helper()
	tags := []model.Tags{{{Key: "device_id", Value: e.dev(g)}}}
	if err := e.db.DeleteApplied(context.Background(), "c", tags, min, max, g, seq); err != nil {
		t.Fatalf("DeleteApplied(g%d, %d): %v", g, seq, err)
	}
}

func (e *appliedEnv) set(t *testing.T, g int, seq uint64) {
	t.Helper()
	if err := e.db.SetApplied(g, seq); err != nil {
		t.Fatalf("SetApplied(g%d, %d): %v", g, seq, err)
	}
}

func (e *appliedEnv) flush(t *testing.T) {
	t.Helper()
	if err := e.db.Flush(context.Background()); err != nil {
		t.Fatalf("Flush: %v", err)
	}
}

func (e *appliedEnv) drop(t *testing.T, g int) {
	t.Helper()
	if err := e.db.DropGroup(context.Background(), g); err != nil {
		t.Fatalf("DropGroup(%d): %v", g, err)
	}
}

// state is what the test can see: every group's position and the values
// of its first device, time → value.
type appliedState struct {
	positions []uint64
	values    []map[int64]int64
}

func (e *appliedEnv) state(t *testing.T) appliedState {
	t.Helper()
	var s appliedState
	for g := range e.db.NumGroups() {
		s.positions = append(s.positions, e.db.Applied(g))
		vals := make(map[int64]int64)
		cols, err := e.db.Read(context.Background(), "c", model.Tags{{Key: "device_id", Value: e.dev(g)}}, []string{"n"}, math.MinInt64, math.MaxInt64)
		if err != nil && !errors.Is(err, model.ErrNotFound) {
			t.Fatalf("Read: %v", err)
		}
		for _, c := range cols {
			for i := range c.Len() {
				vals[c.Times[i]] = c.Value(i).Int()
			}
		}
		s.values = append(s.values, vals)
	}
	return s
}

// restarts are the ways a DB stops and opens again: Close, a process
// crash (nothing flushed; the kernel keeps what was written), and a power
// loss (only what was fsynced survives).
var restarts = []string{"close", "crash", "power loss"}

// restart stops e.db the named way and opens the directory again.
func (e *appliedEnv) restart(t *testing.T, how, dir string, fs *vfs.MemFS) *vfs.MemFS {
	t.Helper()
	switch how {
	case "close":
		if err := e.db.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
	case "crash":
		crash(t, e.db)
	case "power loss":
		crashed := fs.CrashClone()
		crash(t, e.db)
		fs = crashed
	default:
		t.Fatalf("restart %q", how)
	}
	e.db = openFS(t, dir, fs, Options{})
	return fs
}

func newAppliedEnv(t *testing.T) (*appliedEnv, string, *vfs.MemFS) {
	dir, fs := t.TempDir(), vfs.NewCrashableMem()
	db := openFS(t, dir, fs, Options{})
	return &appliedEnv{db: db, devs: groupDevices(t, db, 1)}, dir, fs
}

// TestAppliedSurvivesRestart: positions and the data applied with them
// are the same after a close, a process crash and a power loss, whether
// the WAL still holds the applied records, a flush moved them into
// groups.json, or both; SetApplied moves a position either way and
// DropGroup resets it, durably.
func TestAppliedSurvivesRestart(t *testing.T) {
	tests := []struct {
		name      string
		run       func(t *testing.T, e *appliedEnv)
		positions []uint64
		// values of the first device of groups 0 and 1
		values0, values1 map[int64]int64
	}{
		{"writes in the wal", func(t *testing.T, e *appliedEnv) {
			e.w(t, 0, 1, 10, 1)
			e.w(t, 0, 2, 20, 2)
			e.w(t, 1, 7, 10, 7)
		}, []uint64{2, 7, 0, 0}, map[int64]int64{10: 1, 20: 2}, map[int64]int64{10: 7}},
		{"writes flushed", func(t *testing.T, e *appliedEnv) {
			e.w(t, 0, 1, 10, 1)
			e.w(t, 1, 7, 10, 7)
			e.flush(t)
		}, []uint64{1, 7, 0, 0}, map[int64]int64{10: 1}, map[int64]int64{10: 7}},
		{"writes flushed and then in the wal", func(t *testing.T, e *appliedEnv) {
			e.w(t, 0, 1, 10, 1)
			e.w(t, 1, 7, 10, 7)
			e.flush(t)
			e.w(t, 0, 3, 30, 3)
		}, []uint64{3, 7, 0, 0}, map[int64]int64{10: 1, 30: 3}, map[int64]int64{10: 7}},
		{"two flushes", func(t *testing.T, e *appliedEnv) {
			e.w(t, 0, 1, 10, 1)
			e.flush(t)
			e.w(t, 0, 2, 10, 2)
			e.flush(t)
		}, []uint64{2, 0, 0, 0}, map[int64]int64{10: 2}, map[int64]int64{}},
		{"set backwards in the wal", func(t *testing.T, e *appliedEnv) {
			e.w(t, 0, 10, 10, 1)
			e.set(t, 0, 4)
		}, []uint64{4, 0, 0, 0}, map[int64]int64{10: 1}, map[int64]int64{}},
		{"set backwards after a flush", func(t *testing.T, e *appliedEnv) {
			e.w(t, 0, 10, 10, 1)
			e.flush(t)
			e.set(t, 0, 4)
		}, []uint64{4, 0, 0, 0}, map[int64]int64{10: 1}, map[int64]int64{}},
		{"set backwards then flushed", func(t *testing.T, e *appliedEnv) {
			e.w(t, 0, 10, 10, 1)
			e.set(t, 0, 4)
			e.flush(t)
		}, []uint64{4, 0, 0, 0}, map[int64]int64{10: 1}, map[int64]int64{}},
		{"set forward, nothing written", func(t *testing.T, e *appliedEnv) {
			e.set(t, 2, 100)
		}, []uint64{0, 0, 100, 0}, map[int64]int64{}, map[int64]int64{}},
		{"set to 0", func(t *testing.T, e *appliedEnv) {
			e.w(t, 1, 5, 10, 5)
			e.flush(t)
			e.set(t, 1, 0)
		}, []uint64{0, 0, 0, 0}, map[int64]int64{}, map[int64]int64{10: 5}},
		{"drop with the records in the wal", func(t *testing.T, e *appliedEnv) {
			e.w(t, 0, 5, 10, 5)
			e.w(t, 1, 6, 10, 6)
			e.drop(t, 0)
		}, []uint64{0, 6, 0, 0}, map[int64]int64{}, map[int64]int64{10: 6}},
		{"drop after a flush", func(t *testing.T, e *appliedEnv) {
			e.w(t, 0, 5, 10, 5)
			e.flush(t)
			e.drop(t, 0)
		}, []uint64{0, 0, 0, 0}, map[int64]int64{}, map[int64]int64{}},
		{"drop, then applied again from the start", func(t *testing.T, e *appliedEnv) {
			e.w(t, 0, 5, 10, 5)
			e.flush(t)
			e.w(t, 0, 6, 20, 6)
			e.drop(t, 0)
			e.w(t, 0, 2, 30, 2)
		}, []uint64{2, 0, 0, 0}, map[int64]int64{30: 2}, map[int64]int64{}},
		{"drop, applied again, flushed", func(t *testing.T, e *appliedEnv) {
			e.w(t, 0, 5, 10, 5)
			e.drop(t, 0)
			e.w(t, 0, 2, 30, 2)
			e.flush(t)
		}, []uint64{2, 0, 0, 0}, map[int64]int64{30: 2}, map[int64]int64{}},
		{"deletes", func(t *testing.T, e *appliedEnv) {
			e.w(t, 0, 1, 10, 1)
			e.w(t, 0, 2, 20, 2)
			e.w(t, 0, 3, 30, 3)
			e.d(t, 0, 4, 10, 20)
		}, []uint64{4, 0, 0, 0}, map[int64]int64{30: 3}, map[int64]int64{}},
		{"delete of flushed data, flushed again", func(t *testing.T, e *appliedEnv) {
			e.w(t, 0, 1, 10, 1)
			e.w(t, 0, 2, 20, 2)
			e.flush(t)
			e.d(t, 0, 3, 15, 25)
			e.flush(t)
		}, []uint64{3, 0, 0, 0}, map[int64]int64{10: 1}, map[int64]int64{}},
		{"a delete of nothing records its position", func(t *testing.T, e *appliedEnv) {
			e.w(t, 0, 1, 10, 1)
			e.d(t, 0, 2, 20, 10) // min above max
		}, []uint64{2, 0, 0, 0}, map[int64]int64{10: 1}, map[int64]int64{}},
	}
	for _, tt := range tests {
		for _, how := range restarts {
			t.Run(tt.name+"/"+how, func(t *testing.T) {
				e, dir, fs := newAppliedEnv(t)
				tt.run(t, e)
				want := appliedState{positions: tt.positions, values: []map[int64]int64{tt.values0, tt.values1, {}, {}}}
				if got := e.state(t); !reflect.DeepEqual(got, want) {
					t.Fatalf("before the restart:\ngot  %+v\nwant %+v", got, want)
				}
				e.restart(t, how, dir, fs)
				defer e.db.Close()
				if got := e.state(t); !reflect.DeepEqual(got, want) {
					t.Fatalf("after %s:\ngot  %+v\nwant %+v", how, got, want)
				}
			})
		}
	}
}

// delivery is one replication message a test applies.
type delivery struct {
	kind     string // "w" (one point), "d" (delete of [ts, ts]) or "set"
	seq      uint64
	ts, v    int64
	flushNow bool // flush after it
}

// TestAppliedRedelivery: a message at or below the position changes
// nothing, however it arrives (at once, after newer ones, across a flush
// or a restart), so the newest write of a point wins as it arrived at the
// primary; SetApplied backwards makes the stream apply again from there.
func TestAppliedRedelivery(t *testing.T) {
	tests := []struct {
		name     string
		msgs     []delivery
		position uint64
		values   map[int64]int64
	}{
		{"duplicate with other content", []delivery{{"w", 1, 10, 1, false}, {"w", 1, 10, 99, false}}, 1, map[int64]int64{10: 1}},
		{"older after newer", []delivery{{"w", 1, 10, 1, false}, {"w", 2, 10, 2, false}, {"w", 1, 10, 1, false}}, 2, map[int64]int64{10: 2}},
		{"older after newer across a flush", []delivery{{"w", 1, 10, 1, false}, {"w", 2, 10, 2, true}, {"w", 1, 10, 1, false}}, 2, map[int64]int64{10: 2}},
		{"older after newer, older at another time", []delivery{{"w", 1, 10, 1, false}, {"w", 2, 20, 2, false}, {"w", 1, 30, 1, false}}, 2, map[int64]int64{10: 1, 20: 2}},
		{"a gap, then an older message", []delivery{{"w", 1, 10, 1, false}, {"w", 5, 10, 5, false}, {"w", 3, 10, 3, false}}, 5, map[int64]int64{10: 5}},
		{"delete redelivered after a newer write", []delivery{{"w", 1, 10, 1, false}, {"d", 2, 10, 0, false}, {"w", 3, 10, 3, false}, {"d", 2, 10, 0, false}}, 3, map[int64]int64{10: 3}},
		{"delete redelivered after a flush", []delivery{{"w", 1, 10, 1, false}, {"d", 2, 10, 0, false}, {"w", 3, 10, 3, true}, {"d", 2, 10, 0, false}}, 3, map[int64]int64{10: 3}},
		{"write redelivered after a delete", []delivery{{"w", 1, 10, 1, false}, {"d", 2, 10, 0, false}, {"w", 1, 10, 1, false}}, 2, map[int64]int64{}},
		{"set backwards applies again", []delivery{{"w", 1, 10, 1, false}, {"w", 2, 10, 2, false}, {"set", 1, 0, 0, false}, {"w", 2, 10, 20, false}}, 2, map[int64]int64{10: 20}},
		{"set forward skips", []delivery{{"w", 1, 10, 1, false}, {"set", 9, 0, 0, false}, {"w", 5, 10, 5, false}}, 9, map[int64]int64{10: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, dir, fs := newAppliedEnv(t)
			run := func(msgs []delivery) {
				for _, m := range msgs {
					switch m.kind {
					case "w":
						e.w(t, 1, m.seq, m.ts, m.v)
					case "d":
						e.d(t, 1, m.seq, m.ts, m.ts)
					case "set":
						e.set(t, 1, m.seq)
					}
					if m.flushNow {
						e.flush(t)
					}
				}
			}
			check := func(when string) {
				t.Helper()
				st := e.state(t)
				if st.positions[1] != tt.position || !reflect.DeepEqual(st.values[1], tt.values) {
					t.Fatalf("%s: position %d, values %v; want %d, %v", when, st.positions[1], st.values[1], tt.position, tt.values)
				}
			}
			run(tt.msgs)
			check("applied")
			// Every message of the case again, after a crash: nothing
			// at or below the position applies twice.
			e.restart(t, "crash", dir, fs)
			defer func() { e.db.Close() }()
			check("after a crash")
			var again []delivery
			for _, m := range tt.msgs {
				if m.kind != "set" && m.seq <= tt.position {
					again = append(again, delivery{m.kind, m.seq, m.ts, m.v + 1000, false})
				}
			}
			run(again)
			check("redelivered after a crash")
		})
	}
}

// TestAppliedRefuses: calls that cannot apply fail with a clear error and
// change neither the data nor the position.
func TestAppliedRefuses(t *testing.T) {
	ctx := context.Background()
	e, _, _ := newAppliedEnv(t)
	defer e.db.Close()
	e.w(t, 1, 3, 5, 5)
	devTags := func(g int) model.Tags { return model.Tags{{Key: "device_id", Value: e.dev(g)}} }
	tests := []struct {
		name string
		call func() error
		want string // in the error
		is   error
	}{
		{"a point of another group", func() error {
			return e.db.WriteApplied(ctx, []model.Point{pt("c", e.dev(2), 10, iv("n", 1))}, 1, 4)
		}, "point 0 is of group 2, not 1", nil},
		{"a batch with one point of another group", func() error {
			return e.db.WriteApplied(ctx, []model.Point{pt("c", e.dev(1), 10, iv("n", 1)), pt("c", e.dev(1), 11, iv("n", 1)),
				pt("c", e.dev(3), 10, iv("n", 1))}, 1, 4)
		}, "point 2 is of group 3, not 1", nil},
		{"a point without the shard tag hashed elsewhere", func() error {
			for i := 0; ; i++ {
				tags := model.Tags{{Key: "host", Value: fmt.Sprint("h", i)}}
				if e.db.GroupOf("c", tags) != 1 {
					return e.db.WriteApplied(ctx, []model.Point{{Collection: "c", Tags: tags, Time: 1, Fields: []model.Field{iv("n", 1)}}}, 1, 4)
				}
			}
		}, "not 1", nil},
		{"a delete of a series of another group", func() error {
			return e.db.DeleteApplied(ctx, "c", []model.Tags{devTags(1), devTags(0)}, 0, 100, 1, 4)
		}, "series 1 is of group 0, not 1", nil},
		{"write at position 0", func() error {
			return e.db.WriteApplied(ctx, []model.Point{pt("c", e.dev(1), 10, iv("n", 1))}, 1, 0)
		}, "group 1: replication position 0", ErrPositionZero},
		{"delete at position 0", func() error {
			return e.db.DeleteApplied(ctx, "c", []model.Tags{devTags(1)}, 0, 100, 1, 0)
		}, "replication position 0", ErrPositionZero},
		{"a group below 0", func() error {
			return e.db.WriteApplied(ctx, []model.Point{pt("c", e.dev(1), 10, iv("n", 1))}, -1, 4)
		}, "group -1 outside [0, 4)", nil},
		{"a group above the last", func() error { return e.db.SetApplied(4, 1) }, "group 4 outside [0, 4)", nil},
		{"a point without fields", func() error {
			return e.db.WriteApplied(ctx, []model.Point{pt("c", e.dev(1), 10)}, 1, 4)
		}, "point 0: a point needs a collection and at least one field", nil},
		{"a field kind conflict", func() error {
			return e.db.WriteApplied(ctx, []model.Point{pt("c", e.dev(1), 10, fv("n", 1))}, 1, 4)
		}, "", &ConflictError{}},
		{"a cancelled context", func() error {
			cctx, cancel := context.WithCancel(ctx)
			cancel()
			return e.db.WriteApplied(cctx, []model.Point{pt("c", e.dev(1), 10, iv("n", 1))}, 1, 4)
		}, "", context.Canceled},
	}
	want := e.state(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if err == nil {
				t.Fatal("succeeded")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
			var ce *ConflictError
			switch tt.is.(type) {
			case nil:
			case *ConflictError:
				if !errors.As(err, &ce) {
					t.Errorf("error %v is not a *ConflictError", err)
				}
			default:
				if !errors.Is(err, tt.is) {
					t.Errorf("error %v is not %v", err, tt.is)
				}
			}
			if got := e.state(t); !reflect.DeepEqual(got, want) {
				t.Errorf("state changed:\ngot  %+v\nwant %+v", got, want)
			}
		})
	}
	if err := e.db.Close(); err != nil {
		t.Fatal(err)
	}
	for name, err := range map[string]error{
		"write":  e.db.WriteApplied(ctx, []model.Point{pt("c", e.dev(1), 10, iv("n", 1))}, 1, 9),
		"delete": e.db.DeleteApplied(ctx, "c", []model.Tags{devTags(1)}, 0, 100, 1, 9),
		"set":    e.db.SetApplied(1, 9),
	} {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", name, err)
		}
	}
}

// TestAppliedLeavesExpiredPointsOut: a point older than the raw retention
// fails Write, but WriteApplied writes the rest of its batch and records
// the position (the primary took the point; its retention drops it).
func TestAppliedLeavesExpiredPointsOut(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)
	dir := t.TempDir()
	db := openFS(t, dir, nil, Options{Now: func() time.Time { return now }})
	defer db.Close()
	var s CollectionSettings
	s.Retention[model.LevelRaw] = 24 * time.Hour
	if err := db.SetSettings(ctx, "c", s); err != nil {
		t.Fatal(err)
	}
	dev := groupDevices(t, db, 1)[2][0]
	old, fresh := now.Add(-48*time.Hour).UnixNano(), now.Add(-time.Hour).UnixNano()
	batch := []model.Point{pt("c", dev, old, iv("n", 1)), pt("c", dev, fresh, iv("n", 2)), pt("c", dev, old+1, iv("n", 3))}
	var re *RetentionError
	if err := db.Write(ctx, batch); !errors.As(err, &re) {
		t.Fatalf("Write with an expired point: %v, want a *RetentionError", err)
	}
	if err := db.WriteApplied(ctx, batch, 2, 1); err != nil {
		t.Fatalf("WriteApplied with an expired point: %v", err)
	}
	if len(batch) != 3 || batch[0].Time != old {
		t.Errorf("the caller's batch changed: %v", batch)
	}
	got := readAll(t, db, "c", model.Tags{{Key: "device_id", Value: dev}}, "n")["n"]
	if len(got) != 1 || got[fresh].Int() != 2 || db.Applied(2) != 1 {
		t.Errorf("after WriteApplied: %v, position %d; want only the fresh point and position 1", got, db.Applied(2))
	}
	allOld := []model.Point{pt("c", dev, old, iv("n", 1))}
	if err := db.WriteApplied(ctx, allOld, 2, 2); err != nil || db.Applied(2) != 2 {
		t.Errorf("WriteApplied of expired points only: %v, position %d, want nil and 2", err, db.Applied(2))
	}
}

// TestAppliedGroupsFile: a flush records the positions in groups.json
// under "applied"; a position for a group the directory does not have is
// refused at Open.
func TestAppliedGroupsFile(t *testing.T) {
	dir := t.TempDir()
	db := openFS(t, dir, vfs.Default, Options{})
	e := &appliedEnv{db: db, devs: groupDevices(t, db, 1)}
	e.w(t, 3, 12, 1, 1)
	e.set(t, 1, 40)
	e.flush(t)
	b, err := os.ReadFile(filepath.Join(dir, groupsFileName))
	if err != nil {
		t.Fatal(err)
	}
	var f groupsFile
	if err := json.Unmarshal(b, &f); err != nil || !reflect.DeepEqual(f.Applied, map[string]uint64{"1": 40, "3": 12}) {
		t.Fatalf("applied in groups.json: %v (%v) in %s", f.Applied, err, b)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, groupsFileName), []byte(`{"applied": {"4": 1}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if db, err := Open(dir, &Options{Logger: quiet, FlushInterval: -1}); err == nil {
		db.Close()
		t.Error("Open with a position of group 4 of 4 succeeded")
	}
}

// TestAppliedImportLeavesPosition: ImportGroup keeps the receiver's
// position of the group (the caller sets it with SetApplied); DropGroup
// on the sender resets the sender's.
func TestAppliedImportLeavesPosition(t *testing.T) {
	ctx := context.Background()
	src, dst := t.TempDir(), t.TempDir()
	a, b := openFS(t, src, vfs.Default, Options{}), openFS(t, dst, vfs.Default, Options{})
	ea := &appliedEnv{db: a, devs: groupDevices(t, a, 1)}
	eb := &appliedEnv{db: b, devs: ea.devs}
	ea.w(t, 2, 30, 100, 1)
	ea.flush(t)
	eb.w(t, 2, 7, 200, 2)
	moveGroup(t, a, b, 2)
	if got := b.Applied(2); got != 7 {
		t.Fatalf("receiver's position after the import: %d, want 7", got)
	}
	eb.set(t, 2, 30)
	if err := a.DropGroup(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if got := a.Applied(2); got != 0 {
		t.Fatalf("sender's position after DropGroup: %d, want 0", got)
	}
	for _, db := range []*DB{a, b} {
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
	a, b = openFS(t, src, vfs.Default, Options{}), openFS(t, dst, vfs.Default, Options{})
	defer a.Close()
	defer b.Close()
	if pa, pb := a.Applied(2), b.Applied(2); pa != 0 || pb != 30 {
		t.Fatalf("after a restart: sender %d, receiver %d; want 0 and 30", pa, pb)
	}
	got := readAll(t, b, "c", model.Tags{{Key: "device_id", Value: ea.dev(2)}}, "n")["n"]
	if len(got) != 2 || got[100].Int() != 1 || got[200].Int() != 2 {
		t.Fatalf("receiver's data: %v", got)
	}
}

// TestAppliedRecordReplay: Open refuses an applied record that names a
// group the directory does not have or whose inner record does not match
// it, and replays a well-formed one.
func TestAppliedRecordReplay(t *testing.T) {
	tests := []struct {
		name string
		rec  []byte
		want string // in Open's error; "" when it opens
	}{
		{"position alone", appendPositionHead(nil, &position{group: 3, applied: 8}, 50), ""},
		{"batch", appendBatch(appendPositionHead(nil, &position{group: 0, applied: 8}, 50), 50, nil), ""},
		{"group outside", appendPositionHead(nil, &position{group: 4, applied: 8}, 50), "group 4 outside [0, 4)"},
		{"group far outside", appendPositionHead(nil, &position{group: maxRecordGroup, applied: 8}, 50), "malformed batch record: group"},
		{"inner seq differs", appendBatch(appendPositionHead(nil, &position{group: 0, applied: 8}, 50), 51, nil), "applied record of seq 50 holds seq 51"},
		{"inner first-version batch", appendBatchV1(appendPositionHead(nil, &position{group: 0, applied: 8}, 50), 50, nil), "holds kind 1"},
		{"nested applied record", appendPositionHead(appendPositionHead(nil, &position{group: 0, applied: 8}, 50), &position{}, 50), "holds kind 4"},
		{"short", []byte{recordApplied, 1}, "malformed batch record"},
	}
	// The example in docs/format-wal.md.
	if got := fmt.Sprintf("% x", tests[0].rec); got != "04 03 08 32" {
		t.Fatalf("group 3 at position 8, seq 50: %s, want 04 03 08 32", got)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			db := openFS(t, dir, vfs.Default, Options{})
			if err := db.SetApplied(1, 1); err != nil { // format 4
				t.Fatal(err)
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			w, err := wal.Open(filepath.Join(dir, "wal"), &wal.Options{Logger: quiet})
			if err != nil {
				t.Fatal(err)
			}
			if err := w.Replay(func(uint64, []byte) error { return nil }); err != nil {
				t.Fatal(err)
			}
			if _, err := w.Append(tt.rec); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			db, err = Open(dir, &Options{Logger: quiet, FlushInterval: -1})
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				defer db.Close()
				r, _ := decodeApplied(tt.rec)
				if got := db.Applied(r.pos.group); got != r.pos.applied {
					t.Fatalf("position of group %d: %d, want %d", r.pos.group, got, r.pos.applied)
				}
				if got := db.seq.Load(); got < r.seq {
					t.Fatalf("sequence number %d after replaying a record of %d", got, r.seq)
				}
				return
			}
			if err == nil {
				db.Close()
				t.Fatalf("Open succeeded, want an error saying %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Open: %v, want %q", err, tt.want)
			}
		})
	}
}

func FuzzDecodeApplied(f *testing.F) {
	head := func(g int, applied, seq uint64) []byte {
		return appendPositionHead(nil, &position{group: g, applied: applied}, seq)
	}
	f.Add(head(3, 8, 50))
	f.Add(appendBatch(head(0, 1, 7), 7, []model.Point{pt("c", "d1", 1, fv("v", 1), iv("n", -3))}))
	f.Add(appendDelete(head(1, math.MaxUint64, 9), &tombstone{seq: 9, coll: "c", min: -5, max: 5,
		series: []model.Tags{{{Key: "device_id", Value: "d"}}, nil}}))
	f.Add(appendBatch(head(0, 1, 7), 8, nil))
	f.Add([]byte{recordApplied, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 1, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeApplied(b)
		if err != nil {
			if !errors.Is(err, errRecord) {
				t.Fatalf("error %v is not errRecord", err)
			}
			return
		}
		if r.pos.group < 0 || r.pos.group >= maxRecordGroup {
			t.Fatalf("group %d decoded", r.pos.group)
		}
		// What decodes must encode back to an equal record.
		re := appendPositionHead(nil, &r.pos, r.seq)
		switch r.kind {
		case recordBatch:
			re = appendBatch(re, r.seq, r.points)
		case recordDelete:
			re = appendDelete(re, r.tomb)
		}
		r2, err := decodeApplied(re)
		if err != nil || r2.pos != r.pos || r2.seq != r.seq || r2.kind != r.kind || !reflect.DeepEqual(r2.points, r.points) ||
			(r.tomb != nil && !reflect.DeepEqual(r2.tomb, r.tomb)) {
			t.Fatalf("re-encode mismatch for %x: %v", b, err)
		}
	})
}

// TestAppliedBackpressure: over the memory bound WriteApplied fails with
// ErrBackpressure as Write does, but a redelivered message is still a
// no-op (it has nothing to write).
func TestAppliedBackpressure(t *testing.T) {
	ctx := context.Background()
	db := openFS(t, t.TempDir(), vfs.Default, Options{MaxMemoryPoints: 10, WriteStallTimeout: -1})
	defer db.Close()
	dev := groupDevices(t, db, 1)[1][0]
	var pts []model.Point
	for ts := range int64(50) {
		pts = append(pts, pt("c", dev, ts, iv("n", ts)))
	}
	if err := db.WriteApplied(ctx, pts, 1, 1); err != nil {
		t.Fatal(err)
	}
	if err := db.Write(ctx, pts[:1]); !errors.Is(err, ErrBackpressure) {
		t.Fatalf("Write over the memory bound: %v, want ErrBackpressure", err)
	}
	if err := db.WriteApplied(ctx, pts[:1], 1, 2); !errors.Is(err, ErrBackpressure) {
		t.Fatalf("WriteApplied over the memory bound: %v, want ErrBackpressure", err)
	}
	if err := db.WriteApplied(ctx, pts[:1], 1, 1); err != nil {
		t.Fatalf("a redelivered message over the memory bound: %v, want nil", err)
	}
	if got := db.Applied(1); got != 1 {
		t.Fatalf("position %d, want 1", got)
	}
}
