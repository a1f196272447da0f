package httpapi

import (
	"encoding/json"
	"math"
	"reflect"
	"sort"
	"testing"

	"github.com/soltixdb/soltix/model"
)

// FuzzDecodeJSON feeds arbitrary bodies to the JSON write decoder. It must
// never panic; every point it accepts must be well formed; and the accepted
// points, written back as JSON, must decode to the same points.
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{
		`{"collection":"c","device_id":"d1","tags":{"site":"n"},"time":"2026-01-01T00:00:00Z","fields":{"v":1.5,"ok":true,"s":"x"}}`,
		`[{"fields":{"v":1}},{"time":1700000000,"fields":{"v":-2e300}}]`,
		`[{"fields":{}},{"tags":{"a":1},"fields":{"v":1}},5,"x",null]`,
		`{"collection":"c","fields":{"v":1},"extra":1}`,
		`[{"collection":"a\u0000b","tags":{"k\"":"v\\"},"fields":{"\u00e9":"\ud83d\ude00"}}]`,
		`[{"fields":{"v":1}`,
		`{"time":"2026-13-01","fields":{"v":1}}`,
		`{"collection":"c","tags":{"k":"\ud800"},"fields":{"v":1}}`,
		`{"device_id":"\udc00x","fields":{"s":"\ud800\u0041"}}`,
		`{"fields":{"k\x":"\u12"}}`,
		`[{"fields":{"v":1}},{"tags":{"\ud83d\ude00":"\\ud800"},"fields":{"s":"a\u0001"}}]`,
		"{\"fields\":{\"s\":\"a\tb\"}}",
	} {
		f.Add([]byte(s), "dflt")
	}
	const now = 1_767_225_600_000_000_000
	f.Fuzz(func(t *testing.T, body []byte, dflt string) {
		points, lines, bad, syntax, err := decodeJSON(body, dflt, 1, now, nil)
		if syntax != nil || err != nil {
			if len(points) != 0 {
				t.Fatalf("%q: error and points together", body)
			}
			return
		}
		if len(points) != len(lines) {
			t.Fatalf("%q: %d points but %d lines", body, len(points), len(lines))
		}
		for i, p := range points {
			if p.Collection == "" || len(p.Fields) == 0 {
				t.Fatalf("%q: point %d has no collection or no field: %+v", body, i, p)
			}
			if !sort.SliceIsSorted(p.Tags, func(a, b int) bool { return p.Tags[a].Key < p.Tags[b].Key }) {
				t.Fatalf("%q: tags not sorted: %v", body, p.Tags)
			}
			for _, fl := range p.Fields {
				if fv, ok := fl.Value.AsFloat(); ok && (math.IsNaN(fv) || math.IsInf(fv, 0)) {
					t.Fatalf("%q: accepted non-finite %v", body, fv)
				}
			}
			if i > 0 && lines[i] <= lines[i-1] {
				t.Fatalf("%q: lines not increasing: %v", body, lines)
			}
		}
		for _, b := range bad {
			if b.Reason == "" || b.Line < 1 {
				t.Fatalf("%q: bad line without reason or number: %+v", body, b)
			}
		}
		if len(points) == 0 {
			return
		}
		checkStringsAsEncodingJSON(t, body, dflt, points, lines)
		// Round trip through our own JSON encoding of the points.
		objs := make([]map[string]any, len(points))
		for i, p := range points {
			tags := map[string]string{}
			for _, tg := range p.Tags {
				tags[tg.Key] = tg.Value
			}
			fields := map[string]any{}
			for _, fl := range p.Fields {
				fields[fl.Key] = fl.Value.Interface()
			}
			objs[i] = map[string]any{"collection": p.Collection, "tags": tags, "time": p.Time, "fields": fields}
		}
		again, err := json.Marshal(objs)
		if err != nil {
			t.Fatal(err)
		}
		points2, _, bad2, syntax2, err2 := decodeJSON(again, "", 1, now, nil)
		if syntax2 != nil || err2 != nil || len(bad2) != 0 {
			t.Fatalf("%q: re-encoded %s rejected: %v %v %v", body, again, syntax2, err2, bad2)
		}
		norm := func(ps []model.Point) []model.Point {
			out := make([]model.Point, len(ps))
			for i, p := range ps {
				q := p
				q.Fields = append([]model.Field(nil), p.Fields...)
				sort.Slice(q.Fields, func(a, b int) bool { return q.Fields[a].Key < q.Fields[b].Key })
				if len(q.Tags) == 0 {
					q.Tags = nil
				}
				out[i] = q
			}
			return out
		}
		if !reflect.DeepEqual(norm(points2), norm(points)) {
			t.Fatalf("%q: round trip\n got %v\nwant %v", body, norm(points2), norm(points))
		}
	})
}

// checkStringsAsEncodingJSON checks that every string of every accepted
// point is the one encoding/json decodes from the same body: no escape was
// kept as literal text or replaced.
func checkStringsAsEncodingJSON(t *testing.T, body []byte, dflt string, points []model.Point, lines []int) {
	t.Helper()
	var doc any
	if json.Unmarshal(body, &doc) != nil {
		// fastjson is lenient about numbers (leading zeros) where
		// encoding/json is not; strings are compared when both read it.
		return
	}
	objs, ok := doc.([]any)
	if !ok {
		objs = []any{doc}
	}
	for i, p := range points {
		o := objs[lines[i]-1].(map[string]any)
		want := dflt
		if c, ok := o["collection"].(string); ok {
			want = c
		}
		if p.Collection != want {
			t.Fatalf("%q: collection %q, encoding/json reads %q", body, p.Collection, want)
		}
		tags := map[string]string{}
		for _, tg := range p.Tags {
			tags[tg.Key] = tg.Value
		}
		wantTags, _ := o["tags"].(map[string]any)
		if d, ok := o["device_id"].(string); ok {
			if tags["device_id"] != d {
				t.Fatalf("%q: device_id %q, encoding/json reads %q", body, tags["device_id"], d)
			}
			if _, both := wantTags["device_id"]; !both {
				delete(tags, "device_id")
			}
		}
		if len(tags) != len(wantTags) {
			t.Fatalf("%q: tags %v, encoding/json reads %v", body, tags, wantTags)
		}
		for k, v := range wantTags {
			if got, ok := tags[k]; !ok || got != v {
				t.Fatalf("%q: tag %q=%q, encoding/json reads %q", body, k, got, v)
			}
		}
		wantFields := o["fields"].(map[string]any)
		for _, f := range p.Fields {
			wv, ok := wantFields[f.Key]
			if !ok {
				t.Fatalf("%q: field key %q not in encoding/json's %v", body, f.Key, wantFields)
			}
			if f.Value.Kind == model.KindString && f.Value.Str() != wv {
				t.Fatalf("%q: field %q=%q, encoding/json reads %q", body, f.Key, f.Value.Str(), wv)
			}
		}
	}
}
