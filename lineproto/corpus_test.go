package lineproto

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"testing"

	"github.com/soltixdb/soltix/model"
)

// The conformance corpus of InfluxData's reference decoder
// (github.com/influxdata/line-protocol, MIT licence).
const (
	corpusEnv   = "SOLTIX_LP_CORPUS"
	corpusPath  = "../../shared/testdata/line-protocol-corpus/corpus.json"
	decodeCases = 6615
	encodeCases = 115
)

type corpus struct {
	Decode map[string]corpusDecode `json:"decode"`
	Encode map[string]corpusEncode `json:"encode"`
}

type corpusDecode struct {
	Input struct {
		Text        json.RawMessage `json:"text"` // a string or {"binary": base64}
		DefaultTime json.Number     `json:"defaultTime"`
		Precision   string          `json:"precision"`
	} `json:"input"`
	Output struct {
		Error  *string       `json:"error"`
		Result []corpusPoint `json:"result"`
	} `json:"output"`
}

type corpusEncode struct {
	Input struct {
		Point     corpusPoint `json:"point"`
		Precision string      `json:"precision"`
	} `json:"input"`
	Output struct {
		Error  *string `json:"error"`
		Result *string `json:"result"`
	} `json:"output"`
}

type corpusPoint struct {
	Time   json.Number `json:"time"`
	Name   string      `json:"name"`
	Tags   []model.Tag `json:"tags"`
	Fields []struct {
		Key   string                     `json:"key"`
		Value map[string]json.RawMessage `json:"value"`
	} `json:"fields"`
}

// loadCorpus reads the corpus, skipping the test (or failing it on CI) when
// the file is missing.
func loadCorpus(t *testing.T) *corpus {
	t.Helper()
	path := os.Getenv(corpusEnv)
	if path == "" {
		path = corpusPath
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		abs, _ := filepath.Abs(path)
		msg := fmt.Sprintf("line-protocol corpus not found at %s (set %s to its path)", abs, corpusEnv)
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	if err != nil {
		t.Fatalf("read corpus: %v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var c corpus
	if err := dec.Decode(&c); err != nil {
		t.Fatalf("decode corpus %s: %v", path, err)
	}
	return &c
}

// text returns the input bytes of a decode case.
func (c *corpusDecode) text(t *testing.T) []byte {
	t.Helper()
	var s string
	if err := json.Unmarshal(c.Input.Text, &s); err == nil {
		return []byte(s)
	}
	var bin struct {
		Binary string `json:"binary"`
	}
	if err := json.Unmarshal(c.Input.Text, &bin); err != nil {
		t.Fatalf("input text %s: %v", c.Input.Text, err)
	}
	b, err := base64.StdEncoding.DecodeString(bin.Binary)
	if err != nil {
		t.Fatalf("input binary %q: %v", bin.Binary, err)
	}
	return b
}

// point converts a corpus point to a model.Point with sorted tags.
func (cp *corpusPoint) point(t *testing.T) model.Point {
	t.Helper()
	tm, err := strconv.ParseInt(cp.Time.String(), 10, 64)
	if err != nil {
		t.Fatalf("corpus time %q: %v", cp.Time, err)
	}
	p := model.Point{Collection: cp.Name, Time: tm}
	if len(cp.Tags) > 0 {
		p.Tags = append(model.Tags(nil), cp.Tags...)
		sort.SliceStable(p.Tags, func(i, j int) bool { return p.Tags[i].Key < p.Tags[j].Key })
	}
	for _, f := range cp.Fields {
		if len(f.Value) != 1 {
			t.Fatalf("corpus field %q: want one typed value, got %v", f.Key, f.Value)
		}
		var v model.Value
		for kind, raw := range f.Value {
			var err error
			switch kind {
			case "float":
				var x float64
				x, err = strconv.ParseFloat(string(raw), 64)
				v = model.Float(x)
			case "int":
				var x int64
				x, err = strconv.ParseInt(string(raw), 10, 64)
				v = model.Int(x)
			case "uint":
				var x uint64
				x, err = strconv.ParseUint(string(raw), 10, 64)
				v = model.Uint(x)
			case "string":
				var x string
				err = json.Unmarshal(raw, &x)
				v = model.String(x)
			case "bool":
				var x bool
				err = json.Unmarshal(raw, &x)
				v = model.Bool(x)
			default:
				err = fmt.Errorf("unknown kind %q", kind)
			}
			if err != nil {
				t.Fatalf("corpus field %q value %s: %v", f.Key, raw, err)
			}
		}
		p.Fields = append(p.Fields, model.Field{Key: f.Key, Value: v})
	}
	return p
}

// diffPoints describes how got differs from want, or returns "".
func diffPoints(got, want []model.Point) string {
	if len(got) != len(want) {
		return fmt.Sprintf("%d points, want %d:\n got %v\nwant %v", len(got), len(want), got, want)
	}
	for i := range got {
		if d := diffPoint(&got[i], &want[i]); d != "" {
			return fmt.Sprintf("point %d: %s", i, d)
		}
	}
	return ""
}

func diffPoint(got, want *model.Point) string {
	switch {
	case got.Collection != want.Collection:
		return fmt.Sprintf("collection %q, want %q", got.Collection, want.Collection)
	case !got.Tags.Equal(want.Tags):
		return fmt.Sprintf("tags %q, want %q", got.Tags, want.Tags)
	case got.Time != want.Time:
		return fmt.Sprintf("time %d, want %d", got.Time, want.Time)
	case len(got.Fields) != len(want.Fields):
		return fmt.Sprintf("fields %v, want %v", got.Fields, want.Fields)
	}
	for i := range got.Fields {
		g, w := got.Fields[i], want.Fields[i]
		if g.Key != w.Key || !valuesEqual(g.Value, w.Value) {
			return fmt.Sprintf("field %d is %q=%s (%s), want %q=%s (%s)", i, g.Key, g.Value, g.Value.Kind, w.Key, w.Value, w.Value.Kind)
		}
	}
	return ""
}

// valuesEqual compares values bit for bit, except that any NaN equals any
// other NaN.
func valuesEqual(a, b model.Value) bool {
	if a.Kind == model.KindFloat && b.Kind == model.KindFloat && a.Float() != a.Float() && b.Float() != b.Float() {
		return true
	}
	return a.Equal(b)
}

func TestCorpusDecode(t *testing.T) {
	c := loadCorpus(t)
	keys := make([]string, 0, len(c.Decode))
	for k := range c.Decode {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	ran := 0
	for _, key := range keys {
		tc := c.Decode[key]
		ran++
		t.Run(key, func(t *testing.T) {
			input := tc.text(t)
			prec, err := ParsePrecision(tc.Input.Precision)
			if err != nil {
				t.Fatalf("precision: %v", err)
			}
			def, err := strconv.ParseInt(tc.Input.DefaultTime.String(), 10, 64)
			if err != nil {
				t.Fatalf("default time %q: %v", tc.Input.DefaultTime, err)
			}
			got, lines, errs := Parse(input, prec, def)
			if tc.Output.Error != nil {
				if len(errs) == 0 {
					t.Errorf("input %q: got points %v and no error, want error %q", input, got, *tc.Output.Error)
				}
				return
			}
			if len(errs) > 0 {
				t.Errorf("input %q: got errors %v, want points", input, errs)
				return
			}
			if len(lines) != len(got) {
				t.Errorf("input %q: got %d line numbers for %d points", input, len(lines), len(got))
			}
			want := make([]model.Point, len(tc.Output.Result))
			for i := range tc.Output.Result {
				want[i] = tc.Output.Result[i].point(t)
			}
			if d := diffPoints(got, want); d != "" {
				t.Errorf("input %q: got %s", input, d)
			}
			roundTrip(t, input, got)
		})
	}
	if ran != decodeCases {
		t.Errorf("ran %d decode cases, want %d", ran, decodeCases)
	}
}

// roundTrip checks that points encode and decode back to equal points and
// that Validate accepts them.
func roundTrip(t *testing.T, input []byte, points []model.Point) {
	t.Helper()
	var buf []byte
	wantLines := make([]int, len(points))
	for i := range points {
		if err := Validate(&points[i]); err != nil {
			t.Errorf("input %q: Validate(point %d) = %v, want nil", input, i, err)
		}
		wantLines[i] = bytes.Count(buf, []byte{'\n'}) + 1
		buf = AppendPoint(buf, &points[i])
	}
	again, lines, errs := Parse(buf, Nanosecond, 0)
	if len(errs) > 0 {
		t.Errorf("input %q: encoded as %q, which gives errors %v", input, buf, errs)
		return
	}
	if d := diffPoints(again, points); d != "" {
		t.Errorf("input %q: encoded as %q, which decodes to %s", input, buf, d)
	}
	for i, l := range lines {
		if l != wantLines[i] {
			t.Errorf("input %q: encoded as %q, whose point %d is on line %d, want %d", input, buf, i, l, wantLines[i])
		}
	}
}

func TestCorpusEncode(t *testing.T) {
	c := loadCorpus(t)
	keys := make([]string, 0, len(c.Encode))
	for k := range c.Encode {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	ran := 0
	for _, key := range keys {
		tc := c.Encode[key]
		ran++
		t.Run(key, func(t *testing.T) {
			if tc.Input.Precision != "1ns" {
				t.Skipf("precision %q: AppendPoint always writes nanoseconds", tc.Input.Precision)
			}
			p := tc.Input.Point.point(t)
			verr := Validate(&p)
			if tc.Output.Error != nil {
				if verr == nil {
					t.Errorf("point %+v: Validate = nil, want an error like %q", p, *tc.Output.Error)
				}
				return
			}
			if verr != nil {
				t.Errorf("point %+v: Validate = %v, want nil", p, verr)
			}
			got := string(AppendPoint(nil, &p))
			if want := *tc.Output.Result + "\n"; got != want {
				t.Errorf("point %+v: got %q, want %q", p, got, want)
			}
			roundTrip(t, []byte(got), []model.Point{p})
		})
	}
	if ran != encodeCases {
		t.Errorf("ran %d encode cases, want %d", ran, encodeCases)
	}
}
