// Replication positions: what a replica of a group applied from the
// group's replication stream, recorded in the same WAL record as the
// change itself (record.go, kind 4).

package storage

import (
	"context"
	"errors"
	"fmt"

	"github.com/soltixdb/soltix/model"
)

// A group's replication position is the stream sequence number of the
// last message of the group's replication stream this DB applied (0:
// none). The replication layer applies messages through WriteApplied and
// DeleteApplied, which write the change and the new position in one WAL
// record (one append, one fsync under wal.SyncAlways), so after any crash
// either both are there or neither is; a message at or below the position
// was applied before and changes nothing.
//
// The position survives restarts: Open starts from the positions
// groups.json records (a flush writes them before it removes WAL
// segments) and replays the applied records the WAL still holds, in
// order. DropGroup resets it to 0 durably; ImportGroup leaves it alone
// (the caller sets it with SetApplied once the import is installed).
//
// Calls for one group run one at a time (each holds the group's lock
// from its check of the position to the update), so the position never
// goes down but through SetApplied or DropGroup; calls for different
// groups run concurrently and share the WAL's group commit. One
// replication consumer per group is the intended use: concurrent calls
// for the same group are serialized, and whichever comes second with a
// lower or equal position is a no-op.

// ErrPositionZero is returned by WriteApplied and DeleteApplied for
// position 0, which no stream message has.
var ErrPositionZero = errors.New("replication position 0 is not a stream sequence number")

// WriteApplied is Write for a replica: it writes the batch as Write does
// (the same checks of points and field kinds, the same backpressure, and
// the same last-write-wins order: the batch ranks newer than everything
// this DB wrote before it) and records, in the same WAL record, that
// group g's replication position is seq. Every point must be of group g
// (GroupOf); a batch with a point of another group is refused whole.
// When seq is at or below Applied(g) the message was applied before and
// WriteApplied does nothing and returns nil; seq 0 fails with
// ErrPositionZero. An empty batch records the position alone.
//
// Calls for one group (WriteApplied, DeleteApplied, SetApplied) run one at
// a time, so concurrent calls for a group, which only a mistake makes
// (two consumers of one stream), apply each message once: whichever comes
// second with a position at or below the first's is a no-op, and the
// position never goes down but through SetApplied or DropGroup. Calls for
// different groups run concurrently and share the WAL's group commit.
//
// One difference from Write: a point older than its collection's raw
// retention is left out instead of failing the batch. The primary took
// it, and its retention drops it the same way; a replica applying the
// stream late must not stop at it.
func (db *DB) WriteApplied(ctx context.Context, points []model.Point, g int, seq uint64) error {
	pos, err := db.newPosition(g, seq)
	if err != nil {
		return err
	}
	return db.write(ctx, points, pos)
}

// DeleteApplied is Delete for a replica: it deletes as Delete does and
// records, in the same WAL record, that group g's replication position is
// seq. Every series must be of group g (GroupOf). A delete that removes
// nothing (no series, or min above max) records the position alone. When
// seq is at or below Applied(g) it does nothing and returns nil; seq 0
// fails with ErrPositionZero.
func (db *DB) DeleteApplied(ctx context.Context, collection string, series []model.Tags, min, max int64, g int, seq uint64) error {
	pos, err := db.newPosition(g, seq)
	if err != nil {
		return err
	}
	for i, tags := range series {
		if og := db.GroupOf(collection, tags); og != g {
			return fmt.Errorf("series %d is of group %d, not %d", i, og, g)
		}
	}
	return db.delete(ctx, collection, series, min, max, pos)
}

// Applied returns group g's replication position: the stream sequence
// number of the last message WriteApplied or DeleteApplied applied, or
// what SetApplied set since (0: none, or g outside [0, NumGroups)).
func (db *DB) Applied(g int) uint64 {
	if db.checkGroup(g) != nil {
		return 0
	}
	db.mu.RLock()
	defer db.mu.RUnlock()
	return db.groups[g].applied
}

// SetApplied sets group g's replication position to seq, durably (an
// applied record holding the position alone, fsynced under
// wal.SyncAlways, before it returns), whether seq is above or below the
// current one; setting the current one again is a no-op. A node calls it
// after a catch-up ImportGroup with the position the imported snapshot
// corresponds to, so that the stream is applied on from there; 0 means
// nothing was applied.
func (db *DB) SetApplied(g int, seq uint64) error {
	if err := db.checkGroup(g); err != nil {
		return err
	}
	gr := db.groups[g]
	gr.applyMu.Lock()
	defer gr.applyMu.Unlock()
	db.mu.RLock()
	same := gr.applied == seq
	db.mu.RUnlock()
	if same {
		return nil
	}
	if err := db.requireAppliedFormat(); err != nil {
		return err
	}
	db.swapMu.RLock()
	defer db.swapMu.RUnlock()
	db.mu.RLock()
	closed := db.closed
	db.mu.RUnlock()
	if closed {
		return ErrClosed
	}
	pos := &position{group: g, applied: seq}
	if _, err := db.wal.Append(appendPositionHead(nil, pos, db.seq.Add(1))); err != nil {
		db.log.Error("wal append failed; replication position not set", "group", g, "err", err)
		return fmt.Errorf("set group %d position %d: %w: %w", g, seq, ErrUnavailable, err)
	}
	db.mu.Lock()
	gr.applied = seq
	db.mu.Unlock()
	return nil
}

// newPosition checks a group and a stream sequence number and makes sure
// the directory's format allows applied records.
func (db *DB) newPosition(g int, seq uint64) (*position, error) {
	if err := db.checkGroup(g); err != nil {
		return nil, err
	}
	if seq == 0 {
		return nil, fmt.Errorf("group %d: %w", g, ErrPositionZero)
	}
	if err := db.requireAppliedFormat(); err != nil {
		return nil, err
	}
	return &position{group: g, applied: seq}, nil
}

// checkPositionWrite refuses a batch for WriteApplied with a point
// outside the position's group.
func (db *DB) checkPositionWrite(points []model.Point, pos *position) error {
	var last *model.Tag // points of one device often share their tags
	for i := range points {
		p := &points[i]
		if len(p.Tags) > 0 && &p.Tags[0] == last {
			continue
		}
		var dev string
		if p.Tags.Has(db.opts.ShardTag) {
			dev = p.Tags.Get(db.opts.ShardTag)
		} else {
			dev = model.SeriesKey(p.Collection, p.Tags)
		}
		if g := model.GroupOf(dev, db.opts.NumGroups); g != pos.group {
			return fmt.Errorf("point %d is of group %d, not %d", i, g, pos.group)
		}
		if p.Tags.Has(db.opts.ShardTag) {
			last = &p.Tags[0] // the group depends on the tags alone
		}
	}
	return nil
}

// withoutExpired returns points without those older than their
// collection's raw retention, copying the slice only when it leaves one
// out. The caller holds mu.
func (db *DB) withoutExpired(points []model.Point) []model.Point {
	now := db.retentionClock()
	var kept []model.Point
	for i := range points {
		if db.expired(i, &points[i], now) == nil {
			if kept != nil {
				kept = append(kept, points[i])
			}
			continue
		}
		if kept == nil {
			kept = make([]model.Point, i, len(points))
			copy(kept, points[:i])
		}
	}
	if kept == nil {
		return points
	}
	return kept
}

// positions returns every group's replication position. The caller holds
// mu.
func (db *DB) positions() []uint64 {
	out := make([]uint64, len(db.groups))
	for g, gr := range db.groups {
		out[g] = gr.applied
	}
	return out
}

// replayRecord applies one WAL record during Open and returns the number
// of points it added. The caller has the DB to itself.
func (db *DB) replayRecord(segment uint64, rec []byte) (int, error) {
	switch recordKind(rec) {
	case recordDelete:
		t, err := decodeDelete(rec)
		if err != nil {
			return 0, err
		}
		db.applyDelete(t)
		db.bumpSeq(t.seq)
		return 0, nil
	case recordApplied:
		r, err := decodeApplied(rec)
		if err != nil {
			return 0, err
		}
		if err := db.checkGroup(r.pos.group); err != nil {
			return 0, fmt.Errorf("applied record: %w", err)
		}
		n := 0
		switch r.kind {
		case recordBatch:
			n = db.replayBatch(segment, r.seq, r.points)
		case recordDelete:
			db.applyDelete(r.tomb)
		}
		db.bumpSeq(r.seq)
		// A drop after the record reset the position.
		if gr := db.groups[r.pos.group]; r.seq >= gr.dropSeq {
			gr.applied = r.pos.applied
		}
		return n, nil
	}
	seq, pts, err := decodeBatch(rec)
	if err != nil {
		return 0, err
	}
	return db.replayBatch(segment, seq, pts), nil
}

// replayBatch applies a write batch during Open and returns the number of
// points it added.
func (db *DB) replayBatch(segment, seq uint64, pts []model.Point) int {
	pts = db.withoutDropped(seq, pts)
	if conflicts := db.checkKinds(pts, true); len(conflicts) > 0 {
		// A record that clashes with the schema can only come from
		// files written by a different version; keep the data we can
		// and say so rather than refuse to start.
		db.log.Warn("wal record clashes with the schema; clashing fields skipped", "segment", segment, "conflicts", len(conflicts))
	}
	db.apply(seq, pts)
	db.bumpSeq(seq)
	return len(pts)
}
