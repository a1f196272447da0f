// Sorting a memory column whose values did not arrive in time order.

package storage

import (
	"cmp"
	"slices"
	"sort"

	"github.com/soltixdb/soltix/model"
)

// sortByTime returns the values of col (a memory column's, in arrival
// order) sorted by time with one value per time: of those at one time,
// the one with the highest sequence number, and among equal sequence
// numbers the one that came last. seqs returns every value's sequence
// number; it is called only when some time repeats. The result's
// memory comes from a (nil: the heap).
//
// Values mostly arrive in runs already in order (a batch's values of a
// column), the runs in order but for concurrent batches that reached
// memory in the other order, so each run is merged into the tail of what
// came before it: the cost is the values the late run passes, not a sort
// of the whole column. A column whose runs pass more than a few times its
// length in all (say, one written backwards) is sorted instead.
func sortByTime(col model.Column, seqs func() []uint64, a *colArena) model.Column {
	n := col.Len()
	ts := col.Times
	order := make([]int, 0, n)
	var tail []int
	moved, budget := 0, 4*n+64
	for lo := 0; lo < n && order != nil; {
		hi := lo + 1
		for hi < n && ts[hi] >= ts[hi-1] {
			hi++
		}
		if len(order) == 0 || ts[order[len(order)-1]] <= ts[lo] {
			for i := lo; i < hi; i++ {
				order = append(order, i)
			}
			lo = hi
			continue
		}
		// The run starts before what came earlier ends: merge it with the
		// values after its first time (at equal times the earlier value
		// first, as it came first).
		p := sort.Search(len(order), func(j int) bool { return ts[order[j]] > ts[lo] })
		if moved += len(order) - p + hi - lo; moved > budget {
			order = nil
			break
		}
		tail = append(tail[:0], order[p:]...)
		order = order[:p]
		i, j := 0, lo
		for i < len(tail) && j < hi {
			if ts[tail[i]] <= ts[j] {
				order = append(order, tail[i])
				i++
			} else {
				order = append(order, j)
				j++
			}
		}
		order = append(order, tail[i:]...)
		for ; j < hi; j++ {
			order = append(order, j)
		}
		lo = hi
	}
	if order == nil {
		order = make([]int, n)
		for i := range order {
			order[i] = i
		}
		slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(ts[a], ts[b]) })
	}
	// One value per time: order lists a time's values in arrival order.
	var seq []uint64
	kept := order[:0]
	for k := 0; k < n; {
		e := k + 1
		for e < n && ts[order[e]] == ts[order[k]] {
			e++
		}
		w := order[k]
		if e-k > 1 {
			if seq == nil {
				seq = seqs()
			}
			for _, i := range order[k+1 : e] {
				if seq[i] >= seq[w] {
					w = i
				}
			}
		}
		kept = append(kept, w)
		k = e
	}
	return gather(col, kept, a)
}

// gather returns the values of col at the indexes idx, in that order,
// in memory from a (nil: the heap).
func gather(col model.Column, idx []int, a *colArena) model.Column {
	n := len(idx)
	out := a.column(col.Name, col.Kind, n)
	out.Times = gatherInto(out.Times[:n], col.Times, idx)
	switch col.Kind {
	case model.KindFloat:
		out.Floats = gatherInto(out.Floats[:n], col.Floats, idx)
	case model.KindInt:
		out.Ints = gatherInto(out.Ints[:n], col.Ints, idx)
	case model.KindUint:
		out.Uints = gatherInto(out.Uints[:n], col.Uints, idx)
	case model.KindBool:
		out.Bools = gatherInto(out.Bools[:n], col.Bools, idx)
	case model.KindString:
		out.Strings = gatherInto(out.Strings[:n], col.Strings, idx)
	}
	return out
}

// gatherInto fills dst (len(idx) long) with src at the indexes idx and
// returns it.
func gatherInto[T any](dst, src []T, idx []int) []T {
	for k, i := range idx {
		dst[k] = src[i]
	}
	return dst
}
