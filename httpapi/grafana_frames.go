// Writing Grafana answers: data frames for time series and tables, their meta and notices.

package httpapi

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/soltixdb/soltix/internal/timex"
	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/planner"
)

// gfMeta is the DataFrame meta of a series or table: the statement run
// (Grafana's query inspector shows it), what each level gave, and notes
// (shown in the panel).
type gfMeta struct {
	ExecutedQueryString string     `json:"executedQueryString"`
	Stats               []gfStat   `json:"stats,omitempty"`
	Notices             []gfNotice `json:"notices,omitempty"`
}

type gfStat struct {
	DisplayName string `json:"displayName"`
	Value       int64  `json:"value"`
}

type gfNotice struct {
	Severity string `json:"severity"`
	Text     string `json:"text"`
}

// gfMetaJSON encodes the meta of a target's frames; notices only when
// withNotices is set (the first frame of a target).
func gfMetaJSON(p *gfPrepared, res *planner.Result, withNotices bool) []byte {
	return gfMetaJSONWith(p, res, withNotices, "")
}

// gfMetaJSONWith is gfMetaJSON with one more notice, note, unless empty.
func gfMetaJSONWith(p *gfPrepared, res *planner.Result, withNotices bool, note string) []byte {
	m := gfMeta{ExecutedQueryString: p.stmt.String()}
	if note != "" {
		m.Notices = append(m.Notices, gfNotice{"info", note})
	}
	if st := res.Stats; st != nil {
		for _, l := range st.Levels {
			if l.Level == "raw" {
				if l.Points > 0 {
					m.Stats = append(m.Stats, gfStat{"raw points", l.Points})
				}
				if l.Blocks > 0 {
					m.Stats = append(m.Stats, gfStat{"raw block statistics", l.Blocks})
				}
				continue
			}
			if l.Rows > 0 {
				m.Stats = append(m.Stats, gfStat{l.Level + " rollup rows", l.Rows})
			}
		}
		if withNotices {
			for _, n := range st.Notes {
				m.Notices = append(m.Notices, gfNotice{"info", n})
			}
		}
	}
	return marshalNoEscape(m)
}

// marshalNoEscape is json.Marshal without escaping <, > and & (queries are
// full of them).
func marshalNoEscape(v any) []byte {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return []byte("null")
	}
	return []byte(strings.TrimSuffix(b.String(), "\n"))
}

// appendGrafanaFrames appends the frames of one target's result to the
// array in b, which holds n frames so far.
func appendGrafanaFrames(b []byte, n int, p *gfPrepared, res *planner.Result) ([]byte, int) {
	sep := func() {
		if n > 0 {
			b = append(b, ',')
		}
		n++
	}
	if p.table || res.TimeColumn < 0 {
		sep()
		return appendGrafanaTable(b, p, res), n
	}
	nTags := 0
	raw := false
	if sel := p.stmt.Select; sel != nil {
		nTags = len(sel.GroupTags)
		raw = !hasAggregate(sel)
	}
	for i, sr := range grafanaSeries(res, nTags, raw) {
		note := ""
		if raw {
			note = gfDownsample(&sr, p.maxPoints)
		}
		sep()
		b = append(b, `{"target":`...)
		b = appendJSONString(b, gfSeriesName(res.Columns[sr.col], res.Columns[1:1+nTags], sr.tags, p.alias))
		if p.refID != "" {
			b = append(b, `,"refId":`...)
			b = appendJSONString(b, p.refID)
		}
		b = append(b, `,"datapoints":[`...)
		for j := range sr.times {
			if j > 0 {
				b = append(b, ',')
			}
			b = append(b, '[')
			b = appendGrafanaValue(b, sr.vals[j], true)
			b = append(b, ',')
			b = strconv.AppendInt(b, timex.ToUnit(sr.times[j], int64(time.Millisecond)), 10)
			b = append(b, ']')
		}
		b = append(b, `],"meta":`...)
		b = append(b, gfMetaJSONWith(p, res, i == 0, note)...)
		b = append(b, '}')
	}
	return b, n
}

// gfSeriesData is one series of a result: one value column of one tag
// group.
type gfSeriesData struct {
	col   int
	tags  []string
	times []int64
	vals  []model.Value
}

// grafanaSeries splits a result into series: for each value column, one
// series per tag group (groups in ascending order of their tag values).
// Columns 1..nTags hold the GROUP BY tags. A raw select leaves out the
// rows where a column is null (the row lacks that field).
func grafanaSeries(res *planner.Result, nTags int, raw bool) []gfSeriesData {
	type group struct {
		tags []string
		rows []int
	}
	var groups []*group
	index := map[string]*group{}
	for i, row := range res.Rows {
		tags := make([]string, nTags)
		for k := range nTags {
			tags[k] = row[1+k].Str()
		}
		key := strings.Join(tags, "\x00")
		g := index[key]
		if g == nil {
			g = &group{tags: tags}
			index[key] = g
			groups = append(groups, g)
		}
		g.rows = append(g.rows, i)
	}
	slices.SortStableFunc(groups, func(a, b *group) int { return slices.Compare(a.tags, b.tags) })
	var out []gfSeriesData
	for c := 1 + nTags; c < len(res.Columns); c++ {
		if c == res.TimeColumn {
			continue
		}
		for _, g := range groups {
			sr := gfSeriesData{col: c, tags: g.tags}
			for _, i := range g.rows {
				v := res.Rows[i][c]
				if raw && v.IsNull() {
					continue
				}
				sr.times = append(sr.times, res.Rows[i][res.TimeColumn].Int())
				sr.vals = append(sr.vals, v)
			}
			if raw && len(sr.times) == 0 {
				continue
			}
			out = append(out, sr)
		}
	}
	return out
}

// gfSeriesName names a series: the column, then the group's tags as
// {k=v, ...}. An alias replaces the column name; in it $col stands for the
// column name and $tag_<key> for a tag's value, and when it uses any
// $tag_ the {...} part is left off.
func gfSeriesName(col string, keys, tags []string, alias string) string {
	name := col
	suffix := len(keys) > 0
	if alias != "" {
		order := make([]int, len(keys))
		for i := range order {
			order[i] = i
		}
		// Longer keys first, so that $tag_ab is not taken for $tag_a + "b".
		slices.SortFunc(order, func(a, b int) int { return len(keys[b]) - len(keys[a]) })
		name = alias
		for _, i := range order {
			name = strings.ReplaceAll(name, "$tag_"+keys[i], tags[i])
		}
		if strings.Contains(alias, "$tag_") {
			suffix = false
		}
		name = strings.ReplaceAll(name, "$col", col)
	}
	if !suffix {
		return name
	}
	var b strings.Builder
	b.WriteString(name)
	b.WriteString(" {")
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(tags[i])
	}
	b.WriteByte('}')
	return b.String()
}

// appendGrafanaValue appends a value as JSON; in datapoints (numeric) a
// boolean is 1 or 0.
func appendGrafanaValue(b []byte, v model.Value, numeric bool) []byte {
	switch v.Kind {
	case model.KindFloat:
		return appendJSONFloat(b, v.Float())
	case model.KindInt:
		return strconv.AppendInt(b, v.Int(), 10)
	case model.KindUint:
		return strconv.AppendUint(b, v.Uint(), 10)
	case model.KindBool:
		if numeric {
			if v.Bool() {
				return append(b, '1')
			}
			return append(b, '0')
		}
		return strconv.AppendBool(b, v.Bool())
	case model.KindString:
		return appendJSONString(b, v.Str())
	}
	return append(b, "null"...)
}

// appendGrafanaTable appends a result as a table: times in epoch
// milliseconds, column types time, number, string or boolean.
func appendGrafanaTable(b []byte, p *gfPrepared, res *planner.Result) []byte {
	b = append(b, `{"type":"table"`...)
	if p.refID != "" {
		b = append(b, `,"refId":`...)
		b = appendJSONString(b, p.refID)
	}
	b = append(b, `,"columns":[`...)
	for c, name := range res.Columns {
		if c > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"text":`...)
		b = appendJSONString(b, name)
		b = append(b, `,"type":"`...)
		b = append(b, gfColumnType(p, res, c)...)
		b = append(b, `"}`...)
	}
	b = append(b, `],"rows":[`...)
	for i, row := range res.Rows {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '[')
		for c, v := range row {
			if c > 0 {
				b = append(b, ',')
			}
			if c == res.TimeColumn && v.Kind == model.KindInt {
				b = strconv.AppendInt(b, timex.ToUnit(v.Int(), int64(time.Millisecond)), 10)
				continue
			}
			b = appendGrafanaValue(b, v, false)
		}
		b = append(b, ']')
	}
	b = append(b, `],"meta":`...)
	b = append(b, gfMetaJSON(p, res, true)...)
	return append(b, '}')
}

// gfColumnType is the Grafana field type of column c: from its first
// non-null value, else number for aggregates and string for the rest.
func gfColumnType(p *gfPrepared, res *planner.Result, c int) string {
	if c == res.TimeColumn {
		return "time"
	}
	for _, row := range res.Rows {
		switch row[c].Kind {
		case model.KindFloat, model.KindInt, model.KindUint:
			return "number"
		case model.KindString:
			return "string"
		case model.KindBool:
			return "boolean"
		}
	}
	if sel := p.stmt.Select; sel != nil && !p.stmt.Explain && hasAggregate(sel) && c > len(sel.GroupTags) {
		return "number"
	}
	return "string"
}
