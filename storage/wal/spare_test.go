package wal

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/soltixdb/soltix/storage/vfs"
	"github.com/soltixdb/soltix/storage/vfs/errorfs"
)

// TestSpareRotationSyncs: a rotation made from a prepared spare fsyncs
// nothing; the first batch in its segment fsyncs the segment and the
// directory, later batches the segment only. The first rotation after
// Open, with no spare yet, syncs as before.
func TestSpareRotationSyncs(t *testing.T) {
	fs := errorfs.New(vfs.Default)
	dir := t.TempDir()
	w, _, err := replayAll(t, dir, faultOptions(nil, SyncAlways, fs))
	if err != nil {
		t.Fatal(err)
	}
	mustAppend(t, w, "a")
	syncs := func() (int64, int64) {
		return fs.Count(errorfs.OpSync, "*.wal"), fs.Count(errorfs.OpSyncDir, "*")
	}
	s0, d0 := syncs()
	if n, err := w.Rotate(); n != 2 || err != nil {
		t.Fatalf("first Rotate = %d, %v", n, err)
	}
	if s, d := syncs(); s-s0 != 2 || d-d0 != 1 {
		t.Errorf("first rotation: %d segment and %d directory fsyncs, want 2 and 1", s-s0, d-d0)
	}
	for round := range 3 {
		mustAppend(t, w, fmt.Sprintf("r%d", round))
		s0, d0 := syncs()
		n, err := w.Rotate()
		if want := uint64(3 + round); n != want || err != nil {
			t.Fatalf("Rotate = %d, %v; want %d", n, err, want)
		}
		if s, d := syncs(); s != s0 || d != d0 {
			t.Errorf("rotation %d from a spare: %d segment and %d directory fsyncs, want none", round, s-s0, d-d0)
		}
		mustAppend(t, w, "first")
		if s, d := syncs(); s-s0 != 1 || d-d0 != 1 {
			t.Errorf("first batch after rotation %d: %d segment and %d directory fsyncs, want 1 and 1", round, s-s0, d-d0)
		}
		mustAppend(t, w, "second")
		if s, d := syncs(); s-s0 != 2 || d-d0 != 1 {
			t.Errorf("second batch after rotation %d: %d segment and %d directory fsyncs in all, want 2 and 1", round, s-s0, d-d0)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, spareName)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("spare after Close: %v, want it removed", err)
	}
	_, got, err := replayAll(t, dir, testOptions(nil, SyncAlways))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"a"}
	for round := range 3 {
		want = append(want, fmt.Sprintf("r%d", round), "first", "second")
	}
	if !slices.Equal(records(got), want) {
		t.Errorf("Replay: got %v, want %v", records(got), want)
	}
}

// TestSpareCrash runs random Appends and Rotations on a crashable
// filesystem and, after each, replays what a crash would leave: every
// acknowledged record, in order, and nothing else (every Append here
// succeeds), whether or not a spare's rename had reached the disk.
func TestSpareCrash(t *testing.T) {
	for seed := range uint64(8) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 17))
			mem := vfs.NewCrashableMem()
			w, _, err := replayAll(t, "/wal", faultOptions(nil, SyncAlways, mem))
			if err != nil {
				t.Fatal(err)
			}
			var acked []string
			for step := range 60 {
				if rng.IntN(3) == 0 {
					if _, err := w.Rotate(); err != nil {
						t.Fatal(err)
					}
				} else {
					rec := fmt.Sprintf("s%d", step)
					mustAppend(t, w, rec)
					acked = append(acked, rec)
				}
				crashed := mem.CrashClone()
				w2, err := Open("/wal", faultOptions(nil, SyncAlways, crashed))
				if err != nil {
					t.Fatalf("step %d: Open after crash: %v", step, err)
				}
				var got []string
				err = w2.Replay(func(_ uint64, rec []byte) error {
					got = append(got, string(rec))
					return nil
				})
				if err != nil {
					t.Fatalf("step %d: Replay after crash: %v", step, err)
				}
				if !slices.Equal(got, acked) {
					t.Fatalf("step %d: replayed %v, want %v", step, got, acked)
				}
				// The replayed WAL goes on: a stale spare does not stop it.
				for range 2 {
					if _, err := w2.Rotate(); err != nil {
						t.Fatalf("step %d: Rotate after crash: %v", step, err)
					}
					if _, err := w2.Append([]byte("x")); err != nil {
						t.Fatalf("step %d: Append after crash: %v", step, err)
					}
				}
				if err := w2.Close(); err != nil {
					t.Fatalf("step %d: Close after crash: %v", step, err)
				}
			}
		})
	}
}
