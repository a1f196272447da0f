// The series index's postings: per collection, each series has an id (its
// place in byID) and each tag value the ascending ids of the series holding
// it. Tag filters (planner/tagsets.go) then cost the postings they touch:
// an equality one lookup, AND an intersection, OR a union, != and regular
// expressions a pass over the values of one tag key, never over the series.

package storage

import (
	"slices"
	"strings"
	"sync/atomic"

	"github.com/soltixdb/soltix/model"
)

// tagValues is the values of one tag key in a collection: each with the
// ascending ids of the series holding it, and the values sorted (built when
// first needed after a value came or went).
type tagValues struct {
	ids    map[string][]int32
	sorted atomic.Pointer[[]string]
}

// sortedValues returns the values sorted, from the cache when it holds
// them. The caller holds mu (read or write); the result must not be
// modified.
func (tv *tagValues) sortedValues() []string {
	if p := tv.sorted.Load(); p != nil {
		return *p
	}
	vals := make([]string, 0, len(tv.ids))
	for v := range tv.ids {
		vals = append(vals, v)
	}
	slices.Sort(vals)
	// Readers racing here build the same list; any of them may win.
	tv.sorted.Store(&vals)
	return vals
}

// keyOrder is a collection's live series ids sorted by series key, as of a
// version of the collection's index.
type keyOrder struct {
	version uint64
	ids     []int32
}

// addPostings gives s the next id and adds it to the postings of its tags.
// The caller holds mu.
func (c *collection) addPostings(s *series) {
	s.id = int32(len(c.byID))
	c.byID = append(c.byID, s)
	c.version++
	for _, t := range s.tags {
		tv := c.tags[t.Key]
		if tv == nil {
			tv = &tagValues{ids: make(map[string][]int32)}
			c.tags[t.Key] = tv
		}
		ids, ok := tv.ids[t.Value]
		if !ok {
			tv.sorted.Store(nil)
		}
		// Ids grow, so appending keeps the list ascending; an append
		// writes past the length readers were given, never within it.
		tv.ids[t.Value] = append(ids, s.id)
	}
}

// removePostings takes s out of byID and out of its tags' postings, each
// replaced by a copy without it (lists handed out stay as they were). The
// caller holds mu.
func (c *collection) removePostings(s *series) {
	if int(s.id) >= len(c.byID) || c.byID[s.id] != s {
		return
	}
	c.byID[s.id] = nil
	c.version++
	for _, t := range s.tags {
		tv := c.tags[t.Key]
		if tv == nil {
			continue
		}
		ids := tv.ids[t.Value]
		i, ok := slices.BinarySearch(ids, s.id)
		if !ok {
			continue
		}
		if len(ids) == 1 {
			delete(tv.ids, t.Value)
			tv.sorted.Store(nil)
			if len(tv.ids) == 0 {
				delete(c.tags, t.Key)
			}
			continue
		}
		tv.ids[t.Value] = slices.Concat(ids[:i], ids[i+1:])
	}
}

// keyOrder returns the ids of the collection's series sorted by series
// key, from the cache when no series was added or removed since it was
// built. The caller holds mu (read or write); the returned slice must not
// be modified.
func (c *collection) keyOrder() []int32 {
	if o := c.order.Load(); o != nil && o.version == c.version {
		return o.ids
	}
	ids := make([]int32, 0, len(c.series))
	for id, s := range c.byID {
		if s != nil {
			ids = append(ids, int32(id))
		}
	}
	slices.SortFunc(ids, func(a, b int32) int { return strings.Compare(c.byID[a].key, c.byID[b].key) })
	// Readers racing here build the same order; any of them may win.
	c.order.Store(&keyOrder{version: c.version, ids: ids})
	return ids
}

// SeriesIndex returns a view of the collection's postings index (see
// model.SeriesIndex); an empty one when the collection does not exist.
// It makes the DB a planner.IndexedSource.
func (db *DB) SeriesIndex(collection string) model.SeriesIndex {
	db.mu.RLock()
	defer db.mu.RUnlock()
	c := db.lookup(collection)
	if c == nil {
		return indexView{}
	}
	return indexView{db: db, c: c, n: int32(len(c.byID))}
}

// indexView is a collection's index as of n ids. Its methods take the
// DB's read lock.
type indexView struct {
	db *DB
	c  *collection
	n  int32
}

// below returns the prefix of the ascending ids that are below n.
func below(ids []int32, n int32) []int32 {
	if len(ids) == 0 || ids[len(ids)-1] < n {
		return ids
	}
	i, _ := slices.BinarySearch(ids, n)
	return ids[:i:i]
}

// Len implements model.SeriesIndex.
func (v indexView) Len() int { return int(v.n) }

// Postings implements model.SeriesIndex.
func (v indexView) Postings(key, value string) []int32 {
	if v.c == nil {
		return nil
	}
	v.db.mu.RLock()
	defer v.db.mu.RUnlock()
	tv := v.c.tags[key]
	if tv == nil {
		return nil
	}
	return below(tv.ids[value], v.n)
}

// Values implements model.SeriesIndex. With a prefix it visits only the
// sorted values that start with it.
func (v indexView) Values(key, prefix string, fn func(value string, ids []int32)) {
	if v.c == nil {
		return
	}
	v.db.mu.RLock()
	defer v.db.mu.RUnlock()
	tv := v.c.tags[key]
	if tv == nil {
		return
	}
	if prefix == "" {
		for val, ids := range tv.ids {
			if ids = below(ids, v.n); len(ids) > 0 {
				fn(val, ids)
			}
		}
		return
	}
	vals := tv.sortedValues()
	i, _ := slices.BinarySearch(vals, prefix)
	for ; i < len(vals) && strings.HasPrefix(vals[i], prefix); i++ {
		if ids := below(tv.ids[vals[i]], v.n); len(ids) > 0 {
			fn(vals[i], ids)
		}
	}
}

// Series implements model.SeriesIndex. A set of more than a sixteenth of
// the collection is listed by walking the cached key order; a smaller one
// is sorted by key itself.
func (v indexView) Series(ids []int32, complement bool) ([]int32, []model.Tags) {
	if v.c == nil {
		return nil, nil
	}
	v.db.mu.RLock()
	defer v.db.mu.RUnlock()
	c := v.c
	if !complement && len(ids) <= int(v.n)/16 {
		live := make([]*series, 0, len(ids))
		for _, id := range ids {
			if id >= 0 && id < v.n {
				if s := c.byID[id]; s != nil {
					live = append(live, s)
				}
			}
		}
		slices.SortFunc(live, func(a, b *series) int { return strings.Compare(a.key, b.key) })
		outIDs, outTags := make([]int32, len(live)), make([]model.Tags, len(live))
		for i, s := range live {
			outIDs[i], outTags[i] = s.id, s.tags
		}
		return outIDs, outTags
	}
	in := make([]bool, v.n)
	for _, id := range ids {
		if id >= 0 && id < v.n {
			in[id] = true
		}
	}
	var outIDs []int32
	var outTags []model.Tags
	for _, id := range c.keyOrder() {
		if id < v.n && in[id] != complement {
			outIDs = append(outIDs, id)
			outTags = append(outTags, c.byID[id].tags)
		}
	}
	return outIDs, outTags
}
