package storage

import (
	"sort"

	"github.com/soltixdb/soltix/model"
)

// memColumn holds the values of one field of one series in memory, in the
// order they arrived, with the sequence number of the batch that wrote each
// (kept as runs: a batch's values of a column arrive together).
// Appends never modify existing elements, so a reader may keep a copy of the
// slice headers taken under the DB's read lock and use them after unlocking.
type memColumn struct {
	col  model.Column
	runs []seqRun // by first index; a run lasts until the next one
	// ordered is true while every append had a time above the previous
	// one, so col is already sorted and free of repeats.
	ordered bool
}

func newMemColumn(name string, kind model.Kind) *memColumn {
	return &memColumn{col: model.Column{Name: name, Kind: kind}, ordered: true}
}

// seqRun says that the values from index at on were written by batch seq.
type seqRun struct {
	at  int
	seq uint64
}

func (m *memColumn) append(t int64, v model.Value, seq uint64) {
	n := len(m.col.Times)
	if n > 0 && t <= m.col.Times[n-1] {
		m.ordered = false
	}
	m.col.Append(t, v)
	if len(m.runs) == 0 || m.runs[len(m.runs)-1].seq != seq {
		m.runs = append(m.runs, seqRun{at: n, seq: seq})
	}
}

// seqs returns every value's sequence number.
func (m *memColumn) seqs() []uint64 {
	out := make([]uint64, m.col.Len())
	for k, r := range m.runs {
		end := len(out)
		if k+1 < len(m.runs) {
			end = m.runs[k+1].at
		}
		for i := r.at; i < end; i++ {
			out[i] = r.seq
		}
	}
	return out
}

// snapshot returns a copy of the column's headers that stays valid while
// later appends happen.
func (m *memColumn) snapshot() memColumn {
	return memColumn{col: m.col, runs: m.runs[:len(m.runs):len(m.runs)], ordered: m.ordered}
}

// sorted returns the column sorted by time with one value per time: the one
// with the highest sequence number, and among equal sequence numbers the
// one appended last. The result shares memory with m when m is ordered.
func (m *memColumn) sorted() model.Column {
	if m.ordered {
		return m.col
	}
	n := len(m.col.Times)
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	seqs := m.seqs()
	sort.SliceStable(idx, func(a, b int) bool {
		ia, ib := idx[a], idx[b]
		if m.col.Times[ia] != m.col.Times[ib] {
			return m.col.Times[ia] < m.col.Times[ib]
		}
		return seqs[ia] < seqs[ib]
	})
	out := model.Column{Name: m.col.Name, Kind: m.col.Kind}
	for k, i := range idx {
		if k+1 < n && m.col.Times[idx[k+1]] == m.col.Times[i] {
			continue // a later write of the same time follows
		}
		out.Append(m.col.Times[i], m.col.Value(i))
	}
	return out
}

// memSeries is one generation of a series' in-memory data.
type memSeries struct {
	cols   map[string]*memColumn
	points int
}

func newMemSeries() *memSeries { return &memSeries{cols: make(map[string]*memColumn)} }

// mergeColumns merges sorted, repeat-free columns of one field into one,
// where a later column in srcs wins a tie on time. Sources whose time
// ranges do not overlap (the usual case: files of different partitions)
// are concatenated; overlapping ones are merged through a heap, so the cost
// is O(n log k) for n values in k sources.
func mergeColumns(name string, kind model.Kind, srcs []model.Column) model.Column {
	type src struct {
		col model.Column
		pri int // position in srcs: higher wins a tie
	}
	var live []src
	total := 0
	for i, s := range srcs {
		if s.Len() > 0 {
			live = append(live, src{s, i})
			total += s.Len()
		}
	}
	switch len(live) {
	case 0:
		return model.Column{Name: name, Kind: kind}
	case 1:
		c := live[0].col
		c.Name = name
		return c
	}
	sort.SliceStable(live, func(i, j int) bool { return live[i].col.Times[0] < live[j].col.Times[0] })
	disjoint := true
	for i := 1; i < len(live) && disjoint; i++ {
		prev := live[i-1].col
		disjoint = prev.Times[prev.Len()-1] < live[i].col.Times[0]
	}
	out := model.Column{Name: name, Kind: kind, Times: make([]int64, 0, total)}
	if disjoint {
		for _, s := range live {
			appendColumn(&out, s.col, 0, s.col.Len())
		}
		return out
	}
	// Heap of source indexes ordered by (head time, priority descending).
	pos := make([]int, len(live))
	h := make([]int, len(live))
	for i := range h {
		h[i] = i
	}
	less := func(a, b int) bool {
		ta, tb := live[a].col.Times[pos[a]], live[b].col.Times[pos[b]]
		if ta != tb {
			return ta < tb
		}
		return live[a].pri > live[b].pri
	}
	down := func(i int) {
		for {
			l := 2*i + 1
			if l >= len(h) {
				return
			}
			m := l
			if r := l + 1; r < len(h) && less(h[r], h[l]) {
				m = r
			}
			if !less(h[m], h[i]) {
				return
			}
			h[i], h[m] = h[m], h[i]
			i = m
		}
	}
	for i := len(h)/2 - 1; i >= 0; i-- {
		down(i)
	}
	for len(h) > 0 {
		top := h[0]
		t := live[top].col.Times[pos[top]]
		// The top holds the earliest time and, among sources at that time,
		// the highest priority: its value wins.
		appendColumn(&out, live[top].col, pos[top], pos[top]+1)
		// Advance every source whose head is at t.
		for len(h) > 0 && live[h[0]].col.Times[pos[h[0]]] == t {
			s := h[0]
			pos[s]++
			if pos[s] == live[s].col.Len() {
				h[0] = h[len(h)-1]
				h = h[:len(h)-1]
			}
			down(0)
		}
	}
	return out
}

// appendColumn appends values [lo, hi) of src to dst (same kind).
func appendColumn(dst *model.Column, src model.Column, lo, hi int) {
	dst.Times = append(dst.Times, src.Times[lo:hi]...)
	switch src.Kind {
	case model.KindFloat:
		dst.Floats = append(dst.Floats, src.Floats[lo:hi]...)
	case model.KindInt:
		dst.Ints = append(dst.Ints, src.Ints[lo:hi]...)
	case model.KindUint:
		dst.Uints = append(dst.Uints, src.Uints[lo:hi]...)
	case model.KindBool:
		dst.Bools = append(dst.Bools, src.Bools[lo:hi]...)
	case model.KindString:
		dst.Strings = append(dst.Strings, src.Strings[lo:hi]...)
	}
}
