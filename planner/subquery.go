package planner

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/query"
)

// Subqueries: SELECT ... FROM (SELECT ...). The inner statement runs first,
// on the source, with everything the planner does for it (rollups, the
// cluster's fragments); its answer then becomes a collection in memory
// (subSource) that the outer statement is planned over like any other:
// the inner's GROUP BY tags are its tags, one series per combination of
// them, and its other columns its fields, at the inner's row times. The
// outer statement reads that answer raw, so it is exact whatever the inner
// read. What the inner answer may hold is bounded by the usual limits
// (rows, bytes), and the outer's by its own.

// subqueryCollection names the in-memory collection of a subquery's answer
// in plans and messages.
const subqueryCollection = "(subquery)"

// executeSubquery runs a SELECT whose FROM is a subquery.
func executeSubquery(ctx context.Context, src Source, stmt *query.Statement, opts Options, sink Sink) (*Stats, error) {
	sel := stmt.Select
	inner := &query.Statement{Select: sel.Sub, Explain: stmt.Explain}
	if stmt.Explain {
		// The reads are the inner statement's; the outer one reads its
		// answer in memory.
		return ExecuteStream(ctx, src, inner, opts, sink)
	}
	var rs resultSink
	innerStats, err := ExecuteStream(ctx, src, inner, opts, &rs)
	if err != nil {
		return nil, err
	}
	ss, err := newSubSource(sel.Sub, subGroupTags(src, sel.Sub), &rs.res)
	if err != nil {
		return nil, err
	}
	outer := *sel
	outer.Sub = nil
	outer.From = subqueryCollection
	st, err := ExecuteStream(ctx, ss, &query.Statement{Select: &outer}, opts, sink)
	if err != nil {
		return nil, err
	}
	if innerStats != nil {
		// What was read from storage is the inner statement's.
		out := *innerStats
		out.Notes = append(slices.Clone(innerStats.Notes),
			fmt.Sprintf("the outer query read the %d rows of its subquery in memory", len(rs.res.Rows)))
		return &out, nil
	}
	return st, nil
}

// subSource is a subquery's answer as a Source with one collection.
type subSource struct {
	tagKeys []string // sorted
	fields  map[string]model.Kind
	series  []*subSeries // sorted by series key
}

type subSeries struct {
	tags model.Tags
	cols map[string]*model.Column // by field, sorted by time
}

// subGroupTags returns the tag keys the subquery groups by: those it names
// and, with GROUP BY *, every tag key of its collection.
func subGroupTags(src Source, sub *query.Select) []string {
	tags := slices.Clone(sub.GroupTags)
	if sub.GroupAll && sub.Sub == nil {
		for _, k := range src.TagKeys(sub.From) {
			if !slices.Contains(tags, k) {
				tags = append(tags, k)
			}
		}
	}
	return tags
}

// newSubSource turns the answer res of the subquery sub, grouped by the
// tag keys groupTags, into a source.
func newSubSource(sub *query.Select, groupTags []string, res *Result) (*subSource, error) {
	ss := &subSource{fields: map[string]model.Kind{}}
	isTag := make([]bool, len(res.Columns))
	for c, name := range res.Columns {
		if c != res.TimeColumn && slices.Contains(groupTags, name) {
			isTag[c] = true
			ss.tagKeys = append(ss.tagKeys, name)
		}
	}
	sort.Strings(ss.tagKeys)
	// A field's kind is that of its values; integers and floats mixed in
	// one column (a FILL value) are read as floats.
	for c, name := range res.Columns {
		if c == res.TimeColumn || isTag[c] {
			continue
		}
		if _, dup := ss.fields[name]; dup {
			return nil, errorf(sub.FromPos, "the subquery has two columns named %q: name them with AS", name)
		}
		kind := model.Kind(0)
		for _, row := range res.Rows {
			k := row[c].Kind
			switch {
			case k == model.KindNull || k == kind:
			case kind == 0:
				kind = k
			case numeric(k) && numeric(kind):
				kind = model.KindFloat
			default:
				return nil, errorf(sub.FromPos, "subquery column %q holds both %s and %s values", name, kind, k)
			}
		}
		if kind == 0 {
			kind = model.KindFloat // only nulls: nothing to read
		}
		ss.fields[name] = kind
	}
	index := map[string]*subSeries{}
	for _, row := range res.Rows {
		var tags model.Tags
		for c := range row {
			if isTag[c] && row[c].Kind == model.KindString && row[c].Str() != "" {
				tags = append(tags, model.Tag{Key: res.Columns[c], Value: row[c].Str()})
			}
		}
		tags.Sort()
		key := model.SeriesKey("", tags)
		s := index[key]
		if s == nil {
			s = &subSeries{tags: tags, cols: map[string]*model.Column{}}
			index[key] = s
			ss.series = append(ss.series, s)
		}
		t := int64(0)
		if res.TimeColumn >= 0 && row[res.TimeColumn].Kind == model.KindInt {
			t = row[res.TimeColumn].Int()
		}
		for c, v := range row {
			if c == res.TimeColumn || isTag[c] || v.Kind == model.KindNull {
				continue
			}
			name := res.Columns[c]
			kind := ss.fields[name]
			col := s.cols[name]
			if col == nil {
				nc := model.NewColumn(name, kind, 0)
				col = &nc
				s.cols[name] = col
			}
			if v.Kind != kind {
				v = model.Float(toFloat(v))
			}
			col.Append(t, v)
		}
	}
	for _, s := range ss.series {
		for _, col := range s.cols {
			sortColumn(col)
		}
	}
	slices.SortFunc(ss.series, func(a, b *subSeries) int {
		return strings.Compare(model.SeriesKey("", a.tags), model.SeriesKey("", b.tags))
	})
	return ss, nil
}

func numeric(k model.Kind) bool {
	return k == model.KindFloat || k == model.KindInt || k == model.KindUint
}

func toFloat(v model.Value) float64 {
	switch v.Kind {
	case model.KindInt:
		return float64(v.Int())
	case model.KindUint:
		return float64(v.Uint())
	}
	return v.Float()
}

// sortColumn orders a column by time, keeping rows of equal times in the
// order the subquery answered them (a raw subquery over several series
// has them).
func sortColumn(c *model.Column) {
	if slices.IsSorted(c.Times) {
		return
	}
	idx := make([]int, c.Len())
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return c.Times[idx[a]] < c.Times[idx[b]] })
	out := model.NewColumn(c.Name, c.Kind, c.Len())
	for _, i := range idx {
		out.Append(c.Times[i], c.Value(i))
	}
	*c = out
}

// Collections implements Source.
func (ss *subSource) Collections() []string { return []string{subqueryCollection} }

// Fields implements Source.
func (ss *subSource) Fields(collection string) (map[string]model.Kind, bool) {
	if collection != subqueryCollection {
		return nil, false
	}
	return ss.fields, true
}

// TagKeys implements Source.
func (ss *subSource) TagKeys(string) []string { return ss.tagKeys }

// TagValues implements Source.
func (ss *subSource) TagValues(_, key string) []string {
	var out []string
	for _, s := range ss.series {
		if v := s.tags.Get(key); s.tags.Has(key) && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	sort.Strings(out)
	return out
}

// Series implements Source.
func (ss *subSource) Series(_ string, match func(model.Tags) bool) []model.Tags {
	var out []model.Tags
	for _, s := range ss.series {
		if match == nil || match(s.tags) {
			out = append(out, s.tags)
		}
	}
	return out
}

// Read implements Source.
func (ss *subSource) Read(ctx context.Context, _ string, tags model.Tags, fields []string, min, max int64) ([]model.Column, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var s *subSeries
	for _, x := range ss.series {
		if x.tags.Equal(tags) {
			s = x
			break
		}
	}
	out := make([]model.Column, len(fields))
	for i, f := range fields {
		if s != nil && s.cols[f] != nil {
			out[i] = s.cols[f].Range(min, max)
			out[i].Name = f
			continue
		}
		out[i] = model.NewColumn(f, ss.fields[f], 0)
	}
	return out, nil
}

// Explain implements Source.
func (ss *subSource) Explain(string, []model.Tags, int64, int64, model.Level) ReadPlan {
	return ReadPlan{}
}

var _ Source = (*subSource)(nil)
