package remote

// Reducing parts to one summary per bucket on the node.
//
// For the fields a query lists in planner.ReadSet.Reduce, a node merges
// what storage's ReadParts gives inside one bucket of the query (the whole
// predicate) — runs of values and colstore block statistics — into one
// Summary (model.Part.Reduced, with the points and blocks it stands for)
// before sending it, when the planner's exactness rules
// (planner.Reduce.Exact) hold for the merged summary and for every block
// summary in it. The router's planner computes from it, bit for bit, what
// it would have computed from the parts, and counts the same points and
// blocks. Rollup rows, block statistics that are not exact, values outside
// the query's buckets and anything not worth merging travel as before.

import (
	"sort"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/planner"
)

// minReduceRun is the fewest values merged into a summary when no block
// statistics are: a summary takes about as many bytes on the wire as a
// few values.
const minReduceRun = 8

// redPiece is a block summary, or a run of the values of a part inside
// one bucket.
type redPiece struct {
	part   *model.Part // a block summary, or the values part the run is of
	lo, hi int         // the run: part.Values[lo:hi], for values
	tlo    int64       // the first time
	thi    int64       // the last time
}

func (p *redPiece) values() bool { return p.part.Summary == nil }

// reducer merges pieces of one bucket.
type reducer struct {
	whole   func(lo, hi int64) bool
	r       planner.Reduce
	out     []model.Part
	pending []redPiece
	// lastOf and lastHi: the last part of out holds values of lastOf
	// ending at index lastHi (lastOf nil: it does not).
	lastOf *model.Part
	lastHi int
}

// reduceParts returns parts with what lies inside one bucket merged into
// summaries where r allows it. The parts stay in time order and do not
// overlap.
func reduceParts(parts []model.Part, whole func(lo, hi int64) bool, r planner.Reduce) []model.Part {
	rd := reducer{whole: whole, r: r, out: make([]model.Part, 0, len(parts))}
	for i := range parts {
		p := &parts[i]
		if s := p.Summary; s != nil {
			if !p.Reduced && p.Level == model.LevelRaw && s.Count > 0 && r.Exact(s) && whole(s.MinTime, s.MaxTime) {
				rd.add(redPiece{part: p, tlo: s.MinTime, thi: s.MaxTime})
			} else {
				rd.flush()
				rd.out = append(rd.out, *p)
				rd.lastOf = nil
			}
			continue
		}
		if !p.Values.Kind.Numeric() {
			rd.flush()
			rd.out = append(rd.out, *p)
			rd.lastOf = nil
			continue
		}
		times := p.Values.Times
		n := len(times)
		for k := 0; k < n; {
			if !whole(times[k], times[k]) {
				rd.flush()
				rd.emitValues(p, k, k+1)
				k++
				continue
			}
			// The run from k: the longest one inside one bucket.
			j := k + 1 + sort.Search(n-k-1, func(x int) bool { return !whole(times[k], times[k+1+x]) })
			rd.add(redPiece{part: p, lo: k, hi: j, tlo: times[k], thi: times[j-1]})
			k = j
		}
	}
	rd.flush()
	return rd.out
}

// add appends a piece to the pending bucket, or starts a new one.
func (rd *reducer) add(pc redPiece) {
	if len(rd.pending) > 0 && !rd.whole(rd.pending[0].tlo, pc.thi) {
		rd.flush()
	}
	rd.pending = append(rd.pending, pc)
}

// flush sends the pending pieces as one summary, when that is exact and
// worth it, or else as they came.
func (rd *reducer) flush() {
	pend := rd.pending
	rd.pending = rd.pending[:0]
	if len(pend) == 0 {
		return
	}
	points, blocks := 0, 0
	for i := range pend {
		if pc := &pend[i]; pc.values() {
			points += pc.hi - pc.lo
		} else {
			blocks++
		}
	}
	if (blocks > 0 && len(pend) > 1) || points >= minReduceRun {
		var s model.Summary
		for i := range pend {
			pc := &pend[i]
			if pc.values() {
				run := pc.part.Values.Slice(pc.lo, pc.hi)
				ps := model.Summarize(&run)
				s.Merge(&ps)
			} else {
				s.Merge(pc.part.Summary)
			}
		}
		if rd.r.Exact(&s) {
			rd.out = append(rd.out, model.Part{Summary: &s, Reduced: true, Points: points, Blocks: blocks})
			rd.lastOf = nil
			return
		}
	}
	for i := range pend {
		pc := &pend[i]
		if pc.values() {
			rd.emitValues(pc.part, pc.lo, pc.hi)
		} else {
			rd.out = append(rd.out, *pc.part)
			rd.lastOf = nil
		}
	}
}

// emitValues sends p.Values[lo:hi], joined to the values sent last when
// they continue them.
func (rd *reducer) emitValues(p *model.Part, lo, hi int) {
	if n := len(rd.out); n > 0 && rd.lastOf == p && rd.lastHi == lo {
		last := &rd.out[n-1]
		last.Values = p.Values.Slice(lo-last.Values.Len(), hi)
	} else {
		rd.out = append(rd.out, model.Part{Values: p.Values.Slice(lo, hi)})
	}
	rd.lastOf, rd.lastHi = p, hi
}
