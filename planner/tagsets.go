package planner

import (
	"slices"
	"strings"

	"github.com/soltixdb/soltix/model"
)

// Series selection by sets. Testing a WHERE clause against every series
// costs series × conditions, which made an OR of 32,000 tag equalities take
// seconds. Instead the planner indexes the series once per query (tag key →
// value → series) for the keys the clause names, turns every tag condition
// into the set of series it accepts by looking its values up, and combines
// the sets: AND intersects, OR unites. Each step costs time linear (up to a
// logarithm) in the sizes of the sets involved, so the whole selection
// costs the size of the index plus the size of the clause.

// seriesSet is a set of series, by their index in the list given to
// newSeriesIndex: the sorted, distinct ids, or when neg every series except
// them.
type seriesSet struct {
	ids []int32
	neg bool
}

var (
	noSeries  = seriesSet{}
	allSeries = seriesSet{neg: true}
)

// tagLookup is what set evaluation needs of an index: the ids of the
// series holding a tag value, and every value of a tag key starting with a
// prefix ("": all) with its ids (ascending, never modified by the caller). seriesIndex builds one from a
// list of series; a source's model.SeriesIndex is one through
// sourceIndex.
type tagLookup interface {
	postings(key, value string) []int32
	values(key, prefix string, fn func(value string, ids []int32))
}

// seriesIndex maps tag key → value → the ids of the series with that value,
// ascending, for the tag keys a condition names.
type seriesIndex struct {
	byKey map[string]map[string][]int32
}

func newSeriesIndex(series []model.Tags, c *cond) *seriesIndex {
	ix := &seriesIndex{byKey: map[string]map[string][]int32{}}
	c.leaves(func(lf *leaf) {
		if lf.kind == leafTag {
			ix.byKey[lf.name] = map[string][]int32{}
		}
	})
	for i, tags := range series {
		for _, tg := range tags {
			if vals, ok := ix.byKey[tg.Key]; ok {
				vals[tg.Value] = append(vals[tg.Value], int32(i))
			}
		}
	}
	return ix
}

func (ix *seriesIndex) postings(key, value string) []int32 { return ix.byKey[key][value] }

func (ix *seriesIndex) values(key, prefix string, fn func(string, []int32)) {
	for v, ids := range ix.byKey[key] {
		if strings.HasPrefix(v, prefix) {
			fn(v, ids)
		}
	}
}

// sourceIndex is a source's postings index as a tagLookup.
type sourceIndex struct{ ix model.SeriesIndex }

func (s sourceIndex) postings(key, value string) []int32 { return s.ix.Postings(key, value) }

func (s sourceIndex) values(key, prefix string, fn func(string, []int32)) {
	s.ix.Values(key, prefix, fn)
}

// leafSet returns the series whose tags satisfy a tag leaf. A series
// without the key has the value "" (as model.Tags.Get says).
func leafSet(ix tagLookup, lf *leaf) seriesSet {
	if lf.set && !slices.Contains(lf.vals, "") {
		lists := make([][]int32, 0, len(lf.vals))
		for _, v := range lf.vals {
			if ids := ix.postings(lf.name, v); len(ids) > 0 {
				lists = append(lists, ids)
			}
		}
		return seriesSet{ids: unionLists(lists), neg: lf.negate}
	}
	// Any other test is made once per distinct value (of those with the
	// leaf's prefix: the others pass or fail as "" does). When "" passes,
	// the set is the complement of the series whose value fails.
	empty := lf.str("")
	var lists [][]int32
	ix.values(lf.name, lf.prefix, func(v string, ids []int32) {
		if lf.str(v) != empty {
			lists = append(lists, ids)
		}
	})
	return seriesSet{ids: unionLists(lists), neg: empty}
}

// sets evaluates the condition on tags alone: must holds the series for
// which it is true whatever the fields and the time, may those for which it
// can be true (must ⊆ may).
func (c *cond) sets(ix tagLookup) (must, may seriesSet) {
	switch c.op {
	case opTrue:
		return allSeries, allSeries
	case opFalse:
		return noSeries, noSeries
	case opLeaf:
		if c.lf.kind == leafTag {
			s := leafSet(ix, c.lf)
			return s, s
		}
		return noSeries, allSeries
	}
	musts := make([]seriesSet, len(c.kids))
	mays := make([]seriesSet, len(c.kids))
	for i, k := range c.kids {
		musts[i], mays[i] = k.sets(ix)
	}
	if c.op == opAnd {
		return intersectSets(musts), intersectSets(mays)
	}
	c.indexOperands(mays)
	return uniteSets(musts), uniteSets(mays)
}

// indexOperands records, for an OR node, which operands can hold for each
// series (mays[i] is where operand i can), for operandsFor.
func (c *cond) indexOperands(mays []seriesSet) {
	c.indexed, c.byID, c.wide = true, map[int32][]int32{}, nil
	for i, s := range mays {
		if s.neg {
			c.wide = append(c.wide, int32(i))
			continue
		}
		for _, id := range s.ids {
			c.byID[id] = append(c.byID[id], int32(i))
		}
	}
}

// operandsFor returns the operands of an indexed OR node that can hold for
// the series id, in order; the others are false for it.
func (c *cond) operandsFor(id int32) []*cond {
	idx := append(slices.Clone(c.byID[id]), c.wide...)
	slices.Sort(idx)
	kids := make([]*cond, len(idx))
	for i, k := range idx {
		kids[i] = c.kids[k]
	}
	return kids
}

// splitSets returns the id lists of the plain sets and of the
// complemented ones.
func splitSets(sets []seriesSet) (plain, negs [][]int32) {
	for _, s := range sets {
		if s.neg {
			negs = append(negs, s.ids)
		} else {
			plain = append(plain, s.ids)
		}
	}
	return plain, negs
}

// uniteSets returns the union of sets: with complements among them, the
// complement of (∩ complemented) \ (∪ plain).
func uniteSets(sets []seriesSet) seriesSet {
	plain, negs := splitSets(sets)
	if len(negs) == 0 {
		return seriesSet{ids: unionLists(plain)}
	}
	return seriesSet{ids: difference(intersectLists(negs), unionLists(plain)), neg: true}
}

// intersectSets returns the intersection of sets: (∩ plain) \ (∪
// complemented), or the complement of ∪ complemented when all are.
func intersectSets(sets []seriesSet) seriesSet {
	plain, negs := splitSets(sets)
	if len(plain) == 0 {
		return seriesSet{ids: unionLists(negs), neg: true}
	}
	return seriesSet{ids: difference(intersectLists(plain), unionLists(negs))}
}

// unionLists returns the sorted distinct ids of all lists. It sorts their
// concatenation once instead of merging pairwise, which would be quadratic
// in the number of lists. A single list is returned as it is.
func unionLists(lists [][]int32) []int32 {
	switch len(lists) {
	case 0:
		return nil
	case 1:
		return lists[0]
	}
	n := 0
	for _, l := range lists {
		n += len(l)
	}
	out := make([]int32, 0, n)
	for _, l := range lists {
		out = append(out, l...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// intersectLists returns the ids present in every list (each sorted and
// distinct). It starts from the shortest list and keeps what the others
// hold, looking each id up, so that a short list against a long one costs
// the short one's length (times a logarithm), not the long one's.
func intersectLists(lists [][]int32) []int32 {
	switch len(lists) {
	case 0:
		return nil
	case 1:
		return lists[0]
	}
	lists = slices.Clone(lists)
	slices.SortFunc(lists, func(a, b []int32) int { return len(a) - len(b) })
	out := lists[0]
	for _, l := range lists[1:] {
		if len(out) == 0 {
			return nil
		}
		kept := make([]int32, 0, len(out))
		for _, x := range out {
			if _, ok := slices.BinarySearch(l, x); ok {
				kept = append(kept, x)
			}
		}
		out = kept
	}
	return out
}

// difference returns the ids of a (sorted, distinct) not in b, looking
// each up in b.
func difference(a, b []int32) []int32 {
	if len(b) == 0 || len(a) == 0 {
		return a
	}
	out := make([]int32, 0, len(a))
	for _, x := range a {
		if _, ok := slices.BinarySearch(b, x); !ok {
			out = append(out, x)
		}
	}
	return out
}

// has reports whether id is in the set.
func (s seriesSet) has(id int32) bool {
	_, ok := slices.BinarySearch(s.ids, id)
	return ok != s.neg
}

// members returns, for ids 0 to n-1, whether each is in the set.
func (s seriesSet) members(n int) []bool {
	in := make([]bool, n)
	if s.neg {
		for i := range in {
			in[i] = true
		}
	}
	for _, id := range s.ids {
		in[id] = !s.neg
	}
	return in
}

// testEachLimit is the number of conditions up to which series are
// selected by testing each series' tags (cond.tri) as the source lists them:
// for a short clause that costs series × a small constant, without building
// an index, and the source sorts only the series selected. Longer clauses
// are evaluated by sets.
const testEachLimit = 64

// selectFrom returns what selectSeries does, for the series of collection
// in src, and whether they come sorted by series key (only from a source
// with a postings index, IndexedSource, which answers: see selectIndexed;
// the others' lists are sorted by the caller).
// Otherwise a short clause is tested on each series as the source lists
// them; for a long one, every series is listed through a match that
// records each and declines it (so the source sorts nothing), relying on
// Source.Series calling match once per series. The ids index that list;
// they are nil when the series were tested one by one.
func selectFrom(src Source, collection string, c *cond) (selected []model.Tags, ids []int32, tagTrue []bool, sorted bool) {
	if is, ok := src.(IndexedSource); ok {
		if ix := is.SeriesIndex(collection); ix != nil {
			selected, ids, tagTrue = selectIndexed(ix, c)
			return selected, ids, tagTrue, true
		}
	}
	if !c.hasTags() {
		return src.Series(collection, nil), nil, nil, false
	}
	n := 0
	c.leaves(func(*leaf) { n++ })
	if n <= testEachLimit {
		selected = src.Series(collection, func(t model.Tags) bool { return c.tri(t) != triFalse })
		tagTrue = make([]bool, len(selected))
		for i, t := range selected {
			tagTrue[i] = c.tri(t) == triTrue
		}
		return selected, nil, tagTrue, false
	}
	var all []model.Tags
	src.Series(collection, func(t model.Tags) bool {
		all = append(all, t)
		return false
	})
	selected, ids, tagTrue = selectSeries(all, c)
	return selected, ids, tagTrue, false
}

// selectIndexed is selectSeries over a source's postings index: the sets
// come from its postings, and the series (sorted by series key) with ids
// that are the index's.
func selectIndexed(ix model.SeriesIndex, c *cond) (selected []model.Tags, ids []int32, tagTrue []bool) {
	if !c.hasTags() {
		_, selected = ix.Series(nil, true)
		return selected, nil, nil
	}
	must, may := c.sets(sourceIndex{ix})
	ids, selected = ix.Series(may.ids, may.neg)
	tagTrue = make([]bool, len(ids))
	for i, id := range ids {
		tagTrue[i] = must.has(id)
	}
	return selected, ids, tagTrue
}

// selectSeries returns the series for which c can hold judging by tags,
// their ids (indexes in series, which fold takes), and for each whether c
// holds whatever the fields and time are (so that it needs no test per
// row). A c without tag conditions selects every series, with nil ids and
// tagTrue.
func selectSeries(series []model.Tags, c *cond) (selected []model.Tags, ids []int32, tagTrue []bool) {
	if !c.hasTags() {
		return series, nil, nil
	}
	ix := newSeriesIndex(series, c)
	must, may := c.sets(ix)
	tagTrue = []bool{}
	mustIn, mayIn := must.members(len(series)), may.members(len(series))
	for i, tags := range series {
		if mayIn[i] {
			selected = append(selected, tags)
			ids = append(ids, int32(i))
			tagTrue = append(tagTrue, mustIn[i])
		}
	}
	return selected, ids, tagTrue
}
