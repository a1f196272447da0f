// Dropping a group (the old owner after a move). The durable record that
// keeps a dropped group's data from coming back is groups.json
// (group_meta.go).

package storage

import (
	"context"
	"fmt"

	"github.com/soltixdb/soltix/model"
)

// droppedData reports whether data of group g with sequence number seq was
// dropped.
func (db *DB) droppedData(g int, seq uint64) bool {
	return g >= 0 && g < len(db.groups) && seq < db.groups[g].dropSeq
}

// withoutDropped returns the points of a WAL batch with sequence number
// seq that no DropGroup has dropped since. The caller has the DB to
// itself (replay).
func (db *DB) withoutDropped(seq uint64, pts []model.Point) []model.Point {
	if seq >= db.lastDrop {
		return pts
	}
	kept := pts[:0]
	for _, p := range pts {
		if !db.droppedData(db.groupOf(model.SeriesKey(p.Collection, p.Tags), p.Tags), seq) {
			kept = append(kept, p)
		}
	}
	return kept
}

// DropGroup removes group g's data from this DB, durably: its points in
// memory, its raw and rollup files in every collection, and its series
// from the index. Neither a restart nor the WAL replay brings it back: the
// drop takes a sequence number S and records it in groups.json before
// anything is removed, and from then on Open ignores (and removes) the
// group's files numbered below S and skips the group's WAL points
// numbered below S. Data of g written or imported after DropGroup
// returns is kept. The group's replication position (Applied) is 0 again,
// durably (it is recorded with the drop, and Open ignores the positions of
// applied records numbered below S), so a group dropped and received
// again starts over. Collection schemas and settings stay. Files pinned by
// an open GroupSnapshot are removed when it is closed. Quarantined files
// are left where they are.
func (db *DB) DropGroup(ctx context.Context, g int) error {
	if err := db.checkGroup(g); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	db.flushMu.Lock()
	defer db.flushMu.Unlock()
	// Exclusive: no write is between taking its sequence number and
	// applying it, so every batch below S is in memory now.
	db.swapMu.Lock()
	db.mu.Lock()
	if db.shut || db.closed {
		db.mu.Unlock()
		db.swapMu.Unlock()
		return ErrClosed
	}
	seq := db.seq.Add(1)
	if err := db.saveDropped(g, seq); err != nil {
		db.mu.Unlock()
		db.swapMu.Unlock()
		return fmt.Errorf("drop group %d: %w", g, err)
	}
	db.groups[g].dropSeq = seq
	db.groups[g].applied = 0
	db.lastDrop = seq
	raw, rolls := db.groupFilesLocked(g, true)
	db.forgetMemory(g)
	for c, series := range db.groups[g].series {
		for key := range series {
			db.unindex(c, key)
		}
	}
	clear(db.groups[g].rollups)
	clear(db.groups[g].files)
	clear(db.groups[g].rawFrom)
	db.groups[g].expecting = false
	db.dropSpentTombstones()
	db.mu.Unlock()
	db.swapMu.Unlock()
	db.wakeWriters()

	err := db.discard(append(raw, rollData(rolls)...), false, fmt.Sprintf("drop group %d: remove", g))
	db.log.Info("dropped group", "group", g, "seq", seq, "files", len(raw), "rollup_files", len(rolls))
	return err
}

// unindex removes a series from a collection and its tag index. The
// caller holds mu.
func (db *DB) unindex(c *collection, key string) {
	s := c.series[key]
	if s == nil {
		return
	}
	db.groups[s.group].removeSeries(c, s)
	db.idxBytes -= seriesBytes(s.key, s.tags)
	delete(c.series, key)
	c.removePostings(s)
}
