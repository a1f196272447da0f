package storage

import (
	"cmp"
	"math"
	"slices"
	"unsafe"

	"github.com/soltixdb/soltix/model"
)

// memColumn holds the values of one field of one series in memory, in the
// order they arrived, with the sequence number of the batch that wrote
// each (in 16 bits relative to its chunk's base, until one does not fit:
// x.wide then holds them all as runs instead, toWide).
//
// Values live in chunks taken from pointer-free slabs (memslab.go), each
// allocated at its full size, so an append never copies what is already
// there: a single growing slice per column made every column of a fleet,
// which all grow in step, copy itself during the same batch (a write that
// took 20 ms instead of 0.3). Appends never modify existing elements, so a
// reader may use a snapshot taken under the DB's read lock after
// unlocking. A column is one pointer-holding object of 72 bytes in its
// series' slice (memSeries.cols); what else it needs, from the third chunk
// on, string values and wide runs, hangs off x.
type memColumn struct {
	name   string
	c0, c1 unsafe.Pointer // the first two chunks, nil until needed
	x      *memMore
	n      int
	last   int64 // the last time appended
	// bytes estimates the heap the column holds beyond the memColumn
	// itself (memBytes).
	bytes int
	kind  model.Kind
	// ordered is true while every append had a time above the previous
	// one, so the values are already sorted and free of repeats.
	ordered bool
	phase   uint8 // of its chunk geometry (chunkStarts)
}

// memMore is what only some columns need.
type memMore struct {
	chunks []unsafe.Pointer // chunks from the third on
	strs   [][]string       // a string column's values, per chunk
	wide   []wideRun        // the sequence numbers once one does not fit its chunk
}

// wideRun says that the values from index at on were written by batch seq.
type wideRun struct {
	at  int
	seq uint64
}

// seqSlack is how far below the sequence number of its first value a
// chunk's base lies: concurrent batches may reach memory out of order.
// What is left of 16 bits above it (64,511 batches) is the most a chunk's
// values may span; columns that outlive that switch to wide runs, which
// for a column taking several values per batch are as small.
const seqSlack = 1 << 10

// The bytes the memory accounting counts (memColumn.bytes, memSeries.bytes,
// docs/configuration.md "storage.max_memory_bytes"): per series the
// memSeries and its slice of memColumns at its capacity; per column its
// chunks' words (memslab.go) and string slices, its strings' bytes and
// what hangs off x. Go's allocator rounds the small allocations up to its
// size classes and a slab's end may stay unused; the estimate does not
// count that, so it stays under the heap it stands for by a few percent
// (storage/BenchmarkSeriesMemory reports both).
const (
	memColumnBytes = int(unsafe.Sizeof(memColumn{}))
	memMoreBytes   = int(unsafe.Sizeof(memMore{}))
	memSeriesBytes = int(unsafe.Sizeof(memSeries{}))
	wideRunBytes   = int(unsafe.Sizeof(wideRun{}))
	pointerBytes   = int(unsafe.Sizeof(unsafe.Pointer(nil)))
	stringsBytes   = int(unsafe.Sizeof([]string(nil)))
)

func newMemColumn(name string, kind model.Kind) memColumn {
	return memColumn{name: name, kind: kind, ordered: true, phase: newPhase()}
}

// more returns m.x, allocating it first.
func (m *memColumn) more() *memMore {
	if m.x == nil {
		m.x = new(memMore)
		m.bytes += memMoreBytes
	}
	return m.x
}

// chunkPtr returns chunk k's words.
func (m *memColumn) chunkPtr(k int) unsafe.Pointer {
	switch k {
	case 0:
		return m.c0
	case 1:
		return m.c1
	}
	return m.x.chunks[k-2]
}

// grow adds chunk k, which the next value starts, taken from a.
func (m *memColumn) grow(a *slabs, k int) {
	c := chunkCap(k, m.phase)
	p := a.alloc(chunkWords(m.kind, c))
	m.bytes += chunkBytes(m.kind, c)
	switch k {
	case 0:
		m.c0 = p
	case 1:
		m.c1 = p
	default:
		x := m.more()
		had := cap(x.chunks)
		x.chunks = append(x.chunks, p)
		m.bytes += (cap(x.chunks) - had) * pointerBytes
	}
	if m.kind == model.KindString {
		x := m.more()
		had := cap(x.strs)
		x.strs = append(x.strs, make([]string, c))
		m.bytes += (cap(x.strs) - had) * stringsBytes
	}
}

// numChunks returns the number of chunks holding values.
func (m *memColumn) numChunks() int {
	if m.n == 0 {
		return 0
	}
	k, _ := locate(m.n-1, m.phase)
	return k + 1
}

// append appends value v at time t written by batch seq, taking a new
// chunk from a (its group's slabs; nil: shared ones) when the last is
// full.
func (m *memColumn) append(a *slabs, t int64, v model.Value, seq uint64) {
	if v.Kind != m.kind {
		panic("storage: append " + v.Kind.String() + " value to " + m.kind.String() + " column " + m.name)
	}
	if m.n > 0 && t <= m.last {
		m.ordered = false
	}
	k, off := locate(m.n, m.phase)
	if off == 0 {
		m.grow(a, k)
		*seqBase(m.chunkPtr(k)) = seq - min(seq, seqSlack)
	}
	p, c := m.chunkPtr(k), chunkCap(k, m.phase)
	timesAt(p, c)[off] = t
	switch m.kind {
	case model.KindFloat:
		unsafe.Slice((*float64)(valueAt(p, c)), c)[off] = v.Float()
	case model.KindInt:
		unsafe.Slice((*int64)(valueAt(p, c)), c)[off] = v.Int()
	case model.KindUint:
		unsafe.Slice((*uint64)(valueAt(p, c)), c)[off] = v.Uint()
	case model.KindBool:
		unsafe.Slice((*bool)(valueAt(p, c)), c)[off] = v.Bool()
	case model.KindString:
		m.x.strs[k][off] = v.Str()
		m.bytes += len(v.Str())
	}
	if m.x == nil || m.x.wide == nil {
		if base := *seqBase(p); seq >= base && seq-base <= math.MaxUint16 {
			seqAt(p, c)[off] = uint16(seq - base)
		} else {
			m.toWide()
		}
	}
	if m.x != nil && m.x.wide != nil {
		if w := m.x.wide; len(w) == 0 || w[len(w)-1].seq != seq {
			had := cap(w)
			m.x.wide = append(w, wideRun{at: m.n, seq: seq})
			m.bytes += (cap(m.x.wide) - had) * wideRunBytes
		}
	}
	m.n++
	m.last = t
}

// toWide moves the sequence numbers of the values so far into wide runs,
// which hold any sequence number from now on.
func (m *memColumn) toWide() {
	var wide []wideRun
	for i, seq := range m.seqs() {
		if len(wide) == 0 || wide[len(wide)-1].seq != seq {
			wide = append(wide, wideRun{at: i, seq: seq})
		}
	}
	wide = slices.Grow(wide, 1)
	m.more().wide = wide
	m.bytes += cap(wide) * wideRunBytes
}

// seqs returns every value's sequence number.
func (m *memColumn) seqs() []uint64 {
	out := make([]uint64, m.n)
	if m.x != nil && m.x.wide != nil {
		w := m.x.wide
		for k, r := range w {
			end := len(out)
			if k+1 < len(w) {
				end = w[k+1].at
			}
			for i := r.at; i < end; i++ {
				out[i] = r.seq
			}
		}
		return out
	}
	for k := range m.numChunks() {
		start, c, p := chunkStart(k, m.phase), chunkCap(k, m.phase), m.chunkPtr(k)
		base := *seqBase(p)
		for off, s := range seqAt(p, c)[:min(c, m.n-start)] {
			out[start+off] = base + uint64(s)
		}
	}
	return out
}

// chunk returns the values of chunk k as a column sharing its memory,
// with no spare room to append to.
func (m *memColumn) chunk(k int) model.Column {
	start, c := chunkStart(k, m.phase), chunkCap(k, m.phase)
	l := min(c, m.n-start)
	p := m.chunkPtr(k)
	col := model.Column{Name: m.name, Kind: m.kind, Times: timesAt(p, l)}
	switch m.kind {
	case model.KindFloat:
		col.Floats = unsafe.Slice((*float64)(valueAt(p, c)), l)
	case model.KindInt:
		col.Ints = unsafe.Slice((*int64)(valueAt(p, c)), l)
	case model.KindUint:
		col.Uints = unsafe.Slice((*uint64)(valueAt(p, c)), l)
	case model.KindBool:
		col.Bools = unsafe.Slice((*bool)(valueAt(p, c)), l)
	case model.KindString:
		col.Strings = m.x.strs[k][:l:l]
	}
	return col
}

// column returns the values in arrival order as one column, sharing
// memory with m when they fit in one chunk.
func (m *memColumn) column() model.Column { return m.columnIn(nil) }

// columnIn is column with a copy's memory from a (nil: the heap).
func (m *memColumn) columnIn(a *colArena) model.Column {
	switch k := m.numChunks(); k {
	case 0:
		return model.Column{Name: m.name, Kind: m.kind}
	case 1:
		return m.chunk(0)
	default:
		out := a.column(m.name, m.kind, m.n)
		for i := range k {
			c := m.chunk(i)
			appendColumn(&out, c, 0, c.Len())
		}
		return out
	}
}

// snapshot returns a copy of the column that stays valid while later
// appends happen.
func (m *memColumn) snapshot() memColumn {
	s := *m
	if m.x != nil {
		s.x = &memMore{chunks: slices.Clip(m.x.chunks), strs: slices.Clip(m.x.strs), wide: slices.Clip(m.x.wide)}
	}
	return s
}

// sorted returns the column sorted by time with one value per time: the one
// with the highest sequence number, and among equal sequence numbers the
// one appended last. The result shares memory with m when m is ordered and
// fits in one chunk.
func (m *memColumn) sorted() model.Column { return m.sortedIn(nil) }

// sortedIn is sorted with the memory of what it copies from a (nil: the
// heap).
func (m *memColumn) sortedIn(a *colArena) model.Column {
	col := m.columnIn(a)
	if m.ordered {
		return col
	}
	return sortByTime(col, m.seqs, a)
}

// memSeries is one generation of a series' in-memory data. Its columns
// are mostly few (TSBS's cpu has ten), so a slice searched from where the
// field stood in the point (fields mostly arrive in the same order) costs
// less than a map, in time and in memory; a series of more than
// indexAfter fields gets a map too.
type memSeries struct {
	cols   []memColumn
	index  map[string]int32 // positions in cols by name, past indexAfter columns
	points int
	bytes  int // estimated: memSeriesBytes, cols' room and its columns' bytes
}

// indexAfter is how many columns a series searches without a map.
const indexAfter = 16

// newMemSeries returns an empty series generation with room for fields
// columns.
func newMemSeries(fields int) *memSeries {
	ms := &memSeries{cols: slices.Grow([]memColumn(nil), fields)}
	ms.bytes = memSeriesBytes + cap(ms.cols)*memColumnBytes
	return ms
}

// find returns the column of field name, nil if there is none. Field
// hint is tried first.
func (ms *memSeries) find(name string, hint int) *memColumn {
	if hint < len(ms.cols) && ms.cols[hint].name == name {
		return &ms.cols[hint]
	}
	if ms.index != nil {
		if i, ok := ms.index[name]; ok {
			return &ms.cols[i]
		}
		return nil
	}
	for i := range ms.cols {
		if ms.cols[i].name == name {
			return &ms.cols[i]
		}
	}
	return nil
}

// add adds column mc, whose name ms does not have yet, and returns it
// with the bytes ms grew by beyond the column's own. Pointers to ms's
// columns are not valid after it.
func (ms *memSeries) add(mc memColumn) (*memColumn, int) {
	had := cap(ms.cols)
	ms.cols = append(ms.cols, mc)
	grown := (cap(ms.cols) - had) * memColumnBytes
	switch {
	case ms.index != nil:
		ms.index[mc.name] = int32(len(ms.cols) - 1)
		grown += mapEntryBytes
	case len(ms.cols) > indexAfter:
		ms.index = make(map[string]int32, len(ms.cols))
		for i := range ms.cols {
			ms.index[ms.cols[i].name] = int32(i)
		}
		grown += len(ms.cols) * mapEntryBytes
	}
	return &ms.cols[len(ms.cols)-1], grown
}

// recount sets ms.bytes from its columns' and returns it.
func (ms *memSeries) recount() int {
	ms.bytes = memSeriesBytes + cap(ms.cols)*memColumnBytes + len(ms.index)*mapEntryBytes
	for i := range ms.cols {
		ms.bytes += ms.cols[i].bytes
	}
	return ms.bytes
}

// mergeColumns merges sorted, repeat-free columns of one field into one,
// where a later column in srcs wins a tie on time. Sources whose time
// ranges do not overlap (the usual case: files of different partitions)
// are concatenated; overlapping ones are merged through a heap, so the cost
// is O(n log k) for n values in k sources.
func mergeColumns(name string, kind model.Kind, srcs []model.Column) model.Column {
	if runs, ok := disjointRuns(name, srcs); ok {
		switch len(runs) {
		case 0:
			return model.Column{Name: name, Kind: kind}
		case 1:
			return runs[0]
		}
		total := 0
		for _, r := range runs {
			total += r.Len()
		}
		out := columnWithRoom(name, kind, total)
		for _, r := range runs {
			appendColumn(&out, r, 0, r.Len())
		}
		return out
	}
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
	out := columnWithRoom(name, kind, total)
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

// disjointRuns returns the non-empty columns of srcs in time order, named
// name, when no two of them share a time span (so that last-write-wins
// has nothing to decide and each may be read as it is); ok is false when
// two overlap.
func disjointRuns(name string, srcs []model.Column) (runs []model.Column, ok bool) {
	for _, c := range srcs {
		if c.Len() > 0 {
			c.Name = name
			runs = append(runs, c)
		}
	}
	slices.SortFunc(runs, func(a, b model.Column) int { return cmp.Compare(a.Times[0], b.Times[0]) })
	for i := 1; i < len(runs); i++ {
		if runs[i-1].Times[runs[i-1].Len()-1] >= runs[i].Times[0] {
			return nil, false
		}
	}
	return runs, true
}

// columnWithRoom returns an empty column of kind with room for n values,
// so that appending them allocates once.
func columnWithRoom(name string, kind model.Kind, n int) model.Column {
	c := model.Column{Name: name, Kind: kind, Times: make([]int64, 0, n)}
	switch kind {
	case model.KindFloat:
		c.Floats = make([]float64, 0, n)
	case model.KindInt:
		c.Ints = make([]int64, 0, n)
	case model.KindUint:
		c.Uints = make([]uint64, 0, n)
	case model.KindBool:
		c.Bools = make([]bool, 0, n)
	case model.KindString:
		c.Strings = make([]string, 0, n)
	}
	return c
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
