package storage

import (
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"time"

	"github.com/soltixdb/soltix/internal/timex"
	"github.com/soltixdb/soltix/model"
)

// rollupState is what the engine records about a collection's rollups
// beside its settings in collections.json, so that it is durable together
// with the setting change that creates it:
//
//   - pending: rollups were turned on (or a level kept longer) and the
//     buckets are not rebuilt yet. Open marks every bucket dirty again;
//     only a rollup pass that handled those marks clears it.
//   - kept: by level, the start of the data the level holds whole, when a
//     longer retention made it claim time it holds no data for (its files
//     there were dropped, and no finer data is left to rebuild them). The
//     level's horizon is the later of this and its retention's; without
//     it a clean bucket without a row would read as "no data", and
//     coarser levels would be rebuilt from the empty stretch. For raw
//     data it is also the oldest time a write may have, as older hours
//     have rollup rows that raw data no longer backs.
//   - owed: by group, the days whose 1d rows were written without their
//     sketch while they were being written (rollup_owed.go).
type rollupState struct {
	pending bool
	gen     uint64 // the generation of the pending marks (memory only)
	kept    map[model.Level]int64
	owed    map[int][]int64
}

func (st *rollupState) empty() bool {
	return st == nil || (!st.pending && len(st.kept) == 0 && len(st.owed) == 0)
}

func (st *rollupState) clone() *rollupState {
	if st == nil {
		return &rollupState{}
	}
	var owed map[int][]int64
	for g, days := range st.owed {
		if owed == nil {
			owed = make(map[int][]int64, len(st.owed))
		}
		owed[g] = slices.Clone(days)
	}
	return &rollupState{pending: st.pending, gen: st.gen, kept: maps.Clone(st.kept), owed: owed}
}

// cloneRollStates copies every collection's rollup state. The caller
// holds mu.
func (db *DB) cloneRollStates() map[string]*rollupState {
	out := make(map[string]*rollupState, len(db.rollState)+1)
	for name, st := range db.rollState {
		out[name] = st.clone()
	}
	return out
}

// setRollState installs a collection's rollup state. The caller holds mu.
func (db *DB) setRollState(name string, st *rollupState) {
	if st.empty() {
		delete(db.rollState, name)
		return
	}
	db.rollState[name] = st
}

// claims returns the kept map after a collection's settings change from
// old to s. While rollups stay on, a level whose horizon moves back claims
// only what can be rebuilt (the rebuild is pending with the change): from
// where a finer level or raw data holds whole buckets, never before its
// old horizon. Its coarser levels keep their own rows before that, which
// are whole. Raw data keeps its old horizon. With rollups off, or turned
// on (no rollup rows are left to protect, and coarser rows built from
// what is still kept are the best there is), nothing is kept. The caller
// holds mu.
func (db *DB) claims(kept map[model.Level]int64, old, s CollectionSettings) map[model.Level]int64 {
	if s.NoRollups || old.NoRollups {
		return nil
	}
	oldKept := kept
	kept = maps.Clone(kept)
	if kept == nil {
		kept = make(map[model.Level]int64)
	}
	eff := func(set CollectionSettings, k map[model.Level]int64, l model.Level) int64 {
		h := db.retentionHorizon(set, l)
		if t, ok := k[l]; ok {
			h = max(h, t)
		}
		return h
	}
	for l := model.LevelRaw; l < model.Level1y; l++ {
		oldH := eff(old, oldKept, l)
		newH := db.retentionHorizon(s, l)
		claim := newH
		switch {
		case newH >= oldH:
		case newH >= db.retentionHorizon(old, l):
			claim = oldH // the retention did not change: keep the claim
		case l == model.LevelRaw:
			claim = oldH
		default:
			src := int64(math.MaxInt64)
			for f := model.LevelRaw; f < l; f++ {
				src = min(src, eff(s, kept, f))
			}
			claim = max(newH, min(oldH, ceilBucket(l, src)))
		}
		if claim > newH {
			kept[l] = claim
		} else {
			delete(kept, l)
		}
	}
	if len(kept) == 0 {
		return nil
	}
	return kept
}

// ceilBucket returns the start of the first bucket of level l at or
// after t.
func ceilBucket(l model.Level, t int64) int64 {
	if t == math.MinInt64 || t == math.MaxInt64 {
		return t
	}
	b := l.Floor(t)
	if b < t {
		return l.Next(b)
	}
	return b
}

// rawKept returns the oldest time a write to collection may have because
// of a kept raw horizon (math.MinInt64: none). The caller holds mu.
func (db *DB) rawKept(collection string) int64 {
	if st := db.rollState[collection]; st != nil {
		if t, ok := st.kept[model.LevelRaw]; ok {
			return t
		}
	}
	return math.MinInt64
}

// resumeRollupSettings finishes, at start-up after the WAL replay, what a
// crash may have cut short in SetSettings: it marks every bucket of the
// collections whose rollups are not built yet dirty, and removes the
// rollup files left behind by collections whose rollups are off (turned on
// again later, they would count as clean). The caller has the DB to
// itself.
func (db *DB) resumeRollupSettings() {
	// A group's raw data is complete from its oldest file or point in
	// memory on, or the horizon if that is earlier (retention drops files
	// in time order; nothing is dropped while raw data is kept forever).
	// Per group: an import may have brought one group's older files, and
	// the others' raw data there is gone.
	part := db.opts.PartitionDuration.Nanoseconds()
	for name, c := range db.colls {
		h := db.retentionHorizon(c.settings, model.LevelRaw)
		if h == math.MinInt64 {
			continue
		}
		oldest := make(map[int]int64)
		older := func(g int, t int64) {
			if o, ok := oldest[g]; !ok || t < o {
				oldest[g] = t
			}
		}
		for _, s := range c.series {
			for _, fs := range s.files {
				older(s.group, fs.f.meta.MinTime)
			}
			// The WAL's points were written inside the retention then.
			if s.mem != nil {
				for i := range s.mem.cols {
					for _, t := range s.mem.cols[i].column().Times {
						older(s.group, t)
					}
				}
			}
		}
		db.setRawDropped(name, h)
		for g, t := range oldest {
			if start, _ := timex.Floor(t, part, 0); start < h {
				db.groups[g].rawFrom[name] = start
			}
		}
	}
	for name, st := range db.rollState {
		if !st.pending {
			continue
		}
		st.gen = db.rollGen
		if c := db.colls[name]; c != nil {
			db.markAll(c)
		}
	}
	var left []*rollFile
	for _, c := range db.colls {
		if !c.settings.NoRollups {
			continue
		}
		for _, g := range db.collRollups(c) {
			for l := range g.files {
				left = append(left, g.files[l]...)
			}
		}
		db.forgetRollups(c)
	}
	if err := db.removeRollFiles(left, false); err != nil {
		db.log.Error("cannot remove the rollup files of a collection with rollups off", "err", err)
	}
}

// needsRebuild reports whether changing a collection's settings from old
// to s leaves buckets that no rollup file holds yet: rollups turned on, or
// a level kept longer than before (its files for the longer stretch were
// dropped).
func needsRebuild(old, s CollectionSettings) bool {
	if s.NoRollups {
		return false
	}
	if old.NoRollups {
		return true
	}
	for l := model.Level1h; l < model.Level1y; l++ {
		o, n := old.Retention[l], s.Retention[l]
		if o != 0 && (n == 0 || n > o) {
			return true
		}
	}
	return false
}

// clearPendingRollups records that the rollups of every collection marked
// at generation cutoff or earlier are built. The caller holds flushMu and
// has just finished a rollup pass up to cutoff.
func (db *DB) clearPendingRollups(cutoff uint64) error {
	db.mu.RLock()
	states := db.cloneRollStates()
	settings := db.settings
	db.mu.RUnlock()
	var done []string
	for name, st := range states {
		if st.pending && st.gen <= cutoff {
			st.pending = false
			done = append(done, name)
		}
	}
	if len(done) == 0 {
		return nil
	}
	if err := db.saveSettings(settings, states); err != nil {
		return err
	}
	db.mu.Lock()
	for _, name := range done {
		if st := db.rollState[name]; st != nil && st.gen <= cutoff {
			st.pending = false
			if st.empty() {
				delete(db.rollState, name)
			}
		}
	}
	db.mu.Unlock()
	return nil
}

// setRawDropped records that retention dropped the raw files of a
// collection before h. The caller holds mu or has the DB to itself.
func (db *DB) setRawDropped(name string, h int64) {
	if db.rawDropped == nil {
		db.rawDropped = make(map[string]int64)
	}
	if old, ok := db.rawDropped[name]; !ok || h > old {
		db.rawDropped[name] = h
	}
	// Every group's raw data before h is gone too.
	for _, g := range db.groups {
		if f, ok := g.rawFrom[name]; ok {
			if f = max(f, h); f == db.rawDropped[name] {
				delete(g.rawFrom, name)
			} else {
				g.rawFrom[name] = f
			}
		}
	}
}

// rawCompleteIn is rawComplete for the raw data of group g, which an
// import or files older than the horizon can make differ from the
// collection's (group.rawFrom). The caller holds mu.
func (db *DB) rawCompleteIn(c *collection, g int) int64 {
	f, ok := db.groups[g].rawFrom[c.name]
	if !ok {
		return db.rawComplete(c)
	}
	if st := db.rollState[c.name]; st != nil {
		if k, ok := st.kept[model.LevelRaw]; ok {
			f = max(f, k)
		}
	}
	return f
}

// rawComplete returns the start of the raw data of c that retention has
// not dropped any of (math.MinInt64: all of it), and that a longer raw
// retention does not claim without data (kept). It can be before the
// horizon: the clock has moved on, but the files are still there. Rollup
// buckets from there on are rebuilt from raw data, so that writes the
// horizon overtook before their flush are rolled up. The caller holds mu.
func (db *DB) rawComplete(c *collection) int64 {
	h := int64(math.MinInt64)
	if d, ok := db.rawDropped[c.name]; ok {
		h = d
	}
	if st := db.rollState[c.name]; st != nil {
		if k, ok := st.kept[model.LevelRaw]; ok {
			h = max(h, k)
		}
	}
	return h
}

// rollUpBeforeExpiry flushes, so that the rollup pass sees the raw data
// first, when retention is about to drop raw data under buckets still
// marked dirty in a collection with rollups on (writes not rolled up yet,
// deletes not applied yet). The caller holds flushMu.
func (db *DB) rollUpBeforeExpiry(ctx context.Context) error {
	db.mu.RLock()
	pending := false
	for _, c := range db.colls {
		if c.settings.NoRollups {
			continue
		}
		h := db.horizon(c, model.LevelRaw)
		if h == math.MinInt64 {
			continue
		}
		for gi, g := range db.collRollups(c) {
			if h <= db.rawCompleteIn(c, gi) {
				continue
			}
			if d := &g.dirty[model.Level1h]; len(d.keys) > 0 && d.keys[0] < h {
				pending = true
			}
			for _, sp := range g.spans {
				pending = pending || sp.lo < h
			}
		}
	}
	db.mu.RUnlock()
	if !pending {
		return nil
	}
	return db.flushLocked(ctx)
}

// restoreElided stores again the 1M and 1y rows that elision left out
// (rollupWork.elides) in the named collections, before a change stops
// their 1d level keeping every day (a retention set on it, or an
// import's claim): once it does, retention may drop the 1d rows those
// buckets are answered from. It marks the 1M and 1y buckets of every 1d
// file dirty and runs a flush whose rollup pass elides nothing in them.
// The caller holds flushMu.
func (db *DB) restoreElided(ctx context.Context, names []string) error {
	db.mu.Lock()
	var marked []string
	for _, name := range names {
		c := db.colls[name]
		if c == nil || c.settings.NoRollups || db.horizon(c, model.Level1d) != math.MinInt64 {
			continue // no row was elided
		}
		for _, g := range db.collRollups(c) {
			for _, f := range g.files[model.Level1d] {
				g.dirty[model.Level1M].mark(f.part, db.rollGen)
				g.dirty[model.Level1y].mark(model.Level1y.Floor(f.part), db.rollGen)
				if db.dirtySince == 0 {
					db.dirtySince = time.Now().UnixNano()
				}
				if !slices.Contains(marked, name) {
					marked = append(marked, name)
				}
			}
		}
	}
	if len(marked) == 0 {
		db.mu.Unlock()
		return nil
	}
	if db.noElide == nil {
		db.noElide = make(map[string]bool)
	}
	for _, name := range marked {
		db.noElide[name] = true
	}
	db.mu.Unlock()
	err := db.flushLocked(ctx)
	db.mu.Lock()
	for _, name := range marked {
		delete(db.noElide, name)
	}
	db.mu.Unlock()
	if err != nil {
		return fmt.Errorf("store elided rollup rows: %w", err)
	}
	return nil
}
