package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/planner"
	"github.com/soltixdb/soltix/query"
)

// stubExecutor replaces planner.Execute: it records what it was asked and
// answers with a fixed result or error.
type stubExecutor struct {
	mu    sync.Mutex
	stmts []*query.Statement
	nows  []time.Time
	opts  []planner.Options
	res   *planner.Result
	err   error
}

func (e *stubExecutor) execute(ctx context.Context, src planner.Source, stmt *query.Statement, opts planner.Options, sink planner.Sink) (*planner.Stats, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.stmts = append(e.stmts, stmt)
	e.nows = append(e.nows, opts.Now)
	e.opts = append(e.opts, opts)
	if e.err != nil {
		return nil, e.err
	}
	if err := sink.Columns(e.res.Columns, e.res.TimeColumn); err != nil {
		return nil, err
	}
	for _, row := range e.res.Rows {
		if err := sink.Row(row); err != nil {
			return nil, err
		}
	}
	return e.res.Stats, nil
}

// sampleResult has one column of each kind and awkward values.
func sampleResult() *planner.Result {
	return &planner.Result{
		Columns:    []string{"time", "host", "avg(v)", "n", "u", "ok", "s"},
		TimeColumn: 0,
		Rows: [][]model.Value{
			{model.Int(1735689600123456789), model.String("a"), model.Float(1.5), model.Int(-3), model.Uint(math.MaxUint64), model.Bool(true), model.String("x,\"y\"\n")},
			{model.Int(-1500), model.String(""), model.Float(math.NaN()), model.Null, model.Null, model.Bool(false), model.String("é\x01")},
			{model.Int(0), model.String("b"), model.Float(math.Inf(1)), model.Int(0), model.Uint(0), model.Null, model.Null},
			{model.Int(1), model.String("c"), model.Float(1e-7), model.Int(1), model.Uint(1), model.Bool(true), model.String("")},
			{model.Int(2), model.String("d"), model.Float(1e21), model.Int(2), model.Uint(2), model.Bool(true), model.String("<&>")},
		},
	}
}

func TestQueryFormats(t *testing.T) {
	tests := []struct {
		name   string
		target string
		res    *planner.Result
		ctype  string
		want   string
	}{
		{
			name:   "json default",
			target: "/api/v1/query?q=" + url.QueryEscape("SELECT * FROM c"),
			res:    sampleResult(),
			ctype:  "application/json",
			want: `{"columns":["time","host","avg(v)","n","u","ok","s"],"rows":[` +
				`["2025-01-01T00:00:00.123456789Z","a",1.5,-3,18446744073709551615,true,"x,\"y\"\n"],` +
				`["1969-12-31T23:59:59.9999985Z","",null,null,null,false,"é\u0001"],` +
				`["1970-01-01T00:00:00Z","b",null,0,0,null,null],` +
				`["1970-01-01T00:00:00.000000001Z","c",1e-7,1,1,true,""],` +
				`["1970-01-01T00:00:00.000000002Z","d",1e+21,2,2,true,"<&>"]]}` + "\n",
		},
		{
			name:   "json epoch ns",
			target: "/api/v1/query?epoch=ns&q=" + url.QueryEscape("SELECT * FROM c"),
			res:    timeOnly(1735689600123456789, -1500),
			ctype:  "application/json",
			want:   `{"columns":["time"],"rows":[[1735689600123456789],[-1500]]}` + "\n",
		},
		{
			name:   "json epoch us",
			target: "/api/v1/query?epoch=us&q=x",
			res:    timeOnly(1735689600123456789, -1500),
			ctype:  "application/json",
			want:   `{"columns":["time"],"rows":[[1735689600123456],[-1]]}` + "\n",
		},
		{
			name:   "json epoch ms",
			target: "/api/v1/query?epoch=ms&q=x",
			res:    timeOnly(1735689600123456789),
			ctype:  "application/json",
			want:   `{"columns":["time"],"rows":[[1735689600123]]}` + "\n",
		},
		{
			name:   "json epoch s",
			target: "/api/v1/query?epoch=s&q=x",
			res:    timeOnly(1735689600123456789),
			ctype:  "application/json",
			want:   `{"columns":["time"],"rows":[[1735689600]]}` + "\n",
		},
		{
			name:   "json empty result has rows []",
			target: "/api/v1/query?q=x",
			res:    &planner.Result{Columns: []string{"time", "v"}, TimeColumn: 0},
			ctype:  "application/json",
			want:   `{"columns":["time","v"],"rows":[]}` + "\n",
		},
		{
			name:   "no time column",
			target: "/api/v1/query?q=x&epoch=s",
			res:    &planner.Result{Columns: []string{"name"}, TimeColumn: -1, Rows: [][]model.Value{{model.String("cpu")}, {model.String("mem")}}},
			ctype:  "application/json",
			want:   `{"columns":["name"],"rows":[["cpu"],["mem"]]}` + "\n",
		},
		{
			name:   "explicit json",
			target: "/api/v1/query?format=json&q=x",
			res:    &planner.Result{Columns: []string{"count(v)"}, TimeColumn: -1, Rows: [][]model.Value{{model.Int(3)}}},
			ctype:  "application/json",
			want:   `{"columns":["count(v)"],"rows":[[3]]}` + "\n",
		},
		{
			name:   "csv",
			target: "/api/v1/query?format=csv&q=x",
			res:    sampleResult(),
			ctype:  "text/csv; charset=utf-8",
			want: "time,host,avg(v),n,u,ok,s\n" +
				"2025-01-01T00:00:00.123456789Z,a,1.5,-3,18446744073709551615,true,\"x,\"\"y\"\"\n\"\n" +
				"1969-12-31T23:59:59.9999985Z,,,,,false,é\x01\n" +
				"1970-01-01T00:00:00Z,b,,0,0,,\n" +
				"1970-01-01T00:00:00.000000001Z,c,1e-7,1,1,true,\n" +
				"1970-01-01T00:00:00.000000002Z,d,1e+21,2,2,true,<&>\n",
		},
		{
			name:   "csv epoch ms",
			target: "/api/v1/query?format=csv&epoch=ms&q=x",
			res:    timeOnly(1735689600123456789),
			ctype:  "text/csv; charset=utf-8",
			want:   "time\n1735689600123\n",
		},
		{
			name:   "ndjson",
			target: "/api/v1/query?format=ndjson&epoch=s&q=x",
			res:    sampleResult(),
			ctype:  "application/x-ndjson",
			want: `{"columns":["time","host","avg(v)","n","u","ok","s"]}` + "\n" +
				`[1735689600,"a",1.5,-3,18446744073709551615,true,"x,\"y\"\n"]` + "\n" +
				`[0,"",null,null,null,false,"é\u0001"]` + "\n" +
				`[0,"b",null,0,0,null,null]` + "\n" +
				`[0,"c",1e-7,1,1,true,""]` + "\n" +
				`[0,"d",1e+21,2,2,true,"<&>"]` + "\n",
		},
		{
			name:   "ndjson empty",
			target: "/api/v1/query?format=ndjson&q=x",
			res:    &planner.Result{Columns: []string{"time"}, TimeColumn: 0},
			ctype:  "application/x-ndjson",
			want:   `{"columns":["time"]}` + "\n",
		},
		{
			name:   "json times=zone with TZ",
			target: "/api/v1/query?times=zone&q=" + url.QueryEscape("SELECT count(v) FROM c GROUP BY 1d TZ('Europe/Paris')"),
			res:    timeOnly(1743289200000000000, 1743372000000000000), // local midnights of 2025-03-30 and 31
			ctype:  "application/json",
			want:   `{"columns":["time"],"rows":[["2025-03-30T00:00:00+01:00"],["2025-03-31T00:00:00+02:00"]]}` + "\n",
		},
		{
			name:   "json times=utc with TZ",
			target: "/api/v1/query?times=utc&q=" + url.QueryEscape("SELECT count(v) FROM c GROUP BY 1d TZ('Europe/Paris')"),
			res:    timeOnly(1743289200000000000),
			ctype:  "application/json",
			want:   `{"columns":["time"],"rows":[["2025-03-29T23:00:00Z"]]}` + "\n",
		},
		{
			name:   "json times=zone without TZ",
			target: "/api/v1/query?times=zone&q=" + url.QueryEscape("SELECT count(v) FROM c GROUP BY 1d"),
			res:    timeOnly(1743289200000000000),
			ctype:  "application/json",
			want:   `{"columns":["time"],"rows":[["2025-03-29T23:00:00Z"]]}` + "\n",
		},
		{
			name:   "json times=zone with epoch",
			target: "/api/v1/query?times=zone&epoch=s&q=" + url.QueryEscape("SELECT count(v) FROM c GROUP BY 1d TZ('Asia/Kolkata')"),
			res:    timeOnly(1743289200000000000),
			ctype:  "application/json",
			want:   `{"columns":["time"],"rows":[[1743289200]]}` + "\n",
		},
		{
			name:   "csv times=zone with TZ",
			target: "/api/v1/query?format=csv&times=zone&q=" + url.QueryEscape("SELECT count(v) FROM c GROUP BY 1d TZ('Asia/Kolkata')"),
			res:    timeOnly(1743289200000000000),
			ctype:  "text/csv; charset=utf-8",
			want:   "time\n2025-03-30T04:30:00+05:30\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := newTestServer(t, Options{})
			ex := &stubExecutor{res: tt.res}
			s.execute = ex.execute
			// The statement text must parse; "x" does not, so swap it for a
			// real one while keeping the other parameters.
			target := strings.Replace(tt.target, "q=x", "q=SHOW+COLLECTIONS", 1)
			rec := do(s.mux, http.MethodGet, target, nil, nil)
			if rec.Code != http.StatusOK {
				t.Fatalf("GET %s: got %d %s, want 200", target, rec.Code, rec.Body)
			}
			if ct := rec.Header().Get("Content-Type"); ct != tt.ctype {
				t.Errorf("GET %s: Content-Type got %q, want %q", target, ct, tt.ctype)
			}
			if got := rec.Body.String(); got != tt.want {
				t.Errorf("GET %s:\ngot  %s\nwant %s", target, got, tt.want)
			}
			if tt.ctype == "application/json" && !json.Valid(rec.Body.Bytes()) {
				t.Errorf("GET %s: body is not valid JSON: %s", target, rec.Body)
			}
			if len(ex.nows) != 1 || !ex.nows[0].Equal(testNow) {
				t.Errorf("GET %s: executed with now %v, want once with %v", target, ex.nows, testNow)
			}
		})
	}
}

func timeOnly(ts ...int64) *planner.Result {
	r := &planner.Result{Columns: []string{"time"}, TimeColumn: 0}
	for _, t := range ts {
		r.Rows = append(r.Rows, []model.Value{model.Int(t)})
	}
	return r
}

func TestQueryNDJSONLarge(t *testing.T) {
	s, _ := newTestServer(t, Options{})
	res := &planner.Result{Columns: []string{"time", "v"}, TimeColumn: 0}
	for i := range 1000 {
		res.Rows = append(res.Rows, []model.Value{model.Int(int64(i)), model.Float(float64(i))})
	}
	s.execute = (&stubExecutor{res: res}).execute
	rec := do(s.mux, http.MethodGet, "/api/v1/query?format=ndjson&epoch=ns&q=SHOW+COLLECTIONS", nil, nil)
	lines := strings.Split(strings.TrimSuffix(rec.Body.String(), "\n"), "\n")
	if len(lines) != 1001 {
		t.Fatalf("got %d lines, want 1001", len(lines))
	}
	if !rec.Flushed {
		t.Errorf("ndjson response was never flushed")
	}
	if lines[1000] != "[999,999]" {
		t.Errorf("last line: got %q, want [999,999]", lines[1000])
	}
}

// TestQueryJSONSizes: JSON answers built in pooled buffers come out whole
// and exact whatever ran before them: sizes around the write chunk, large
// and small in turn, so that a buffer comes back grown, and concurrently.
func TestQueryJSONSizes(t *testing.T) {
	result := func(n int) *planner.Result {
		res := &planner.Result{Columns: []string{"time", "v"}, TimeColumn: 0}
		for i := range n {
			res.Rows = append(res.Rows, []model.Value{model.Int(int64(i)), model.Float(float64(i) + 0.5)})
		}
		return res
	}
	check := func(n int) error {
		s, _ := newTestServer(t, Options{})
		s.execute = (&stubExecutor{res: result(n)}).execute
		rec := do(s.mux, http.MethodGet, "/api/v1/query?epoch=ns&q=SHOW+COLLECTIONS", nil, nil)
		var got struct {
			Columns []string
			Rows    [][2]float64
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
			return fmt.Errorf("%d rows: %v in %.200q", n, err, rec.Body.String())
		}
		if len(got.Rows) != n {
			return fmt.Errorf("%d rows: got %d", n, len(got.Rows))
		}
		for i, r := range got.Rows {
			if r != [2]float64{float64(i), float64(i) + 0.5} {
				return fmt.Errorf("%d rows: row %d is %v", n, i, r)
			}
		}
		return nil
	}
	sizes := []int{0, 1, 700, 900, 1000, 5000, 3, 20000, 2, 1200}
	for _, n := range sizes {
		if err := check(n); err != nil {
			t.Error(err)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(sizes))
	for _, n := range sizes {
		wg.Go(func() { errs <- check(n) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

func TestQueryRequestForms(t *testing.T) {
	const q = "SELECT v FROM cpu"
	tests := []struct {
		name   string
		method string
		target string
		header http.Header
		body   string
	}{
		{"get", http.MethodGet, "/api/v1/query?q=" + url.QueryEscape(q), nil, ""},
		{"post url", http.MethodPost, "/api/v1/query?q=" + url.QueryEscape(q), nil, ""},
		{"post form", http.MethodPost, "/api/v1/query", hdr("Content-Type", "application/x-www-form-urlencoded"), "epoch=s&q=" + url.QueryEscape(q)},
		{"post text", http.MethodPost, "/api/v1/query?epoch=s", hdr("Content-Type", "text/plain; charset=utf-8"), q},
		{"post sql", http.MethodPost, "/api/v1/query", hdr("Content-Type", "application/sql"), q + "\n"},
		{"post gzip text", http.MethodPost, "/api/v1/query", hdr("Content-Type", "text/plain", "Content-Encoding", "gzip"), string(gzippedStatic(q))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := newTestServer(t, Options{})
			ex := &stubExecutor{res: timeOnly(5e9)}
			s.execute = ex.execute
			rec := do(s.mux, tt.method, tt.target, tt.header, []byte(tt.body))
			if rec.Code != http.StatusOK {
				t.Fatalf("%s %s %q: got %d %s, want 200", tt.method, tt.target, tt.body, rec.Code, rec.Body)
			}
			if len(ex.stmts) != 1 || ex.stmts[0].Select == nil || ex.stmts[0].Select.From != "cpu" {
				t.Fatalf("%s %s %q: executed %v, want one SELECT from cpu", tt.method, tt.target, tt.body, ex.stmts)
			}
			if strings.Contains(tt.target+tt.body, "epoch=s") && !strings.Contains(rec.Body.String(), "[[5]]") {
				t.Errorf("epoch ignored: got %s", rec.Body)
			}
		})
	}
}

// queryErrorBody is the decoded shape of a query error.
type queryErrorBody struct {
	Error    string `json:"error"`
	Position *struct {
		Line   int `json:"line"`
		Column int `json:"column"`
	} `json:"position"`
}

func TestQueryErrors(t *testing.T) {
	tests := []struct {
		name    string
		method  string
		target  string
		header  http.Header
		body    string
		execErr error
		limit   int64
		code    int
		errText string
		pos     [2]int // line, column; zero: no position
	}{
		{name: "missing q", target: "/api/v1/query", code: 400, errText: "missing query"},
		{name: "blank q", target: "/api/v1/query?q=++", code: 400, errText: "missing query"},
		{name: "bad epoch", target: "/api/v1/query?epoch=h&q=SHOW+COLLECTIONS", code: 400, errText: `bad epoch "h"`},
		{name: "bad format", target: "/api/v1/query?format=xml&q=SHOW+COLLECTIONS", code: 400, errText: `bad format "xml"`},
		{name: "bad times", target: "/api/v1/query?times=local&q=SHOW+COLLECTIONS", code: 400, errText: `bad times "local": want utc or zone`},
		{name: "unknown zone", target: "/api/v1/query?q=" + url.QueryEscape("SELECT count(v) FROM c GROUP BY 1d TZ('Mars/Olympus')"), code: 400,
			errText: `1:36: unknown time zone "Mars/Olympus"`, pos: [2]int{1, 36}},
		{name: "syntax error", target: "/api/v1/query?q=" + url.QueryEscape("SELECT v FORM c"), code: 400, errText: `1:10: `, pos: [2]int{1, 10}},
		{name: "syntax error second line", method: http.MethodPost, target: "/api/v1/query", header: hdr("Content-Type", "text/plain"),
			body: "SELECT v\nFORM c", code: 400, errText: "2:1: ", pos: [2]int{2, 1}},
		{name: "planner error with position", target: "/api/v1/query?q=SHOW+COLLECTIONS",
			execErr: &planner.Error{Pos: query.Pos{Offset: 7, Line: 1, Column: 8}, Msg: "sum of string field"}, code: 400, errText: "sum of string field", pos: [2]int{1, 8}},
		{name: "planner error without position", target: "/api/v1/query?q=SHOW+COLLECTIONS",
			execErr: &planner.Error{Msg: "mixing aggregates"}, code: 400, errText: "mixing aggregates"},
		{name: "unknown collection", target: "/api/v1/query?q=" + url.QueryEscape("SELECT v FROM nope"),
			execErr: fmt.Errorf("select: %w", planner.ErrNotFound), code: 404, errText: `collection "nope" not found`},
		{name: "internal error", target: "/api/v1/query?q=SHOW+COLLECTIONS", execErr: errors.New("boom"), code: 500, errText: "boom"},
		{name: "form body over limit", method: http.MethodPost, target: "/api/v1/query", header: hdr("Content-Type", "application/x-www-form-urlencoded"),
			body: "q=" + strings.Repeat("x", 200), limit: 100, code: 413, errText: "too large"},
		{name: "text body over limit", method: http.MethodPost, target: "/api/v1/query", header: hdr("Content-Type", "text/plain"),
			body: strings.Repeat("x", 200), limit: 100, code: 413, errText: "too large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := newTestServer(t, Options{MaxBodyBytes: tt.limit})
			s.execute = (&stubExecutor{res: timeOnly(), err: tt.execErr}).execute
			method := tt.method
			if method == "" {
				method = http.MethodGet
			}
			rec := do(s.mux, method, tt.target, tt.header, []byte(tt.body))
			if rec.Code != tt.code {
				t.Fatalf("%s %s %q: got %d %s, want %d", method, tt.target, tt.body, rec.Code, rec.Body, tt.code)
			}
			var got queryErrorBody
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatalf("body %s: %v", rec.Body, err)
			}
			if !strings.Contains(got.Error, tt.errText) {
				t.Errorf("error: got %q, want it to contain %q", got.Error, tt.errText)
			}
			switch {
			case tt.pos == [2]int{} && got.Position != nil:
				t.Errorf("position: got %+v, want none", *got.Position)
			case tt.pos != [2]int{} && (got.Position == nil || got.Position.Line != tt.pos[0] || got.Position.Column != tt.pos[1]):
				t.Errorf("position: got %s, want line %d column %d", rec.Body, tt.pos[0], tt.pos[1])
			}
			if m := s.metrics.queryErrors.Load(); m != 1 {
				t.Errorf("query errors counted: got %d, want 1", m)
			}
		})
	}
}

// statsResult is a result with Stats: rollup rows of two levels, raw
// points and blocks, a level with nothing counted, and a note.
func statsResult() *planner.Result {
	r := timeOnly(0)
	r.Stats = &planner.Stats{
		Levels: []planner.LevelStats{{Level: "raw", Points: 3, Blocks: 2}, {Level: "1h"}, {Level: "1d", Rows: 30}, {Level: "1M", Rows: 11}},
		Notes:  []string{`raw data before "x" has expired`},
	}
	return r
}

func TestQueryStats(t *testing.T) {
	const stats = `{"levels":[{"level":"raw","points":3,"blocks":2},{"level":"1h"},{"level":"1d","rows":30},{"level":"1M","rows":11}],"notes":["raw data before \"x\" has expired"]}`
	noNotes := statsResult()
	noNotes.Stats.Notes = nil
	noLevels := timeOnly()
	noLevels.Stats = &planner.Stats{}
	for _, tt := range []struct {
		name, target string
		res          *planner.Result
		want         string
	}{
		{"json", "/api/v1/query?epoch=s&q=SHOW+COLLECTIONS", statsResult(), `{"columns":["time"],"rows":[[0]],"stats":` + stats + "}\n"},
		{"json without notes", "/api/v1/query?epoch=s&q=SHOW+COLLECTIONS", noNotes,
			`{"columns":["time"],"rows":[[0]],"stats":{"levels":[{"level":"raw","points":3,"blocks":2},{"level":"1h"},{"level":"1d","rows":30},{"level":"1M","rows":11}]}}` + "\n"},
		{"json no levels", "/api/v1/query?epoch=s&q=SHOW+COLLECTIONS", noLevels, `{"columns":["time"],"rows":[],"stats":{"levels":[]}}` + "\n"},
		{"ndjson", "/api/v1/query?format=ndjson&epoch=s&q=SHOW+COLLECTIONS", statsResult(), `{"columns":["time"]}` + "\n[0]\n" + `{"stats":` + stats + "}\n"},
		{"csv", "/api/v1/query?format=csv&epoch=s&q=SHOW+COLLECTIONS", statsResult(), "time\n0\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := newTestServer(t, Options{})
			s.execute = (&stubExecutor{res: tt.res}).execute
			rec := do(s.mux, http.MethodGet, tt.target, nil, nil)
			if rec.Code != http.StatusOK || rec.Body.String() != tt.want {
				t.Errorf("GET %s: %d\ngot  %s\nwant %s", tt.target, rec.Code, rec.Body, tt.want)
			}
			if tt.name == "ndjson" {
				for _, line := range strings.Split(strings.TrimSpace(rec.Body.String()), "\n") {
					if !json.Valid([]byte(line)) {
						t.Errorf("not valid JSON: %s", line)
					}
				}
			} else if tt.name != "csv" && !json.Valid(rec.Body.Bytes()) {
				t.Errorf("not valid JSON: %s", rec.Body)
			}
		})
	}
}

// TestQueryOptionParams: levels and consistency reach the planner's
// options; a bad value answers 400 naming the parameter and runs nothing.
func TestQueryOptionParams(t *testing.T) {
	levels := func(o planner.Options) bool { return o.RawOnly }
	consistency := func(o planner.Options) bool { return o.AnyReplica }
	for _, tt := range []struct {
		target string
		body   string
		code   int
		opt    func(planner.Options) bool // the option the parameter sets
		want   bool
		bad    string // the 400's message
	}{
		{target: "/api/v1/query?q=SHOW+COLLECTIONS", code: 200, opt: levels},
		{target: "/api/v1/query?levels=auto&q=SHOW+COLLECTIONS", code: 200, opt: levels},
		{target: "/api/v1/query?levels=raw&q=SHOW+COLLECTIONS", code: 200, opt: levels, want: true},
		{body: "levels=raw&q=SHOW+COLLECTIONS", code: 200, opt: levels, want: true},
		{target: "/api/v1/query?levels=1h&q=SHOW+COLLECTIONS", code: 400, bad: "bad levels"},
		{target: "/api/v1/query?levels=RAW&q=SHOW+COLLECTIONS", code: 400, bad: "bad levels"},
		{target: "/api/v1/query?q=SHOW+COLLECTIONS", code: 200, opt: consistency},
		{target: "/api/v1/query?consistency=primary&q=SHOW+COLLECTIONS", code: 200, opt: consistency},
		{target: "/api/v1/query?consistency=any&q=SHOW+COLLECTIONS", code: 200, opt: consistency, want: true},
		{body: "consistency=any&q=SHOW+COLLECTIONS", code: 200, opt: consistency, want: true},
		{target: "/api/v1/query?consistency=ANY&q=SHOW+COLLECTIONS", code: 400, bad: "bad consistency"},
		{target: "/api/v1/query?consistency=replica&q=SHOW+COLLECTIONS", code: 400, bad: "bad consistency"},
	} {
		s, _ := newTestServer(t, Options{})
		ex := &stubExecutor{res: timeOnly()}
		s.execute = ex.execute
		method, target, header := http.MethodGet, tt.target, http.Header(nil)
		if tt.body != "" {
			method, target, header = http.MethodPost, "/api/v1/query", hdr("Content-Type", "application/x-www-form-urlencoded")
		}
		rec := do(s.mux, method, target, header, []byte(tt.body))
		if rec.Code != tt.code {
			t.Errorf("%s %s %s: got %d %s, want %d", method, target, tt.body, rec.Code, rec.Body, tt.code)
			continue
		}
		if tt.code != 200 {
			if len(ex.opts) != 0 || !strings.Contains(rec.Body.String(), tt.bad) {
				t.Errorf("%s: executed %d times, body %s; want none and %q", target, len(ex.opts), rec.Body, tt.bad)
			}
			continue
		}
		if len(ex.opts) != 1 || tt.opt(ex.opts[0]) != tt.want || !ex.opts[0].Now.Equal(testNow) {
			t.Errorf("%s %s %s: options %+v, want the option %v and now %v", method, target, tt.body, ex.opts, tt.want, testNow)
		}
	}
}

// TestQueryStatsFromPlanner runs a real query against the fake store (raw
// data only) and checks the stats it answers with.
func TestQueryStatsFromPlanner(t *testing.T) {
	s, st := newTestServer(t, Options{})
	if err := st.Write(context.Background(), []model.Point{
		{Collection: "cpu", Tags: model.Tags{{Key: "host", Value: "a"}}, Time: 1, Fields: []model.Field{{Key: "v", Value: model.Float(1)}}},
		{Collection: "cpu", Tags: model.Tags{{Key: "host", Value: "a"}}, Time: 2, Fields: []model.Field{{Key: "v", Value: model.Float(3)}}},
	}); err != nil {
		t.Fatal(err)
	}
	for _, levels := range []string{"", "&levels=raw"} {
		rec := do(s.mux, http.MethodGet, "/api/v1/query?epoch=ns&q="+url.QueryEscape("SELECT count(v), stddev(v) FROM cpu")+levels, nil, nil)
		want := `{"columns":["time","count(v)","stddev(v)"],"rows":[[0,2,1.4142135623730951]],"stats":{"levels":[{"level":"raw","points":2}]}}` + "\n"
		if rec.Code != http.StatusOK || rec.Body.String() != want {
			t.Errorf("levels %q: got %d %s, want %s", levels, rec.Code, rec.Body, want)
		}
	}
}
