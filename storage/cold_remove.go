// Cold files the DB no longer uses: taking them out of the cold list,
// deleting their objects, and sweeping the objects retention expired that
// no list names any more.

package storage

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/soltixdb/soltix/internal/timex"
	"github.com/soltixdb/soltix/model"
)

// dropCold takes cold files the DB no longer uses out of the cold list:
// a shared one is forgotten unless it expired (its object may serve
// another node), any other is marked gone, and its object is deleted by
// the tierer, which this wakes. The caller has retired the files.
func (db *DB) dropCold(files []*dataFile, expired bool) error {
	if len(files) == 0 {
		return nil
	}
	db.coldMu.Lock()
	next := &coldList{id: db.coldList.id, entries: slices.Clone(db.coldList.entries)}
	for _, f := range files {
		i, ok := next.find(f.cold.entry.Seq)
		if !ok {
			continue
		}
		if next.entries[i].shared() && !expired {
			next.entries = slices.Delete(next.entries, i, i+1)
		} else {
			next.entries[i].Flags |= coldGone
		}
	}
	err := db.saveColdList(next)
	// Kept in memory even when the write failed: the next write records
	// it, and until then Open drops these files again (they are
	// replaced, expired or dropped there too).
	db.coldList = next
	db.coldMu.Unlock()
	for _, f := range files {
		if rerr := db.fs.Remove(db.stubPath(f.cold.entry.Seq)); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
			err = errors.Join(err, rerr)
		}
	}
	db.kickTier()
	return err
}

// kickTier wakes the background tierer.
func (db *DB) kickTier() {
	select {
	case db.tierKick <- struct{}{}:
	default:
	}
}

// deleteGoneObjects deletes the objects of the entries marked gone and
// takes them out of the list.
func (db *DB) deleteGoneObjects(ctx context.Context, st *TierStats) error {
	db.coldMu.Lock()
	var gone []coldEntry
	for _, e := range db.coldList.entries {
		if e.gone() {
			gone = append(gone, e)
		}
	}
	db.coldMu.Unlock()
	if len(gone) == 0 {
		return nil
	}
	var errs []error
	done := make(map[uint64]bool)
	for _, e := range gone {
		if err := ctx.Err(); err != nil {
			errs = append(errs, err)
			break
		}
		if err := db.store().Delete(ctx, e.Key); err != nil {
			db.coldCnt.deleteFailures.Add(1)
			errs = append(errs, err)
			if len(errs) >= tierMaxFailures {
				break
			}
			continue
		}
		done[e.Seq] = true
		st.Deleted++
		db.coldCnt.deletes.Add(1)
	}
	if len(done) > 0 {
		db.coldMu.Lock()
		next := &coldList{id: db.coldList.id, entries: slices.DeleteFunc(slices.Clone(db.coldList.entries),
			func(e coldEntry) bool { return done[e.Seq] && e.gone() })}
		if err := db.saveColdList(next); err != nil {
			errs = append(errs, err)
		}
		db.coldList = next
		db.coldMu.Unlock()
	}
	if len(errs) > 0 {
		db.log.Warn("cold tier: deleting objects of files no longer used failed; tried again later", "err", errs[0])
	}
	return errors.Join(errs...)
}

// discard removes files the DB no longer uses, which the caller has taken
// out of the index: it retires each; a local file is removed from disk
// (once no group snapshot pins it) and its directory synced; a cold file
// leaves the cold list (dropCold; expired says retention dropped it). what
// starts the error of a local file that could not be removed.
func (db *DB) discard(files []*dataFile, expired bool, what string) error {
	var errs []error
	var colds []*dataFile
	dirs := make(map[string]bool)
	for _, f := range files {
		f.retire()
		if f.cold != nil {
			colds = append(colds, f)
			continue
		}
		if err := db.removeData(f.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("%s %s: %w", what, f.path, err))
		}
		dirs[filepath.Dir(f.path)] = true
	}
	for d := range dirs {
		if err := db.fs.SyncDir(d); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if err := db.dropCold(colds, expired); err != nil {
		errs = append(errs, fmt.Errorf("%s cold files: %w", what, err))
	}
	return errors.Join(errs...)
}

// rollData returns the dataFiles of rollup files.
func rollData(files []*rollFile) []*dataFile {
	out := make([]*dataFile, len(files))
	for i, f := range files {
		out[i] = f.dataFile
	}
	return out
}

// shareCold marks cold files shared, durably: a group snapshot hands them
// to another node.
func (db *DB) shareCold(files []*dataFile) error {
	db.coldMu.Lock()
	defer db.coldMu.Unlock()
	next := &coldList{id: db.coldList.id, entries: slices.Clone(db.coldList.entries)}
	changed := false
	for _, f := range files {
		if i, ok := next.find(f.cold.entry.Seq); ok && !next.entries[i].shared() {
			next.entries[i].Flags |= coldShared
			changed = true
		}
	}
	if !changed {
		return nil
	}
	if err := db.saveColdList(next); err != nil {
		return err
	}
	db.coldList = next
	return nil
}

// sweepInterval is how often background Tier runs sweep expired objects;
// Tier called directly always does.
const sweepInterval = time.Hour

// sweepExpired deletes the objects of every collection with a retention
// whose partition has expired at their level and that the cold list does
// not name: the objects of shared files this DB (or another holding the
// group before) stopped referring to, which only retention may delete,
// and objects a crash left unlisted. The objects the list names expire
// through retention as files do.
func (db *DB) sweepExpired(ctx context.Context, st *TierStats) error {
	type sweep struct {
		coll    string
		horizon [len(levelNamesForDirs)]int64
	}
	var todo []sweep
	db.mu.RLock()
	for name, c := range db.colls {
		sw := sweep{coll: name}
		any := false
		for l := model.LevelRaw; l < model.Level1y; l++ {
			sw.horizon[l] = db.horizon(c, l)
			any = any || sw.horizon[l] != math.MinInt64
		}
		if any {
			todo = append(todo, sw)
		}
	}
	db.mu.RUnlock()
	live := make(map[string]bool)
	db.coldMu.Lock()
	for _, e := range db.coldList.entries {
		live[e.Key] = true // gone ones too: deleteGoneObjects has them
	}
	db.coldMu.Unlock()
	width := db.opts.PartitionDuration.Nanoseconds()
	var errs []error
	for _, sw := range todo {
		prefix := db.store().CollectionPrefix(collDirName(sw.coll))
		objs, err := db.store().List(ctx, prefix)
		if err != nil {
			return err
		}
		for _, o := range objs {
			l, end, ok := objectSpan(strings.TrimPrefix(o.Key, prefix), width)
			if !ok || live[o.Key] || sw.horizon[l] == math.MinInt64 || end >= sw.horizon[l] {
				continue
			}
			if err := db.store().Delete(ctx, o.Key); err != nil {
				db.coldCnt.deleteFailures.Add(1)
				errs = append(errs, err)
				if len(errs) >= tierMaxFailures {
					return errors.Join(errs...)
				}
				continue
			}
			st.Deleted++
			db.coldCnt.deletes.Add(1)
		}
	}
	return errors.Join(errs...)
}

// objectSpan parses the key of a cold object below its collection's
// prefix, "group_NNNN/<level>/<partition>-<seq>-<id>.col", into its level
// and the last instant of its partition (a raw partition of width here).
func objectSpan(rel string, width int64) (model.Level, int64, bool) {
	parts := strings.Split(rel, "/")
	if len(parts) != 3 || !strings.HasPrefix(parts[0], "group_") || !strings.HasSuffix(parts[2], ".col") {
		return 0, 0, false
	}
	l, ok := model.ParseLevel(parts[1])
	if !ok || l == model.Level1y {
		return 0, 0, false
	}
	p, _, _ := strings.Cut(parts[2], "-")
	if p == allPartitions {
		return 0, 0, false
	}
	tm, err := time.Parse(partitionLayout, p)
	if err != nil {
		return 0, 0, false
	}
	start, ok := timex.FromTime(tm)
	if !ok {
		return 0, 0, false
	}
	if l == model.LevelRaw {
		end, fits := timex.Add(start, width)
		if !fits {
			return 0, 0, false
		}
		return l, end - 1, true
	}
	return l, partEnd(l, start), true
}
