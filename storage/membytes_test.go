package storage

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"syscall"
	"testing"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/storage/vfs"
	"github.com/soltixdb/soltix/storage/vfs/errorfs"
)

// checkMemBytes fails t unless the DB's and the groups' byte counts are
// the sums of what their series hold (memSeries.recount, seriesBytes),
// and the series' own counts agree with their columns.
func checkMemBytes(t *testing.T, db *DB, when string) {
	t.Helper()
	db.mu.RLock()
	defer db.mu.RUnlock()
	var mem, imm, idx int
	gmem := make([]int, len(db.groups))
	gimm := make([]int, len(db.groups))
	for _, c := range db.colls {
		for _, s := range c.series {
			idx += seriesBytes(s.key, s.tags)
			for _, gen := range []*memSeries{s.mem, s.imm} {
				if gen == nil {
					continue
				}
				have := gen.bytes
				if want := gen.recount(); have != want {
					t.Fatalf("%s: series %s counts %d bytes, its columns %d", when, s.key, have, want)
				}
			}
			if s.mem != nil {
				mem += s.mem.bytes
				gmem[s.group] += s.mem.bytes
			}
			if s.imm != nil {
				imm += s.imm.bytes
				gimm[s.group] += s.imm.bytes
			}
		}
	}
	if db.memBytes != mem || db.immBytes != imm || db.idxBytes != idx {
		t.Fatalf("%s: DB counts mem %d imm %d index %d bytes, its series %d, %d, %d", when, db.memBytes, db.immBytes, db.idxBytes, mem, imm, idx)
	}
	for g, gr := range db.groups {
		if gr.memBytes != gmem[g] || gr.immBytes != gimm[g] {
			t.Fatalf("%s: group %d counts mem %d imm %d bytes, its series %d, %d", when, g, gr.memBytes, gr.immBytes, gmem[g], gimm[g])
		}
	}
}

// TestMemBytesAccounting checks the memory bound's byte counts through
// random writes (every kind, strings of random lengths, times out of
// order and repeated, series of up to 25 fields), deletes, flushes that fail part way (groups written
// before the failure leave memory, the rest folds back) and succeed, group
// drops and a restart's replay.
func TestMemBytesAccounting(t *testing.T) {
	for seed := range uint64(4) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed, 17))
			dir := t.TempDir()
			fs := errorfs.New(vfs.Default)
			db := openFS(t, dir, fs, Options{})
			ctx := context.Background()
			devs := 1 + r.IntN(40)
			for step := range 60 {
				switch op := r.IntN(10); {
				case op < 6:
					var pts []model.Point
					for range 1 + r.IntN(200) {
						d := fmt.Sprintf("d%d", r.IntN(devs))
						ts := int64(r.IntN(5000)) * 1e9
						var f model.Field
						k := fmt.Sprint(r.IntN(5)) // up to 25 fields: past indexAfter
						switch r.IntN(5) {
						case 0:
							f = fv("f"+k, r.Float64())
						case 1:
							f = iv("i"+k, r.Int64())
						case 2:
							f = model.Field{Key: "u" + k, Value: model.Uint(r.Uint64())}
						case 3:
							f = model.Field{Key: "b" + k, Value: model.Bool(r.IntN(2) == 0)}
						default:
							f = model.Field{Key: "s" + k, Value: model.String(strings.Repeat("x", r.IntN(40)))}
						}
						pts = append(pts, pt("c", d, ts, f))
					}
					if err := db.Write(ctx, pts); err != nil {
						t.Fatal(err)
					}
				case op == 6:
					d := model.Tags{{Key: "device_id", Value: fmt.Sprintf("d%d", r.IntN(devs))}}
					lo := int64(r.IntN(5000)) * 1e9
					if err := db.Delete(ctx, "c", []model.Tags{d}, lo, lo+int64(r.IntN(1000))*1e9); err != nil {
						t.Fatal(err)
					}
				case op == 7:
					// Fail the second file's fsync: the first group's
					// files stay, the rest folds back into memory.
					fs.Inject(errorfs.Rule{Op: errorfs.OpSync, Path: "*.col.tmp", After: 1, Err: syscall.EIO})
					if err := db.Flush(ctx); err != nil && !errors.Is(err, syscall.EIO) {
						t.Fatal(err)
					}
					fs.Clear()
				case op == 8:
					if err := db.Flush(ctx); err != nil {
						t.Fatal(err)
					}
					db.mu.RLock()
					mem, imm := db.memBytes, db.immBytes
					db.mu.RUnlock()
					if mem != 0 || imm != 0 {
						t.Fatalf("step %d: after a flush memory counts %d + %d bytes", step, mem, imm)
					}
				default:
					if err := db.DropGroup(ctx, r.IntN(len(db.groups))); err != nil {
						t.Fatal(err)
					}
				}
				checkMemBytes(t, db, fmt.Sprintf("step %d", step))
			}
			crash(t, db)
			fs.Clear()
			db = openFS(t, dir, fs, Options{})
			defer db.Close()
			checkMemBytes(t, db, "after replay")
		})
	}
}

// TestMemoryBytesBound: with a bound in bytes far below the points bound,
// a write over it waits and then fails with ErrBackpressure naming
// storage.max_memory_bytes; a flush frees it, and the flusher is due at a
// half of the budget. A negative bound turns it off.
func TestMemoryBytesBound(t *testing.T) {
	ctx := context.Background()
	db := openFS(t, t.TempDir(), vfs.Default, Options{MaxMemoryBytes: 256 << 10, WriteStallTimeout: -1})
	defer db.Close()
	wrote := 0
	var err error
	for d := 0; d < 10_000 && err == nil; d++ {
		err = db.Write(ctx, []model.Point{pt("c", fmt.Sprintf("d%d", d), 0, iv("a", 1), iv("b", 2))})
		if err == nil {
			wrote++
		}
		if d == 0 {
			db.mu.RLock()
			due := db.flushDue()
			db.mu.RUnlock()
			if due {
				t.Fatal("flush due after one small write")
			}
		}
	}
	if !errors.Is(err, ErrBackpressure) || !strings.Contains(err.Error(), "storage.max_memory_bytes") {
		t.Fatalf("writes over the bound: %v after %d, want ErrBackpressure naming storage.max_memory_bytes", err, wrote)
	}
	h := db.Health()
	if h.MemoryBytes < h.MemoryBytesLimit || h.MemoryPoints >= h.MemoryLimit || h.Unwritable() == nil {
		t.Fatalf("health over the bound: %+v", h)
	}
	db.mu.RLock()
	due, budget := db.flushDue(), db.memoryBudget()
	db.mu.RUnlock()
	if !due || budget > 256<<10 || budget < 32<<10 {
		t.Fatalf("flush due %v, budget %d", due, budget)
	}
	if err := db.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := db.Write(ctx, []model.Point{pt("c", "d0", 1, iv("a", 1))}); err != nil {
		t.Fatalf("write after the flush: %v", err)
	}

	off := openFS(t, t.TempDir(), vfs.Default, Options{MaxMemoryBytes: -1, WriteStallTimeout: -1})
	defer off.Close()
	for d := range wrote + 100 {
		if err := off.Write(ctx, []model.Point{pt("c", fmt.Sprintf("d%d", d), 0, iv("a", 1), iv("b", 2))}); err != nil {
			t.Fatalf("without a bound in bytes, write %d: %v", d, err)
		}
	}
}
