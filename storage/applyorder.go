// The order in which apply stores a batch's values.

package storage

// applyScratch orders a batch's points series by series for apply.
//
// A fleet's batch interleaves its devices (every host's line of one
// time, then the next time's), so storing its points in the batch's
// order touches every column of every series once per time: TSBS's
// 1,000-line batch stores into the chunks of 1,000 columns ten times
// round, each store far from the one before. Series by series, a
// column's values of the batch go in one after another, into the same
// cache lines and pages. Within a series the batch's order is kept, so
// that of two values at one time the later still wins.
//
// It lives on the DB and is used under mu, which apply holds.
type applyScratch struct {
	slot   []int32      // each point's series, as an index into series
	series []knownEntry // the batch's series, in order of first point
	of     map[*series]int32
	count  []int32
	order  []int32
}

// maxApplyScratch bounds the points (and series) whose room the scratch
// keeps between batches.
const maxApplyScratch = 1 << 16

// slots returns room for n points' series.
func (a *applyScratch) slots(n int) []int32 {
	if cap(a.slot) < n {
		a.slot = make([]int32, n)
	}
	return a.slot[:n]
}

// slotOf returns the index of f's series among the batch's, adding it.
func (a *applyScratch) slotOf(f knownEntry) int32 {
	if a.of == nil {
		a.of = make(map[*series]int32)
	}
	if i, ok := a.of[f.s]; ok {
		return i
	}
	i := int32(len(a.series))
	f.slot = i
	a.series = append(a.series, f)
	a.of[f.s] = i
	return i
}

// bySeries returns the indexes of the points, whose series slots lists,
// grouped by series in order of their first point, each series' points in
// their order (a counting sort).
func (a *applyScratch) bySeries(slots []int32) []int32 {
	n := len(slots)
	if cap(a.order) < n {
		a.order = make([]int32, n)
	}
	order := a.order[:n]
	k := len(a.series)
	if cap(a.count) < k+1 {
		a.count = make([]int32, k+1)
	}
	start := a.count[:k+1]
	clear(start)
	for _, s := range slots {
		start[s+1]++
	}
	for s := 1; s <= k; s++ {
		start[s] += start[s-1]
	}
	for i, s := range slots {
		order[start[s]] = int32(i)
		start[s]++
	}
	return order
}

// done forgets the batch's series, keeping the room unless it grew past
// maxApplyScratch.
func (a *applyScratch) done() {
	clear(a.series)
	a.series = a.series[:0]
	clear(a.of)
	if cap(a.slot) > maxApplyScratch || cap(a.series) > maxApplyScratch {
		*a = applyScratch{}
	}
}
