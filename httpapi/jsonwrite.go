package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/valyala/fastjson"

	"github.com/soltixdb/soltix/internal/timex"
	"github.com/soltixdb/soltix/lineproto"
	"github.com/soltixdb/soltix/model"
)

// parsers recycles JSON parsers. Nothing decoded keeps memory of a parser
// after decodeJSON returns: every string is copied.
var parsers fastjson.ParserPool

// decodeJSON turns a JSON write body (one object or an array of objects)
// into points. lines[i] is the 1-based index of the object points[i] came
// from. Every bad object is reported in bad with its index as Line and
// Column 0. A body that is not JSON at all, or has a string that is not
// valid Unicode (parseJSON), is reported in syntax, with the line and
// column of the offending byte of the text; a body that is JSON
// but neither an object nor an array is reported in err. check, when not
// nil, is applied to every point decoded without problems and returns its
// problem (a type clash, say) or "".
func decodeJSON(body []byte, defaultCollection string, precNanos, now int64, check func(*model.Point) string) (points []model.Point, lines []int, bad []badLine, syntax *badLine, err error) {
	p := parsers.Get()
	defer parsers.Put(p)
	v, syntax := parseJSON(p, body)
	if syntax != nil {
		return nil, nil, nil, syntax, nil
	}
	var objs []*fastjson.Value
	switch v.Type() {
	case fastjson.TypeObject:
		objs = []*fastjson.Value{v}
	case fastjson.TypeArray:
		objs, _ = v.Array()
	default:
		return nil, nil, nil, nil, fmt.Errorf("JSON body is a %s: want an object or an array of objects", v.Type())
	}
	points = make([]model.Point, 0, len(objs))
	lines = make([]int, 0, len(objs))
	for i, o := range objs {
		pt, reason := decodeJSONPoint(o, defaultCollection, precNanos, now)
		if reason == "" {
			reason = invalidUTF8(&pt)
		}
		if reason == "" && check != nil {
			reason = check(&pt)
		}
		if reason != "" {
			bad = append(bad, badLine{Line: i + 1, Reason: reason})
			continue
		}
		points = append(points, pt)
		lines = append(lines, i+1)
	}
	return points, lines, bad, nil, nil
}

// decodeJSONPoint decodes one write object; reason is non-empty when the
// object is bad.
func decodeJSONPoint(v *fastjson.Value, defaultCollection string, precNanos, now int64) (pt model.Point, reason string) {
	o, err := v.Object()
	if err != nil {
		return pt, fmt.Sprintf("element is a %s, want an object", v.Type())
	}
	vals, problem := objectKeys(o, "collection", "device_id", "tags", "time", "fields")
	if problem != "" {
		return pt, problem
	}
	collection, deviceID, tags, tm, fields := vals[0], vals[1], vals[2], vals[3], vals[4]

	pt.Collection = defaultCollection
	if collection != nil {
		s, err := collection.StringBytes()
		if err != nil {
			return pt, fmt.Sprintf("collection is a %s, want a string", collection.Type())
		}
		pt.Collection = string(s)
	}
	if pt.Collection == "" {
		return pt, "missing collection: set \"collection\" or the collection query parameter"
	}

	if tags != nil {
		if pt.Tags, problem = decodeTags(tags, `tag key "time" is reserved for the timestamp`); problem != "" {
			return pt, problem
		}
	}
	if deviceID != nil {
		s, err := deviceID.StringBytes()
		if err != nil {
			return pt, fmt.Sprintf("device_id is a %s, want a string", deviceID.Type())
		}
		pt.Tags = append(pt.Tags, model.Tag{Key: "device_id", Value: string(s)})
	}
	if problem = sortTags(pt.Tags); problem != "" {
		return pt, problem
	}
	if len(pt.Tags) > model.MaxTagsPerPoint {
		return pt, fmt.Sprintf("more than %d tags (max tags per point)", model.MaxTagsPerPoint)
	}
	if n := model.SeriesKeyLen(pt.Collection, pt.Tags); n > model.MaxSeriesKeyBytes {
		return pt, fmt.Sprintf("series key (collection name and tags) of %d bytes is longer than %d bytes (max series key size)", n, model.MaxSeriesKeyBytes)
	}

	pt.Time = now
	if tm != nil {
		t, reason := decodeJSONTime(tm, precNanos)
		if reason != "" {
			return pt, reason
		}
		pt.Time = t
	}

	if fields == nil {
		return pt, "missing fields"
	}
	fo, err := fields.Object()
	if err != nil {
		return pt, fmt.Sprintf("fields is a %s, want an object", fields.Type())
	}
	// Repeated keys are found with a set once there are more than a few,
	// so that a point with many fields costs linear time.
	var seen map[string]struct{}
	fo.Visit(func(key []byte, val *fastjson.Value) {
		if problem != "" {
			return
		}
		if problem = keyProblem("field", key); problem != "" {
			return
		}
		if string(key) == "time" {
			problem = `field key "time" is reserved for the timestamp`
			return
		}
		if len(pt.Fields) == model.MaxFieldsPerPoint {
			problem = fmt.Sprintf("more than %d fields (max fields per point)", model.MaxFieldsPerPoint)
			return
		}
		repeated := false
		if seen == nil && len(pt.Fields) < 16 {
			for _, f := range pt.Fields {
				repeated = repeated || f.Key == string(key)
			}
		} else {
			if seen == nil {
				seen = make(map[string]struct{}, 2*len(pt.Fields))
				for _, f := range pt.Fields {
					seen[f.Key] = struct{}{}
				}
			}
			_, repeated = seen[string(key)]
			seen[string(key)] = struct{}{}
		}
		if repeated {
			problem = fmt.Sprintf("field %q given twice", key)
			return
		}
		var fv model.Value
		switch val.Type() {
		case fastjson.TypeNumber:
			f, err := val.Float64()
			if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
				problem = fmt.Sprintf("field %q: bad number %s", key, val)
				return
			}
			fv = model.Float(f)
		case fastjson.TypeTrue:
			fv = model.Bool(true)
		case fastjson.TypeFalse:
			fv = model.Bool(false)
		case fastjson.TypeString:
			s, _ := val.StringBytes()
			fv = model.String(string(s))
		default:
			problem = fmt.Sprintf("field %q is %s: want a number, boolean or string", key, val.Type())
			return
		}
		pt.Fields = append(pt.Fields, model.Field{Key: string(key), Value: fv})
	})
	if problem != "" {
		return pt, problem
	}
	if len(pt.Fields) == 0 {
		return pt, "no fields: a point needs at least one"
	}
	return pt, ""
}

// decodeJSONTime reads a time: an RFC 3339 string or an integer in units of
// precNanos nanoseconds.
func decodeJSONTime(v *fastjson.Value, precNanos int64) (int64, string) {
	switch v.Type() {
	case fastjson.TypeString:
		s, _ := v.StringBytes()
		t, err := time.Parse(time.RFC3339Nano, string(s))
		if err != nil {
			return 0, fmt.Sprintf("time %q is not RFC 3339", s)
		}
		n, ok := timex.FromTime(t)
		if !ok {
			return 0, fmt.Sprintf("time %q is %s", s, timex.RangeText)
		}
		return n, ""
	case fastjson.TypeNumber:
		n, err := v.Int64()
		if err != nil {
			return 0, fmt.Sprintf("time %s is not an integer", v)
		}
		if precNanos <= 0 {
			precNanos = 1
		}
		t, ok := timex.FromUnit(n, precNanos)
		if !ok {
			return 0, fmt.Sprintf("time %s at precision %s is %s", v, lineproto.Precision(precNanos), timex.RangeText)
		}
		return t, ""
	}
	return 0, fmt.Sprintf("time is a %s, want an RFC 3339 string or an integer", v.Type())
}

// jsonSyntaxError locates a syntax error in body. fastjson does not report
// offsets, so the body is rescanned with encoding/json's scanner (only on
// this error path) to find the offending byte.
func jsonSyntaxError(body []byte, perr error) *badLine {
	var se *json.SyntaxError
	err := json.Unmarshal(body, new(json.RawMessage))
	if !errors.As(err, &se) {
		// encoding/json accepts what fastjson rejected (e.g. nesting too
		// deep); keep fastjson's message without a position.
		return &badLine{Line: 1, Column: 0, Reason: perr.Error()}
	}
	// Offset counts the bytes read before the error, including the bad one.
	off := int(se.Offset) - 1
	if off < 0 {
		off = 0
	}
	if off > len(body) {
		off = len(body)
	}
	line := 1 + bytes.Count(body[:off], []byte{'\n'})
	col := off - bytes.LastIndexByte(body[:off], '\n')
	return &badLine{Line: line, Column: col, Reason: se.Error()}
}

// invalidUTF8 names the first string of a point that is not valid UTF-8
// (line protocol refuses those too), or returns "".
func invalidUTF8(p *model.Point) string {
	if !utf8.ValidString(p.Collection) {
		return fmt.Sprintf("collection %q is not valid UTF-8", p.Collection)
	}
	for _, t := range p.Tags {
		if !utf8.ValidString(t.Key) || !utf8.ValidString(t.Value) {
			return fmt.Sprintf("tag %q=%q is not valid UTF-8", t.Key, t.Value)
		}
	}
	for _, f := range p.Fields {
		if !utf8.ValidString(f.Key) || (f.Value.Kind == model.KindString && !utf8.ValidString(f.Value.Str())) {
			return fmt.Sprintf("field %q is not valid UTF-8", f.Key)
		}
	}
	return ""
}

// objectKeys returns the values of an object's keys in the order of want
// (nil for a missing key), or a problem naming an unknown or repeated key:
// write and admin bodies are strict, so a typo is an error, not ignored.
func objectKeys(o *fastjson.Object, want ...string) (vals []*fastjson.Value, problem string) {
	vals = make([]*fastjson.Value, len(want))
	o.Visit(func(key []byte, val *fastjson.Value) {
		if problem != "" {
			return
		}
		i := slices.Index(want, string(key))
		switch {
		case i < 0:
			problem = fmt.Sprintf("unknown key %q (want %s)", key, strings.Join(want, ", "))
		case vals[i] != nil:
			problem = fmt.Sprintf("duplicate key %q", key)
		default:
			vals[i] = val
		}
	})
	return vals, problem
}

// decodeTags reads a JSON object of string tag values; timeReason is the
// problem reported for a tag named "time". The tags come back unsorted.
func decodeTags(v *fastjson.Value, timeReason string) (tags model.Tags, problem string) {
	o, err := v.Object()
	if err != nil {
		return nil, fmt.Sprintf("tags is a %s, want an object of strings", v.Type())
	}
	o.Visit(func(key []byte, val *fastjson.Value) {
		if problem != "" {
			return
		}
		s, err := val.StringBytes()
		switch {
		case keyProblem("tag", key) != "":
			problem = keyProblem("tag", key)
		case len(tags) == model.MaxTagsPerPoint:
			problem = fmt.Sprintf("more than %d tags (max tags per point)", model.MaxTagsPerPoint)
		case string(key) == "time":
			problem = timeReason
		case err != nil:
			problem = fmt.Sprintf("tag %q is a %s, want a string", key, val.Type())
		default:
			tags = append(tags, model.Tag{Key: string(key), Value: string(s)})
		}
	})
	return tags, problem
}

// keyProblem checks a tag or field key: not empty and not over
// model.MaxKeyBytes.
func keyProblem(what string, key []byte) string {
	switch {
	case len(key) == 0:
		return "empty " + what + " key"
	case len(key) > model.MaxKeyBytes:
		return fmt.Sprintf("%s key of %d bytes is longer than %d bytes (max key size)", what, len(key), model.MaxKeyBytes)
	}
	return ""
}

// sortTags sorts tags by key and reports a key given twice.
func sortTags(tags model.Tags) (problem string) {
	tags.Sort()
	for i := 1; i < len(tags); i++ {
		if tags[i].Key == tags[i-1].Key {
			return fmt.Sprintf("tag %q given twice", tags[i].Key)
		}
	}
	return ""
}
