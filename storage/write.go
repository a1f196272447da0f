// The write path: checking a batch, appending it to the WAL and applying it to memory.

package storage

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"time"

	"github.com/soltixdb/soltix/internal/freelist"
	"github.com/soltixdb/soltix/internal/timex"
	"github.com/soltixdb/soltix/model"
)

// Write makes a batch of points durable and visible. Either the whole batch
// is written or none of it: a field whose kind clashes with the collection's
// schema fails the batch with a *ConflictError, a WAL failure with
// ErrUnavailable. Points must have a collection and at least one field.
func (db *DB) Write(ctx context.Context, points []model.Point) error {
	if len(points) == 0 {
		return nil
	}
	return db.write(ctx, points, nil)
}

// checkPoints refuses a batch with a point that has no collection, no
// field or a collection name that is too long.
func checkPoints(points []model.Point) error {
	for i := range points {
		p := &points[i]
		if p.Collection == "" || len(p.Fields) == 0 {
			return fmt.Errorf("point %d: a point needs a collection and at least one field", i)
		}
		if len(p.Collection) > MaxCollectionLen {
			return fmt.Errorf("point %d: collection name of %d bytes exceeds %d", i, len(p.Collection), MaxCollectionLen)
		}
	}
	return nil
}

// write is Write, and with pos set WriteApplied (applied.go): the batch's
// record then also carries the group's new replication position, and a
// position at or below the group's is a no-op.
func (db *DB) write(ctx context.Context, points []model.Point, pos *position) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := checkPoints(points); err != nil {
		return err
	}
	if pos != nil {
		if err := db.checkPositionWrite(points, pos); err != nil {
			return err
		}
		if pos.applied <= db.Applied(pos.group) {
			return nil // applied before; checked again below
		}
	}
	if err := db.waitForMemory(ctx); err != nil {
		return err
	}
	db.gate.enter()
	defer db.gate.leave()
	if pos != nil {
		// One call per group at a time, so that the group's records are
		// in the WAL in the order their positions were applied.
		mu := &db.groups[pos.group].applyMu
		mu.Lock()
		defer mu.Unlock()
	}
	db.swapMu.RLock()
	defer db.swapMu.RUnlock()

	db.mu.Lock()
	if db.closed {
		db.mu.Unlock()
		return ErrClosed
	}
	if pos != nil && pos.applied <= db.groups[pos.group].applied {
		db.mu.Unlock()
		return nil // applied before: a redelivered message
	}
	// Reserve the kinds of new fields now, so that two concurrent batches
	// cannot give one field two kinds.
	if pos == nil {
		if err := db.checkRetention(points); err != nil {
			db.mu.Unlock()
			return err
		}
	} else {
		points = db.withoutExpired(points)
	}
	conflicts := db.checkKinds(points, false)
	db.mu.Unlock()
	if len(conflicts) > 0 {
		return &ConflictError{Conflicts: conflicts}
	}

	seq := db.seq.Add(1)
	rb := getRecordBuf()
	rb.buf = rb.buf[:0]
	if pos != nil {
		rb.buf = appendPositionHead(rb.buf, pos, seq)
	}
	if pos == nil || len(points) > 0 {
		rb.buf = rb.enc.encode(rb.buf, seq, points)
	}
	_, err := db.wal.Append(rb.buf) // the WAL copies the record before it returns
	putRecordBuf(rb)
	if err != nil {
		db.health.walErrors.Add(1)
		if errors.Is(err, syscall.ENOSPC) {
			db.health.diskFull.Add(1)
			db.log.Warn("disk full: write refused, not acknowledged; writes resume when space is freed", "err", err)
		} else {
			db.log.Error("wal append failed; write not acknowledged", "err", err)
		}
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}

	db.mu.Lock()
	db.apply(seq, points)
	if pos != nil {
		db.groups[pos.group].applied = pos.applied
	}
	full := db.flushDue()
	db.mu.Unlock()
	if full {
		// Wake the background flusher now rather than at its next tick,
		// so memory stays near the bound at high ingest rates.
		select {
		case db.full <- struct{}{}:
		default:
		}
	}
	return nil
}

// recordBuf is a batch encoder and its output buffer, reused across
// writes through recordBufs; buffers above maxPooledRecord are dropped.
type recordBuf struct {
	enc batchEncoder
	buf []byte
}

const maxPooledRecord = 8 << 20

// recordBufs holds up to maxPooledRecords encoders for reuse. A fixed
// free list rather than a sync.Pool: under a heavy load the collector runs
// several times a second and would empty a pool between two batches, and
// the encoder's tables (one entry per series of a batch) would grow again
// for every batch.
var recordBufs = freelist.New[*recordBuf](maxPooledRecords)

const maxPooledRecords = 4

func getRecordBuf() *recordBuf {
	if rb, ok := recordBufs.Get(); ok {
		return rb
	}
	return new(recordBuf)
}

func putRecordBuf(rb *recordBuf) {
	if cap(rb.buf) > maxPooledRecord {
		return
	}
	recordBufs.Put(rb)
}

// checkKinds checks every field against the collection's schema and the
// earlier points of the batch, registering new fields. With drop set,
// clashing fields are removed from their points instead of failing. The
// caller holds mu.
func (db *DB) checkKinds(points []model.Point, drop bool) []Conflict {
	var conflicts []Conflict
	var added []struct{ c, f string }
	var prev *model.Point // the last point checked without a clash
	for i := range points {
		p := &points[i]
		if prev != nil && sameFields(p, prev) {
			// Its fields and kinds are those just checked, or added.
			continue
		}
		prev = nil
		c := db.coll(p.Collection)
		clash := false
		for _, f := range p.Fields {
			have, ok := c.fields[f.Key]
			switch {
			case !ok:
				c.fields[f.Key] = f.Value.Kind
				added = append(added, struct{ c, f string }{p.Collection, f.Key})
			case have != f.Value.Kind:
				conflicts = append(conflicts, Conflict{Point: i, Collection: p.Collection, Field: f.Key, Have: have, Got: f.Value.Kind})
				clash = true
			}
		}
		if !clash {
			prev = p
		}
		if drop && clash {
			kept := make([]model.Field, 0, len(p.Fields))
			for _, f := range p.Fields {
				if c.fields[f.Key] == f.Value.Kind {
					kept = append(kept, f)
				}
			}
			p.Fields = kept
		}
	}
	if len(conflicts) > 0 && !drop {
		// The batch is refused: forget the fields it introduced.
		for _, a := range added {
			delete(db.colls[a.c].fields, a.f)
		}
	}
	return conflicts
}

// sameFields reports whether p has q's collection and the same field keys
// and kinds in the same order: a fleet's points mostly do, one after the
// other, so checkKinds looks each up once a run rather than once a point.
func sameFields(p, q *model.Point) bool {
	if p.Collection != q.Collection || len(p.Fields) != len(q.Fields) {
		return false
	}
	for j := range p.Fields {
		if p.Fields[j].Key != q.Fields[j].Key || p.Fields[j].Value.Kind != q.Fields[j].Value.Kind {
			return false
		}
	}
	return true
}

// checkRetention refuses points older than their collection's raw
// retention. The caller holds mu.
func (db *DB) checkRetention(points []model.Point) error {
	now := db.retentionClock()
	for i := range points {
		if err := db.expired(i, &points[i], now); err != nil {
			return err
		}
	}
	return nil
}

// retentionClock returns a function that reads the clock once, the first
// time it is called, as a Unix nanosecond time.
func (db *DB) retentionClock() func() int64 {
	var now int64
	read := false
	return func() int64 {
		if !read {
			now, _ = timex.FromTime(db.now())
			read = true
		}
		return now
	}
}

// expired returns the *RetentionError of point p (number i of its batch)
// when it is older than its collection's raw retention, nil otherwise.
// The caller holds mu.
func (db *DB) expired(i int, p *model.Point, now func() int64) *RetentionError {
	r := db.settingsOf(p.Collection).Retention[model.LevelRaw]
	if kept := db.rawKept(p.Collection); p.Time < kept {
		return &RetentionError{Point: i, Collection: p.Collection, Time: p.Time, Retention: r, Kept: kept}
	}
	if r <= 0 {
		return nil
	}
	if cut, _ := timex.Sub(now(), int64(r)); p.Time < cut {
		return &RetentionError{Point: i, Collection: p.Collection, Time: p.Time, Retention: r}
	}
	return nil
}

func (db *DB) now() time.Time { return db.opts.Now() }

// apply adds a batch to the active memory generation and marks the rollup
// buckets it touches dirty. The caller holds mu.
func (db *DB) apply(seq uint64, points []model.Point) {
	// Mark each (collection, group, hour) of the batch once: a batch
	// usually spans few hours but many devices.
	type markKey struct {
		c     *collection
		group int
		hour  int64
	}
	var last markKey
	var marked map[markKey]bool
	// Points of one device often share their Tags slice (the line
	// protocol parser reuses a repeated measurement-and-tags section), so
	// their series is found by that slice before building a key; the map
	// is kept for the next batch, empty (see knownSeries).
	known := db.known.start()
	defer db.known.done()
	sc := &db.applying
	defer sc.done()
	// First, every point's series (and the hours it marks).
	slots := sc.slots(len(points))
	for i := range points {
		p := &points[i]
		var f knownEntry
		var sk knownKey
		if len(p.Tags) > 0 {
			sk = knownKey{p.Collection, &p.Tags[0], len(p.Tags)}
			f = known[sk]
		}
		if f.s == nil {
			f.c = db.coll(p.Collection)
			f.s = db.seriesOf(f.c, p.Tags)
			f.slot = sc.slotOf(f)
			if sk.tags != nil {
				known[sk] = f
			}
		}
		slots[i] = f.slot
		c, s := f.c, f.s
		if k := (markKey{c, s.group, model.Level1h.Floor(p.Time)}); k != last {
			if marked == nil {
				marked = make(map[markKey]bool)
			}
			if !marked[k] {
				marked[k] = true
				db.markWrite(c, s.group, p.Time)
			}
			last = k
		}
	}
	// Then the values, series by series, each series' points in the
	// batch's order (the last of one time wins).
	for _, i := range sc.bySeries(slots) {
		p := &points[i]
		f := sc.series[slots[i]]
		s := f.s
		gr := db.groups[s.group]
		grown := 0 // bytes, counted in s.mem.bytes at the end
		if s.mem == nil {
			s.mem = newMemSeries(len(p.Fields))
			gr.memBytes += s.mem.bytes
			db.memBytes += s.mem.bytes
		}
		gr.noteSeq(seq)
		for i, f := range p.Fields {
			mc := s.mem.find(f.Key, i)
			if mc == nil {
				var added int
				mc, added = s.mem.add(newMemColumn(f.Key, f.Value.Kind))
				grown += added
			}
			before := mc.bytes
			mc.append(&gr.slabs, p.Time, f.Value, seq)
			s.mem.points++
			gr.memPoints++
			db.memPoints++
			grown += mc.bytes - before
		}
		s.mem.bytes += grown
		gr.memBytes += grown
		db.memBytes += grown
	}
}
