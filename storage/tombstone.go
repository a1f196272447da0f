package storage

import (
	"context"
	"fmt"
	"sort"

	"github.com/soltixdb/soltix/model"
)

// tombstone is a durable delete: the listed series of a collection lose
// their points with times in [min, max] that were written before it, that
// is, by batches with a lower seq (in memory) or in files with a lower seq.
// Memory is filtered when the delete happens; files are filtered on every
// read until compaction has rewritten them, after which the tombstone is
// dropped. Until then every flush re-appends it to the WAL, so it outlives
// the truncation of the segment it was first written to.
type tombstone struct {
	seq      uint64
	coll     string
	min, max int64
	series   []model.Tags
	keys     map[string]struct{} // series keys, built by index
	// rawFrom is where raw data of the collection was complete from
	// when the delete was applied here: older buckets had only rollup
	// rows, which a delete drops (group_import.go applies it to a
	// snapshot's rows that way).
	rawFrom int64
}

func (t *tombstone) index() {
	t.keys = make(map[string]struct{}, len(t.series))
	for _, tags := range t.series {
		t.keys[model.SeriesKey(t.coll, tags)] = struct{}{}
	}
}

// covers reports whether the tombstone deletes anything of the series key
// from a source with sequence number seq whose times span [lo, hi].
func (t *tombstone) covers(key string, seq uint64, lo, hi int64) bool {
	if seq >= t.seq || hi < t.min || lo > t.max {
		return false
	}
	_, ok := t.keys[key]
	return ok
}

// cut returns col without the values whose times lie in [min, max]. It
// never modifies col's arrays.
func cut(col model.Column, min, max int64) model.Column {
	lo, hi := -1, -1
	for i, t := range col.Times {
		if t >= min && lo < 0 {
			lo = i
		}
		if t > max {
			hi = i
			break
		}
	}
	if lo < 0 {
		return col // everything is before the range
	}
	if hi < 0 {
		hi = col.Len()
	}
	if lo == hi {
		return col
	}
	out := model.Column{Name: col.Name, Kind: col.Kind}
	appendColumn(&out, col, 0, lo)
	appendColumn(&out, col, hi, col.Len())
	return out
}

// without returns a copy of the memory column without the values of times
// in [min, max] written with a sequence number below seq.
func (m *memColumn) without(a *slabs, min, max int64, seq uint64) (memColumn, int) {
	out := newMemColumn(m.name, m.kind)
	removed := 0
	seqs := m.seqs()
	col := m.column()
	for i := 0; i < col.Len(); i++ {
		t := col.Times[i]
		if t >= min && t <= max && seqs[i] < seq {
			removed++
			continue
		}
		out.append(a, t, col.Value(i), seqs[i])
	}
	return out, removed
}

// Delete removes, durably and visibly at once, the points of the listed
// series of the collection whose times lie in [min, max]. Points written
// after Delete returns are not affected. It waits for a running flush or
// compaction to finish, and holds writes for one WAL append.
func (db *DB) Delete(ctx context.Context, collection string, series []model.Tags, min, max int64) error {
	if min > max || len(series) == 0 {
		return ctx.Err()
	}
	return db.delete(ctx, collection, series, min, max, nil)
}

// delete is Delete, and with pos set DeleteApplied (applied.go): the
// tombstone's record then also carries the group's new replication
// position (and is only that when the delete removes nothing), and a
// position at or below the group's is a no-op.
func (db *DB) delete(ctx context.Context, collection string, series []model.Tags, min, max int64, pos *position) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if pos != nil {
		mu := &db.groups[pos.group].applyMu
		mu.Lock()
		defer mu.Unlock()
	}
	db.flushMu.Lock()
	defer db.flushMu.Unlock()
	// Exclusive: no write is between its WAL append and its apply, so
	// every batch with a lower seq is in memory when the delete applies.
	db.swapMu.Lock()
	defer db.swapMu.Unlock()
	db.mu.RLock()
	closed := db.closed
	redelivered := pos != nil && pos.applied <= db.groups[pos.group].applied
	db.mu.RUnlock()
	if closed {
		return ErrClosed
	}
	if redelivered {
		return nil
	}
	t := &tombstone{seq: db.seq.Add(1), coll: collection, min: min, max: max, series: series}
	t.index()
	var rec []byte
	if pos != nil {
		rec = appendPositionHead(nil, pos, t.seq)
	}
	empty := min > max || len(series) == 0
	if !empty {
		rec = appendDelete(rec, t)
	}
	if _, err := db.wal.Append(rec); err != nil {
		db.log.Error("wal append failed; delete not acknowledged", "err", err)
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	db.mu.Lock()
	if !empty {
		db.applyDelete(t)
	}
	if pos != nil {
		db.groups[pos.group].applied = pos.applied
	}
	db.mu.Unlock()
	return nil
}

// applyDelete filters memory and keeps the tombstone for files. The caller
// holds mu (or has the DB to itself) and no flush is running.
func (db *DB) applyDelete(t *tombstone) {
	for _, tags := range t.series {
		db.groups[db.groupOf(model.SeriesKey(t.coll, tags), tags)].noteSeq(t.seq)
	}
	t.rawFrom = max(db.retentionHorizon(db.settingsOf(t.coll), model.LevelRaw), db.rawKept(t.coll))
	if d, ok := db.rawDropped[t.coll]; ok {
		t.rawFrom = max(t.rawFrom, d)
	}
	c := db.colls[t.coll]
	if c == nil && !db.tombstoneExpected(t) {
		return
	}
	marked := make(map[int]bool)
	for key := range t.keys {
		if c == nil {
			break // kept for an expected group's import only
		}
		s := c.series[key]
		if s == nil {
			continue
		}
		if !marked[s.group] {
			marked[s.group] = true
			db.markSpan(c, s.group, t.min, t.max, t.keys, t.seq)
		}
		for _, gen := range []*memSeries{s.imm, s.mem} {
			if gen == nil {
				continue
			}
			for i := range gen.cols {
				mc := gen.cols[i]
				nc, removed := mc.without(&db.groups[s.group].slabs, t.min, t.max, t.seq)
				gen.cols[i] = nc
				gen.points -= removed
				shrunk := mc.bytes - nc.bytes
				gen.bytes -= shrunk
				if gen == s.mem {
					db.memPoints -= removed
					db.groups[s.group].memPoints -= removed
					db.memBytes -= shrunk
					db.groups[s.group].memBytes -= shrunk
				} else {
					db.immPoints -= removed
					db.groups[s.group].immPoints -= removed
					db.immBytes -= shrunk
					db.groups[s.group].immBytes -= shrunk
				}
			}
		}
	}
	for _, old := range db.tombs {
		if old.seq == t.seq {
			return // replayed again after a flush carried it over
		}
	}
	db.tombs = append(db.tombs, t)
	sort.Slice(db.tombs, func(i, j int) bool { return db.tombs[i].seq < db.tombs[j].seq })
}

// dropSpentTombstones forgets tombstones that no file's data is under any
// more. The caller holds mu or has the DB to itself.
func (db *DB) dropSpentTombstones() {
	kept := db.tombs[:0]
	for _, t := range db.tombs {
		if db.tombstoneCoversFiles(t) || db.tombstoneExpected(t) {
			kept = append(kept, t)
		}
	}
	clear(db.tombs[len(kept):])
	db.tombs = kept
}

func (db *DB) tombstoneCoversFiles(t *tombstone) bool {
	c := db.colls[t.coll]
	if c == nil {
		return false
	}
	for key := range t.keys {
		s := c.series[key]
		if s == nil {
			continue
		}
		for _, fs := range s.files {
			for _, ci := range fs.f.r.SeriesAt(fs.idx).Columns {
				if t.covers(key, fs.f.meta.Seq, ci.MinTime, ci.MaxTime) {
					return true
				}
			}
		}
	}
	return false
}
