// Day sketches owed by the days still being written.

package storage

import (
	"math"
	"slices"
	"time"

	"github.com/soltixdb/soltix/internal/timex"
	"github.com/soltixdb/soltix/model"
)

// A 1d row carries the quantile sketch of its day's raw values, which a
// rollup pass computes by reading the whole day while it builds the day's
// 1h rows (rollRaw). For a day being written in real time that was a read
// of the day so far, of every series of the group, at every flush: with
// 100,000 series written every 10 s, 8.6 billion values by the evening,
// read again every 40 s, so the pass could not keep up within hours.
//
// So while a day is open (dayOpen: it ended less than openDayGrace ago,
// or has yet to end and begins less than openDayAhead from now), a pass
// reads only the hours marked dirty and writes the day's 1d row without a
// sketch; reads answer quantiles over that day from the raw data, as for
// any row without one (exact, slower). The pass records the day as owed a
// sketch (rollupState.owed, by group, saved in collections.json before the
// WAL that marked the day goes), and the first pass after the day closes
// reads it whole, once, and writes its 1d row with the sketch, and so the
// 1M and 1y rows above it. A flush that has nothing else to do runs for it
// (rollupsPending). Data loaded for days long past is sketched at every
// pass, as before.
const (
	openDayGrace = 30 * time.Minute
	openDayAhead = 48 * time.Hour
)

// dayOpen reports whether the UTC day starting at day is still being
// written at now, so that its 1d sketch waits (above).
func dayOpen(day int64, now time.Time) bool {
	n, _ := timex.FromTime(now)
	end := model.Level1d.End(day)
	closes := int64(math.MaxInt64)
	if end <= math.MaxInt64-int64(openDayGrace) {
		closes = end + int64(openDayGrace)
	}
	return n < closes && day-n < int64(openDayAhead)
}

// owedClosed returns the days collection c's group gi owes a sketch that
// are closed at now. The caller holds mu.
func (db *DB) owedClosed(c *collection, gi int, now time.Time) []int64 {
	st := db.rollState[c.name]
	if st == nil {
		return nil
	}
	var out []int64
	for _, d := range st.owed[gi] {
		if !dayOpen(d, now) {
			out = append(out, d)
		}
	}
	return out
}

// owedDue reports whether a group of a collection with rollups owes the
// sketch of a day that has closed, so that the flusher runs a pass for
// it. The caller holds mu.
func (db *DB) owedDue() bool {
	now := db.now()
	for name, st := range db.rollState {
		c := db.colls[name]
		if c == nil || c.settings.NoRollups || len(st.owed) == 0 {
			continue
		}
		for gi := range db.collRollups(c) {
			if len(db.owedClosed(c, gi, now)) > 0 {
				return true
			}
		}
	}
	return false
}

// settleOwed records what the rollup pass of works left owed: the open
// days each group's pass wrote without a sketch are added, the closed ones
// it read whole are removed, as are the days of groups the collection no
// longer has; then saves collections.json when that changed. It runs
// before the pass's WAL segments may go. The caller holds flushMu.
func (db *DB) settleOwed(works []*rollupWork) error {
	changed := false
	db.mu.Lock()
	for _, w := range works {
		if len(w.open) == 0 && len(w.settled) == 0 {
			continue
		}
		st := db.rollState[w.coll]
		var old []int64
		if st != nil {
			old = st.owed[w.group]
		}
		next := slices.DeleteFunc(slices.Clone(old), func(d int64) bool { return slices.Contains(w.settled, d) })
		next = append(next, w.open...)
		slices.Sort(next)
		next = slices.Compact(next)
		if slices.Equal(next, old) {
			continue
		}
		if st == nil {
			st = &rollupState{}
			db.rollState[w.coll] = st
		}
		st.setOwed(w.group, next)
		changed = true
	}
	for name, st := range db.rollState {
		c := db.colls[name]
		for gi := range st.owed {
			has := false
			if c != nil && !c.settings.NoRollups {
				for g := range db.collRollups(c) {
					has = has || g == gi
				}
			}
			if !has {
				st.setOwed(gi, nil)
				changed = true
			}
		}
		if st.empty() {
			delete(db.rollState, name)
		}
	}
	if !changed {
		db.mu.Unlock()
		return nil
	}
	states := db.cloneRollStates()
	settings := db.settings
	db.mu.Unlock()
	return db.saveSettings(settings, states)
}

// setOwed makes days the days group gi owes a sketch (none when empty).
func (st *rollupState) setOwed(gi int, days []int64) {
	if len(days) == 0 {
		delete(st.owed, gi)
		if len(st.owed) == 0 {
			st.owed = nil
		}
		return
	}
	if st.owed == nil {
		st.owed = make(map[int][]int64)
	}
	st.owed[gi] = days
}
