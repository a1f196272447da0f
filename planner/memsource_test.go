package planner

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"

	"github.com/soltixdb/soltix/model"
)

// memSource is an in-memory Source for tests. Points are written with
// write; columns are kept sorted by time, and a repeated timestamp replaces
// the earlier value (last write wins).
type memSource struct {
	colls   map[string]*memColl
	reads   int // calls to Read
	readMu  sync.Mutex
	deletes int     // calls to Delete
	deleted [][]any // the arguments of each Delete: series keys, min, max
	delErr  error   // returned by Delete, which then deletes nothing
}

var _ Deleter = (*memSource)(nil)

type memColl struct {
	fields map[string]model.Kind
	series []*memSeries
}

type memSeries struct {
	tags model.Tags
	cols map[string]*model.Column
}

func newMemSource() *memSource { return &memSource{colls: map[string]*memColl{}} }

// parseTags turns "k=v,k2=v2" into sorted tags.
func parseTags(s string) model.Tags {
	var ts model.Tags
	if s == "" {
		return ts
	}
	for _, kv := range strings.Split(s, ",") {
		k, v, _ := strings.Cut(kv, "=")
		ts = append(ts, model.Tag{Key: k, Value: v})
	}
	ts.Sort()
	return ts
}

// create makes an empty collection with the given fields.
func (m *memSource) create(coll string, fields map[string]model.Kind) *memSource {
	c := m.colls[coll]
	if c == nil {
		c = &memColl{fields: map[string]model.Kind{}}
		m.colls[coll] = c
	}
	for k, v := range fields {
		c.fields[k] = v
	}
	return m
}

// write adds one point: kv alternates field names and Go values (float64,
// int, int64, uint64, bool or string).
func (m *memSource) write(coll, tags string, t int64, kv ...any) *memSource {
	m.create(coll, nil)
	c := m.colls[coll]
	ts := parseTags(tags)
	var s *memSeries
	for _, x := range c.series {
		if x.tags.Equal(ts) {
			s = x
		}
	}
	if s == nil {
		s = &memSeries{tags: ts, cols: map[string]*model.Column{}}
		c.series = append(c.series, s)
	}
	for i := 0; i < len(kv); i += 2 {
		name := kv[i].(string)
		var v model.Value
		switch x := kv[i+1].(type) {
		case float64:
			v = model.Float(x)
		case int:
			v = model.Int(int64(x))
		case int64:
			v = model.Int(x)
		case uint64:
			v = model.Uint(x)
		case bool:
			v = model.Bool(x)
		case string:
			v = model.String(x)
		default:
			panic(fmt.Sprintf("write: unsupported value %T", x))
		}
		if k, ok := c.fields[name]; ok && k != v.Kind {
			panic(fmt.Sprintf("write: field %q is %s, got %s", name, k, v.Kind))
		}
		c.fields[name] = v.Kind
		col := s.cols[name]
		if col == nil {
			col = &model.Column{Name: name, Kind: v.Kind}
			s.cols[name] = col
		}
		insert(col, t, v)
	}
	return m
}

// insert puts v at time t, keeping the column sorted; a repeated time
// replaces the old value.
func insert(c *model.Column, t int64, v model.Value) {
	i, found := slices.BinarySearch(c.Times, t)
	var rebuilt model.Column
	rebuilt.Name, rebuilt.Kind = c.Name, c.Kind
	for j := 0; j < c.Len(); j++ {
		if j == i {
			rebuilt.Append(t, v)
			if found {
				continue
			}
		}
		rebuilt.Append(c.Times[j], c.Value(j))
	}
	if i == c.Len() {
		rebuilt.Append(t, v)
	}
	*c = rebuilt
}

func (m *memSource) Collections() []string {
	var out []string
	for k := range m.colls {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func (m *memSource) Fields(coll string) (map[string]model.Kind, bool) {
	c, ok := m.colls[coll]
	if !ok {
		return nil, false
	}
	out := make(map[string]model.Kind, len(c.fields))
	for k, v := range c.fields {
		out[k] = v
	}
	return out, true
}

func (m *memSource) TagKeys(coll string) []string {
	c, ok := m.colls[coll]
	if !ok {
		return nil
	}
	var out []string
	for _, s := range c.series {
		for _, t := range s.tags {
			if !slices.Contains(out, t.Key) {
				out = append(out, t.Key)
			}
		}
	}
	slices.Sort(out)
	return out
}

func (m *memSource) TagValues(coll, key string) []string {
	c, ok := m.colls[coll]
	if !ok {
		return nil
	}
	var out []string
	for _, s := range c.series {
		if s.tags.Has(key) && !slices.Contains(out, s.tags.Get(key)) {
			out = append(out, s.tags.Get(key))
		}
	}
	slices.Sort(out)
	return out
}

func (m *memSource) Series(coll string, match func(model.Tags) bool) []model.Tags {
	c, ok := m.colls[coll]
	if !ok {
		return nil
	}
	var out []model.Tags
	for _, s := range c.series {
		if match == nil || match(s.tags) {
			out = append(out, s.tags)
		}
	}
	slices.SortFunc(out, func(a, b model.Tags) int {
		return strings.Compare(model.SeriesKey(coll, a), model.SeriesKey(coll, b))
	})
	return out
}

func (m *memSource) find(coll string, tags model.Tags) *memSeries {
	for _, s := range m.colls[coll].series {
		if s.tags.Equal(tags) {
			return s
		}
	}
	return nil
}

func (m *memSource) Read(ctx context.Context, coll string, tags model.Tags, fields []string, min, max int64) ([]model.Column, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.readMu.Lock() // Sources are used concurrently (a node's fragment)
	m.reads++
	m.readMu.Unlock()
	c, ok := m.colls[coll]
	if !ok {
		return nil, fmt.Errorf("read %q: %w", coll, ErrNotFound)
	}
	s := m.find(coll, tags)
	out := make([]model.Column, len(fields))
	for i, f := range fields {
		if s != nil && s.cols[f] != nil {
			out[i] = s.cols[f].Range(min, max)
		} else {
			out[i] = model.Column{Name: f, Kind: c.fields[f]}
		}
	}
	return out, nil
}

func (m *memSource) Explain(coll string, series []model.Tags, min, max int64, _ model.Level) ReadPlan {
	var rp ReadPlan
	for _, tags := range series {
		s := m.find(coll, tags)
		if s == nil {
			continue
		}
		g := len(s.tags) // a stand-in for a real group number
		if !slices.Contains(rp.Groups, g) {
			rp.Groups = append(rp.Groups, g)
		}
		for _, col := range s.cols {
			r := col.Range(min, max)
			rp.MemoryPoints += r.Len()
		}
	}
	slices.Sort(rp.Groups)
	return rp
}

// Delete removes the points of the listed series whose times lie in
// [min, max]. Series stay known (their tags are still listed) even when no
// point is left, as in storage until compaction.
func (m *memSource) Delete(ctx context.Context, coll string, series []model.Tags, min, max int64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.deletes++
	keys := make([]string, len(series))
	for i, t := range series {
		keys[i] = model.SeriesKey(coll, t)
	}
	m.deleted = append(m.deleted, []any{keys, min, max})
	if m.delErr != nil {
		return m.delErr
	}
	if _, ok := m.colls[coll]; !ok {
		return fmt.Errorf("delete %q: %w", coll, ErrNotFound)
	}
	for _, tags := range series {
		s := m.find(coll, tags)
		if s == nil {
			continue
		}
		for _, col := range s.cols {
			var kept model.Column
			kept.Name, kept.Kind = col.Name, col.Kind
			for j := 0; j < col.Len(); j++ {
				if t := col.Times[j]; t < min || t > max {
					kept.Append(t, col.Value(j))
				}
			}
			*col = kept
		}
	}
	return nil
}

// put installs a whole sorted column for a series, for large test data.
func (m *memSource) put(coll, tags string, col model.Column) *memSource {
	m.create(coll, map[string]model.Kind{col.Name: col.Kind})
	c := m.colls[coll]
	ts := parseTags(tags)
	s := m.find(coll, ts)
	if s == nil {
		s = &memSeries{tags: ts, cols: map[string]*model.Column{}}
		c.series = append(c.series, s)
	}
	s.cols[col.Name] = &col
	return m
}

// summarySource is a memSource that is also a SummarySource, standing in for
// colstore files with block statistics: it cuts each column of each series
// into blocks of block values (from the column's first value, whatever the
// query) and answers a block that lies inside [min, max] and whose range
// whole accepts with its Summary, and every other block with its values in
// [min, max]. The statistics follow colstore's rules (Min and Max ignore
// NaN unless every value is NaN, and order -0 below +0; SumFloat adds in
// time order from +0; integer sums wrap). They are computed once, when the
// source is made: write no more points to it afterwards.
type summarySource struct {
	*memSource
	block  int
	stats  map[*model.Column][]*Summary // per column, per block
	parts  int                          // calls to ReadParts
	summed int                          // summaries returned
}

var _ SummarySource = (*summarySource)(nil)

func newSummarySource(m *memSource, block int) *summarySource {
	s := &summarySource{memSource: m, block: block, stats: map[*model.Column][]*Summary{}}
	for _, c := range m.colls {
		for _, se := range c.series {
			for _, col := range se.cols {
				for lo := 0; lo < col.Len(); lo += block {
					part := col.Slice(lo, min(lo+block, col.Len()))
					s.stats[col] = append(s.stats[col], blockSummary(&part))
				}
			}
		}
	}
	return s
}

// blockSummary computes the statistics of the values of c.
func blockSummary(c *model.Column) *Summary {
	n := c.Len()
	s := &Summary{Count: n, MinTime: c.Times[0], MaxTime: c.Times[n-1], First: c.Value(0), Last: c.Value(n - 1)}
	switch c.Kind {
	case model.KindFloat:
		lo, hi := math.NaN(), math.NaN()
		below := func(a, b float64) bool { return a < b || (a == 0 && b == 0 && math.Signbit(a) && !math.Signbit(b)) }
		for _, v := range c.Floats {
			s.SumFloat += v
			if math.IsNaN(v) {
				continue
			}
			if math.IsNaN(lo) || below(v, lo) {
				lo = v
			}
			if math.IsNaN(hi) || below(hi, v) {
				hi = v
			}
		}
		if math.IsNaN(lo) { // every value is NaN
			lo, hi = c.Floats[0], c.Floats[0]
		}
		s.Min, s.Max = model.Float(lo), model.Float(hi)
	case model.KindInt:
		lo, hi := c.Ints[0], c.Ints[0]
		for _, v := range c.Ints {
			s.SumInt += v
			lo, hi = min(lo, v), max(hi, v)
		}
		s.Min, s.Max = model.Int(lo), model.Int(hi)
	case model.KindUint:
		lo, hi := c.Uints[0], c.Uints[0]
		for _, v := range c.Uints {
			s.SumUint += v
			lo, hi = min(lo, v), max(hi, v)
		}
		s.Min, s.Max = model.Uint(lo), model.Uint(hi)
	}
	return s
}

// Rollups reports no rollups: summarySource has block statistics only.
func (m *summarySource) Rollups(string) (bool, int64) { return false, math.MinInt64 }

// ReadParts answers at level raw whatever level is asked for.
func (m *summarySource) ReadParts(ctx context.Context, coll string, tags model.Tags, field string, min, max int64, whole func(lo, hi int64) bool, _ model.Level) ([]Part, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.parts++
	if _, ok := m.colls[coll]; !ok {
		return nil, fmt.Errorf("read %q: %w", coll, ErrNotFound)
	}
	s := m.find(coll, tags)
	if s == nil || s.cols[field] == nil {
		return nil, nil
	}
	col := s.cols[field]
	parts := make([]Part, 0, len(m.stats[col]))
	for b, sum := range m.stats[col] {
		if sum.MinTime >= min && sum.MaxTime <= max && whole(sum.MinTime, sum.MaxTime) {
			parts = append(parts, Part{Summary: sum})
			m.summed++
			continue
		}
		lo := b * m.block
		blk := col.Slice(lo, lo+sum.Count)
		if vals := blk.Range(min, max); vals.Len() > 0 {
			parts = append(parts, Part{Values: vals})
		}
	}
	return parts, nil
}
