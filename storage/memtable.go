package storage

import (
	"sort"

	"github.com/soltixdb/soltix/model"
)

// memColumn holds the values of one field of one series in memory, in the
// order they arrived, with the sequence number of the batch that wrote each.
// Appends never modify existing elements, so a reader may keep a copy of the
// slice headers taken under the DB's read lock and use them after unlocking.
type memColumn struct {
	col  model.Column
	seqs []uint64
	// ordered is true while every append had a time above the previous
	// one, so col is already sorted and free of repeats.
	ordered bool
}

func newMemColumn(name string, kind model.Kind) *memColumn {
	return &memColumn{col: model.Column{Name: name, Kind: kind}, ordered: true}
}

func (m *memColumn) append(t int64, v model.Value, seq uint64) {
	if n := len(m.col.Times); n > 0 && t <= m.col.Times[n-1] {
		m.ordered = false
	}
	m.col.Append(t, v)
	m.seqs = append(m.seqs, seq)
}

// snapshot returns a copy of the column's headers that stays valid while
// later appends happen.
func (m *memColumn) snapshot() memColumn {
	return memColumn{col: m.col, seqs: m.seqs[:len(m.seqs):len(m.seqs)], ordered: m.ordered}
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
	sort.SliceStable(idx, func(a, b int) bool {
		ia, ib := idx[a], idx[b]
		if m.col.Times[ia] != m.col.Times[ib] {
			return m.col.Times[ia] < m.col.Times[ib]
		}
		return m.seqs[ia] < m.seqs[ib]
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
// where a later column in srcs wins a tie on time.
func mergeColumns(name string, kind model.Kind, srcs []model.Column) model.Column {
	var nonEmpty []model.Column
	total := 0
	for _, s := range srcs {
		if s.Len() > 0 {
			nonEmpty = append(nonEmpty, s)
			total += s.Len()
		}
	}
	switch len(nonEmpty) {
	case 0:
		return model.Column{Name: name, Kind: kind}
	case 1:
		c := nonEmpty[0]
		c.Name = name
		return c
	}
	out := model.Column{Name: name, Kind: kind, Times: make([]int64, 0, total)}
	pos := make([]int, len(nonEmpty))
	for {
		// Find the smallest time among the heads; the latest source
		// holding it wins and every source holding it advances.
		best := -1
		var bt int64
		for i, s := range nonEmpty {
			if pos[i] < s.Len() {
				// Sources are scanned in order, so on a tie the later wins.
				if t := s.Times[pos[i]]; best < 0 || t <= bt {
					best, bt = i, t
				}
			}
		}
		if best < 0 {
			return out
		}
		out.Append(bt, nonEmpty[best].Value(pos[best]))
		for i, s := range nonEmpty {
			if pos[i] < s.Len() && s.Times[pos[i]] == bt {
				pos[i]++
			}
		}
	}
}
