package e2e

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// This file holds the test's own model of what was written: typed values,
// series, points, and the dataset the oracle reads (a map of rows, where a
// row is one series at one timestamp with every field written for it, the
// later write of a field winning). It also encodes points as line protocol
// and as JSON for the write endpoints.

// kind is the kind of a field value, as far as the test uses them.
type kind byte

const (
	kNull kind = iota
	kFloat
	kInt
	kString
	kBool
)

func (k kind) String() string {
	switch k {
	case kFloat:
		return "float"
	case kInt:
		return "integer"
	case kString:
		return "string"
	case kBool:
		return "boolean"
	}
	return "null"
}

// val is one typed value.
type val struct {
	k kind
	f float64
	i int64
	s string
	b bool
}

func fv(f float64) val { return val{k: kFloat, f: f} }
func iv(i int64) val   { return val{k: kInt, i: i} }
func sv(s string) val  { return val{k: kString, s: s} }
func bv(b bool) val    { return val{k: kBool, b: b} }

func (v val) String() string {
	switch v.k {
	case kFloat:
		return strconv.FormatFloat(v.f, 'g', -1, 64)
	case kInt:
		return strconv.FormatInt(v.i, 10)
	case kString:
		return strconv.Quote(v.s)
	case kBool:
		return strconv.FormatBool(v.b)
	}
	return "null"
}

// tag is one tag of a series.
type tag struct{ key, value string }

// series is one series: a collection and its tags, sorted by key.
type series struct {
	coll string
	tags []tag
	key  string // collection,k=v,... (the test's tag values need no escaping)
}

func newSeries(coll string, kv ...string) *series {
	s := &series{coll: coll}
	for i := 0; i+1 < len(kv); i += 2 {
		s.tags = append(s.tags, tag{kv[i], kv[i+1]})
	}
	sort.Slice(s.tags, func(i, j int) bool { return s.tags[i].key < s.tags[j].key })
	var b strings.Builder
	b.WriteString(coll)
	for _, t := range s.tags {
		b.WriteString("," + t.key + "=" + t.value)
	}
	s.key = b.String()
	return s
}

// tagValue returns the value of a tag, "" when the series lacks it.
func (s *series) tagValue(key string) string {
	for _, t := range s.tags {
		if t.key == key {
			return t.value
		}
	}
	return ""
}

// hasTag reports whether the series has the tag.
func (s *series) hasTag(key string) bool {
	for _, t := range s.tags {
		if t.key == key {
			return true
		}
	}
	return false
}

// point is one point as written.
type point struct {
	s      *series
	t      int64
	fields map[string]val
}

// batch is one write request.
type batch struct {
	json   bool
	points []point
}

// lineProtocol encodes the batch as line protocol with ns timestamps.
func (b batch) lineProtocol() string {
	var sb strings.Builder
	for _, p := range b.points {
		sb.WriteString(p.s.coll)
		for _, t := range p.s.tags {
			sb.WriteString("," + t.key + "=" + t.value)
		}
		sb.WriteByte(' ')
		for i, k := range sortedKeys(p.fields) {
			if i > 0 {
				sb.WriteByte(',')
			}
			v := p.fields[k]
			sb.WriteString(k + "=")
			switch v.k {
			case kFloat:
				sb.WriteString(floatLiteral(v.f))
			case kInt:
				sb.WriteString(strconv.FormatInt(v.i, 10) + "i")
			case kString:
				sb.WriteString(`"` + v.s + `"`)
			case kBool:
				sb.WriteString(strconv.FormatBool(v.b))
			}
		}
		sb.WriteString(" " + strconv.FormatInt(p.t, 10) + "\n")
	}
	return sb.String()
}

// jsonBody encodes the batch as a JSON array of write objects. Only
// floats, strings and bools can be written this way.
func (b batch) jsonBody() ([]byte, error) {
	type obj struct {
		Collection string            `json:"collection"`
		Tags       map[string]string `json:"tags,omitempty"`
		Time       string            `json:"time"`
		Fields     map[string]any    `json:"fields"`
	}
	objs := make([]obj, 0, len(b.points))
	for _, p := range b.points {
		o := obj{Collection: p.s.coll, Time: time.Unix(0, p.t).UTC().Format(time.RFC3339Nano), Fields: map[string]any{}}
		if len(p.s.tags) > 0 {
			o.Tags = map[string]string{}
			for _, t := range p.s.tags {
				o.Tags[t.key] = t.value
			}
		}
		for k, v := range p.fields {
			switch v.k {
			case kFloat:
				o.Fields[k] = v.f
			case kString:
				o.Fields[k] = v.s
			case kBool:
				o.Fields[k] = v.b
			default:
				return nil, fmt.Errorf("field %s of kind %s cannot be written as JSON", k, v.k)
			}
		}
		objs = append(objs, o)
	}
	return json.Marshal(objs)
}

// floatLiteral formats f so that it reads back as the same float and always
// has a '.', so no reader can take it for an integer.
func floatLiteral(f float64) string {
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.ContainsAny(s, ".eE") {
		s += ".0"
	}
	return s
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// row is one series at one timestamp with every field written for it.
type row struct {
	s *series
	t int64
	f map[string]val
}

// dataset is everything written so far, as the oracle sees it.
type dataset struct {
	rows   map[string]*row            // by series key + "@" + time
	fields map[string]map[string]kind // collection -> field -> kind
}

func newDataset() *dataset {
	return &dataset{rows: map[string]*row{}, fields: map[string]map[string]kind{}}
}

// apply records a write: for each point, each of its fields replaces the
// value the row had for that field; the row keeps its other fields.
func (d *dataset) apply(b batch) {
	for _, p := range b.points {
		k := p.s.key + "@" + strconv.FormatInt(p.t, 10)
		r := d.rows[k]
		if r == nil {
			r = &row{s: p.s, t: p.t, f: map[string]val{}}
			d.rows[k] = r
		}
		if d.fields[p.s.coll] == nil {
			d.fields[p.s.coll] = map[string]kind{}
		}
		for name, v := range p.fields {
			r.f[name] = v
			d.fields[p.s.coll][name] = v.k
		}
	}
}

// collRows returns the rows of a collection sorted by time, then series key.
func (d *dataset) collRows(coll string) []*row {
	var out []*row
	for _, r := range d.rows {
		if r.s.coll == coll {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].t != out[j].t {
			return out[i].t < out[j].t
		}
		return out[i].s.key < out[j].s.key
	})
	return out
}

// tagKeys returns the sorted tag keys used by any series of a collection.
func (d *dataset) tagKeys(coll string) []string {
	seen := map[string]bool{}
	for _, r := range d.rows {
		if r.s.coll == coll {
			for _, t := range r.s.tags {
				seen[t.key] = true
			}
		}
	}
	return sortedKeys(seen)
}
