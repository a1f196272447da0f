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
	for i := range points {
		c := db.colls[points[i].Collection]
		out[i] = c == nil || c.series[model.SeriesKey(points[i].Collection, points[i].Tags)] == nil
	}
	return out
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
