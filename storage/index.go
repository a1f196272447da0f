// The series index: collections, fields, tag keys and values, series (created
// here by coll and seriesFor for writes, files and imports), EXPLAIN.

package storage

import (
	"slices"
	"sort"
	"unique"

	"github.com/soltixdb/soltix/model"
)

// Collections implements planner.Source.
func (db *DB) Collections() []string {
	db.mu.RLock()
	defer db.mu.RUnlock()
	out := make([]string, 0, len(db.colls))
	for name, c := range db.colls {
		if len(c.series) > 0 {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// lookup returns an existing collection with at least one series.
func (db *DB) lookup(name string) *collection {
	c := db.colls[name]
	if c == nil || len(c.series) == 0 {
		return nil
	}
	return c
}

// coll returns the collection, creating it. The caller holds mu.
func (db *DB) coll(name string) *collection {
	c := db.colls[name]
	if c == nil {
		c = &collection{name: name, fields: make(map[string]model.Kind), series: make(map[string]*series),
			tags: make(map[string]*tagValues), settings: db.settingsOf(name)}
		db.colls[name] = c
	}
	return c
}

// seriesFor returns the series with key, creating and indexing it. The
// caller holds mu.
func (db *DB) seriesFor(c *collection, key string, tags model.Tags) *series {
	s := c.series[key]
	if s != nil {
		return s
	}
	// The files' readers hold the same key (colfile interns it): one
	// copy for the series and all its files.
	h := unique.Make(key)
	key = h.Value()
	s = &series{coll: c.name, key: key, keyRef: h, tags: tags, group: db.groupOf(key, tags)}
	c.series[key] = s
	db.idxBytes += seriesBytes(key, tags)
	db.groups[s.group].addSeries(c, s)
	c.addPostings(s)
	return s
}

// seriesOf is seriesFor with the key built from c's name and tags in a
// buffer of the DB, so that finding an existing series allocates nothing.
// A new series keeps a copy of tags (a written point's arrays may be
// reused once Write returns: lineproto.Arena), cut from a slab of the DB.
// The caller holds mu for writing.
func (db *DB) seriesOf(c *collection, tags model.Tags) *series {
	db.keyBuf = model.AppendSeriesKey(db.keyBuf[:0], c.name, tags)
	if s := c.series[string(db.keyBuf)]; s != nil {
		return s
	}
	return db.seriesFor(c, string(db.keyBuf), db.keepTags(tags))
}

// tagSlabSize is the number of tags of a slab of keepTags.
const tagSlabSize = 4096

// keepTags returns a copy of tags with its capacity limited to its length
// (appending to it copies it), cut from db.tagSlab. The caller holds mu
// for writing.
func (db *DB) keepTags(tags model.Tags) model.Tags {
	n := len(tags)
	if n == 0 {
		return nil
	}
	if len(db.tagSlab)+n > cap(db.tagSlab) {
		db.tagSlab = make(model.Tags, 0, max(tagSlabSize, n))
	}
	l := len(db.tagSlab)
	db.tagSlab = append(db.tagSlab, tags...)
	return db.tagSlab[l : l+n : l+n]
}

// knownSeries maps the shared Tags slices of a batch's points to their
// series while apply runs, and is kept empty between batches, with its
// room (up to maxKnownSeries entries), for the next one. Guarded by mu.
type knownSeries struct {
	m map[knownKey]knownEntry
}

// knownKey identifies a point's collection and Tags slice.
type knownKey struct {
	coll string
	tags *model.Tag
	n    int
}

type knownEntry struct {
	c    *collection
	s    *series
	slot int32 // the series' place among the batch's (apply)
}

// maxKnownSeries bounds the entries whose room knownSeries keeps.
const maxKnownSeries = 1 << 16

func (k *knownSeries) start() map[knownKey]knownEntry {
	if k.m == nil {
		k.m = make(map[knownKey]knownEntry)
	}
	return k.m
}

// done empties the map (it must not keep the points' tags alive), or drops
// it when it grew past maxKnownSeries.
func (k *knownSeries) done() {
	if len(k.m) > maxKnownSeries {
		k.m = nil
		return
	}
	clear(k.m)
}

// Fields implements planner.Source.
func (db *DB) Fields(collection string) (map[string]model.Kind, bool) {
	db.mu.RLock()
	defer db.mu.RUnlock()
	c := db.lookup(collection)
	if c == nil {
		return nil, false
	}
	out := make(map[string]model.Kind, len(c.fields))
	for k, v := range c.fields {
		out[k] = v
	}
	return out, true
}

// TagKeys implements planner.Source.
func (db *DB) TagKeys(collection string) []string {
	db.mu.RLock()
	defer db.mu.RUnlock()
	c := db.lookup(collection)
	if c == nil {
		return nil
	}
	out := make([]string, 0, len(c.tags))
	for k := range c.tags {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TagValues implements planner.Source.
func (db *DB) TagValues(collection, key string) []string {
	db.mu.RLock()
	defer db.mu.RUnlock()
	c := db.lookup(collection)
	if c == nil {
		return nil
	}
	if c.tags[key] == nil {
		return []string{}
	}
	return slices.Clone(c.tags[key].sortedValues())
}

// NewSeries reports, for each point, whether its series is unknown to the
// store: written never, or deleted as a whole and dropped. The HTTP layer
// uses it to bound how fast a collection gains series.
func (db *DB) NewSeries(points []model.Point) []bool {
	db.mu.RLock()
	defer db.mu.RUnlock()
	out := make([]bool, len(points))
	var key []byte
	// The parser hands the points of one device in a batch the same Tags
	// slice: its answer is looked up by that slice, so that a batch of
	// many devices interleaved (every host's line of one time, then the
	// next time's) builds each device's key once, not once a point.
	var seen map[knownKey]bool
	for i := range points {
		p := &points[i]
		if i > 0 && sameTags(p, &points[i-1]) {
			out[i] = out[i-1]
			continue
		}
		var kk knownKey
		if len(p.Tags) > 0 {
			kk = knownKey{p.Collection, &p.Tags[0], len(p.Tags)}
			if v, ok := seen[kk]; ok {
				out[i] = v
				continue
			}
		}
		c := db.colls[p.Collection]
		if c == nil {
			out[i] = true
		} else {
			key = model.AppendSeriesKey(key[:0], p.Collection, p.Tags)
			out[i] = c.series[string(key)] == nil
		}
		if len(p.Tags) > 0 {
			if seen == nil {
				seen = make(map[knownKey]bool)
			}
			seen[kk] = out[i]
		}
	}
	return out
}

// sameTags reports whether p and q have the same collection and the same
// Tags slice (points of one device as the line protocol parser hands them
// out), hence the same series.
func sameTags(p, q *model.Point) bool {
	return len(p.Tags) > 0 && len(p.Tags) == len(q.Tags) && &p.Tags[0] == &q.Tags[0] && p.Collection == q.Collection
}

// Series implements planner.Source.
func (db *DB) Series(collection string, match func(model.Tags) bool) []model.Tags {
	db.mu.RLock()
	defer db.mu.RUnlock()
	c := db.lookup(collection)
	if c == nil {
		return nil
	}
	var out []model.Tags
	for _, id := range c.keyOrder() {
		if s := c.byID[id]; match == nil || match(s.tags) {
			out = append(out, s.tags)
		}
	}
	return out
}

// Explain implements planner.Source. For a rollup level it counts the rows
// the level holds for the series in [min, max] (from the file index, all
// fields) and the dirty buckets there.
func (db *DB) Explain(collection string, series []model.Tags, min, max int64, level model.Level) model.ReadPlan {
	db.mu.RLock()
	defer db.mu.RUnlock()
	var plan model.ReadPlan
	c := db.lookup(collection)
	if c == nil {
		return plan
	}
	groups := make(map[int]bool)
	files := make(map[*dataFile]bool)
	for _, tags := range series {
		s := c.series[model.SeriesKey(collection, tags)]
		if s == nil {
			continue
		}
		groups[s.group] = true
		for _, fs := range s.files {
			if fs.f.meta.MaxTime >= min && fs.f.meta.MinTime <= max {
				files[fs.f] = true
			}
		}
		for _, gen := range []*memSeries{s.imm, s.mem} {
			if gen != nil {
				plan.MemoryPoints += gen.points
			}
		}
	}
	for g := range groups {
		plan.Groups = append(plan.Groups, g)
	}
	sort.Ints(plan.Groups)
	plan.Files = len(files)
	for f := range files {
		if f.cold != nil {
			plan.ColdFiles++
		}
	}
	if level != model.LevelRaw && !c.settings.NoRollups {
		db.explainLevel(c, series, min, max, level, &plan)
	}
	return plan
}
