package storage

import (
	"math"
	"slices"
	"sort"
	"sync/atomic"
	"unsafe"

	"github.com/soltixdb/soltix/model"
)

// memColumn holds the values of one field of one series in memory, in the
// order they arrived, with the sequence number of the batch that wrote each
// (kept as runs: a batch's values of a column arrive together).
//
// Values live in chunks allocated at their full capacity, so an append
// never copies what is already there. (A single growing slice per column
// made every column of a fleet, which all grow in step, copy itself during
// the same batch: a write that took 20 ms instead of 0.3.) Each new chunk
// holds as many values as the column already has, at least minChunk and
// at most chunkValues, so a column wastes no more than a slice would (or
// minChunk values); the first chunk's
// capacity (1 to 16) differs between columns, so their chunk boundaries,
// and the allocations there, are spread over batches too. Appends never
// modify existing elements, so a reader may use a snapshot taken under the
// DB's read lock after unlocking.
type memColumn struct {
	chunks []model.Column
	n      int
	// runs say which batch wrote each value, by first index: a run lasts
	// until the next one. Their sequence numbers are relative to base;
	// once one does not fit, wide holds them all instead (addRun).
	runs []seqRun
	base uint64
	wide []wideRun
	// ordered is true while every append had a time above the previous
	// one, so the values are already sorted and free of repeats.
	ordered bool
	last    int64 // the last time appended
	// bytes estimates the heap the column holds (memBytes).
	bytes int
}

const chunkValues = 512

// minChunk is the least room of a chunk after the first. Each chunk costs
// a header (a model.Column, 144 bytes) and its slices' allocations, so a
// column of a few dozen values in chunks of 1, 2, 4, 8... spent more on
// them than on its values; with a million series most columns are that
// small (docs/benchmarks-million.md, "A million series").
const minChunk = 16

// firstChunks spreads the capacity of columns' first chunks over [1, 16].
var firstChunks atomic.Uint64

func newMemColumn(name string, kind model.Kind) *memColumn {
	first := 1 + int(firstChunks.Add(0x9e3779b97f4a7c15)>>32%16)
	m := &memColumn{chunks: []model.Column{newChunk(name, kind, first)}, ordered: true}
	m.bytes = memColumnBytes + columnHeaderBytes + chunkBytes(kind, first)
	return m
}

// The bytes the memory accounting counts for a column (memColumn.bytes,
// docs/configuration.md "storage.max_memory_bytes"): the memColumn and
// its entry in the series' map, each chunk's header and its slices at
// their capacity (string values' bytes too), and the runs' slices at
// theirs. Go's allocator rounds allocations up to its size classes; the
// estimate does not, so it stays under the heap it stands for by a few
// percent (storage/BenchmarkSeriesMemory reports both).
const (
	memColumnBytes    = int(unsafe.Sizeof(memColumn{})) + 48 // + map entry (key, value, control byte; load factor)
	columnHeaderBytes = int(unsafe.Sizeof(model.Column{}))
	memSeriesBytes    = int(unsafe.Sizeof(memSeries{})) + 48 // + its map's header and first group
)

// chunkBytes returns the bytes of a chunk's slices holding n values.
func chunkBytes(kind model.Kind, n int) int {
	per := 8 // times
	switch kind {
	case model.KindFloat, model.KindInt, model.KindUint:
		per += 8
	case model.KindBool:
		per++
	case model.KindString:
		per += int(unsafe.Sizeof(""))
	}
	return n * per
}

// newChunk returns an empty column with room for n values.
func newChunk(name string, kind model.Kind, n int) model.Column {
	return model.NewColumn(name, kind, n)
}

// seqRun says that the values from index at on were written by batch
// base+seq. Half the size of a wideRun: with many series most columns hold
// a value or two per batch, so a run per value or two.
type seqRun struct {
	at, seq uint32
}

// wideRun says that the values from index at on were written by batch seq.
type wideRun struct {
	at  int
	seq uint64
}

// seqSlack is how far below the first sequence number of a column base
// lies: concurrent batches may reach memory out of order.
const seqSlack = 1 << 20

// addRun records that the values from index at on were written by batch
// seq.
func (m *memColumn) addRun(at int, seq uint64) {
	if m.wide == nil {
		if len(m.runs) == 0 {
			m.base = seq - min(seq, seqSlack)
		}
		if seq >= m.base && seq-m.base <= math.MaxUint32 && at <= math.MaxUint32 {
			c := cap(m.runs)
			m.runs = append(m.runs, seqRun{at: uint32(at), seq: uint32(seq - m.base)})
			m.bytes += (cap(m.runs) - c) * int(unsafe.Sizeof(seqRun{}))
			return
		}
		wide := make([]wideRun, len(m.runs), len(m.runs)+1)
		for k, r := range m.runs {
			wide[k] = wideRun{at: int(r.at), seq: m.base + uint64(r.seq)}
		}
		m.bytes -= cap(m.runs) * int(unsafe.Sizeof(seqRun{}))
		m.bytes += cap(wide) * int(unsafe.Sizeof(wideRun{}))
		m.wide, m.runs = wide, nil
	}
	c := cap(m.wide)
	m.wide = append(m.wide, wideRun{at: at, seq: seq})
	m.bytes += (cap(m.wide) - c) * int(unsafe.Sizeof(wideRun{}))
}

// numRuns returns the number of runs.
func (m *memColumn) numRuns() int {
	if m.wide != nil {
		return len(m.wide)
	}
	return len(m.runs)
}

// run returns the first index and the sequence number of run k.
func (m *memColumn) run(k int) (int, uint64) {
	if m.wide != nil {
		return m.wide[k].at, m.wide[k].seq
	}
	return int(m.runs[k].at), m.base + uint64(m.runs[k].seq)
}

func (m *memColumn) name() string     { return m.chunks[0].Name }
func (m *memColumn) kind() model.Kind { return m.chunks[0].Kind }

func (m *memColumn) append(t int64, v model.Value, seq uint64) {
	if m.n > 0 && t <= m.last {
		m.ordered = false
	}
	c := &m.chunks[len(m.chunks)-1]
	if c.Len() == cap(c.Times) {
		n, hc := min(max(m.n, minChunk), chunkValues), cap(m.chunks)
		m.chunks = append(m.chunks, newChunk(c.Name, c.Kind, n))
		m.bytes += (cap(m.chunks)-hc)*columnHeaderBytes + chunkBytes(c.Kind, n)
		c = &m.chunks[len(m.chunks)-1]
	}
	c.Append(t, v)
	if v.Kind == model.KindString {
		m.bytes += len(v.Str())
	}
	if k := m.numRuns(); k == 0 {
		m.addRun(m.n, seq)
	} else if _, last := m.run(k - 1); last != seq {
		m.addRun(m.n, seq)
	}
	m.n++
	m.last = t
}

// seqs returns every value's sequence number.
func (m *memColumn) seqs() []uint64 {
	out := make([]uint64, m.n)
	for k := range m.numRuns() {
		at, seq := m.run(k)
		end := len(out)
		if k+1 < m.numRuns() {
			end, _ = m.run(k + 1)
		}
		for i := at; i < end; i++ {
			out[i] = seq
		}
	}
	return out
}

// column returns the values in arrival order as one column, sharing
// memory with m when they fit in one chunk.
func (m *memColumn) column() model.Column {
	if len(m.chunks) == 1 {
		return m.chunks[0]
	}
	out := newChunk(m.name(), m.kind(), m.n)
	for _, c := range m.chunks {
		appendColumn(&out, c, 0, c.Len())
	}
	return out
}

// snapshot returns a copy of the column's headers that stays valid while
// later appends happen.
func (m *memColumn) snapshot() memColumn {
	return memColumn{chunks: slices.Clone(m.chunks), n: m.n, runs: m.runs[:len(m.runs):len(m.runs)], base: m.base,
		wide: m.wide[:len(m.wide):len(m.wide)], ordered: m.ordered, last: m.last}
}

// sorted returns the column sorted by time with one value per time: the one
// with the highest sequence number, and among equal sequence numbers the
// one appended last. The result shares memory with m when m is ordered and
// fits in one chunk.
func (m *memColumn) sorted() model.Column {
	col := m.column()
	if m.ordered {
		return col
	}
	n := col.Len()
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	seqs := m.seqs()
	sort.SliceStable(idx, func(a, b int) bool {
		ia, ib := idx[a], idx[b]
		if col.Times[ia] != col.Times[ib] {
			return col.Times[ia] < col.Times[ib]
		}
		return seqs[ia] < seqs[ib]
	})
	out := model.Column{Name: col.Name, Kind: col.Kind}
	for k, i := range idx {
		if k+1 < n && col.Times[idx[k+1]] == col.Times[i] {
			continue // a later write of the same time follows
		}
		out.Append(col.Times[i], col.Value(i))
	}
	return out
}

// memSeries is one generation of a series' in-memory data.
type memSeries struct {
	cols   map[string]*memColumn
	points int
	bytes  int // estimated: memSeriesBytes and its columns' bytes
}

func newMemSeries() *memSeries {
	return &memSeries{cols: make(map[string]*memColumn), bytes: memSeriesBytes}
}

// recount sets ms.bytes from its columns' and returns it.
func (ms *memSeries) recount() int {
	ms.bytes = memSeriesBytes
	for _, mc := range ms.cols {
		ms.bytes += mc.bytes
	}
	return ms.bytes
}

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
