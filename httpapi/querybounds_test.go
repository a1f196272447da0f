package httpapi

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/storage"
	"github.com/soltixdb/soltix/storage/wal"
)

// boundsStore is a real storage engine holding collection c: series
// host=h00 … h19, each with points v (float) every second from 0 for 500
// s, in files. Its reads can be gated and counted.
type boundsStore struct {
	*storage.DB
	reads atomic.Int64 // calls of Read, ReadLimit and ReadParts
	// gate, when set, is called at the start of every read
	// with the series' host and the call's number (from 1); an error ends
	// the read with it.
	gate func(ctx context.Context, host string, n int64) error
}

func (b *boundsStore) Read(ctx context.Context, coll string, tags model.Tags, fields []string, min, max int64) ([]model.Column, error) {
	n := b.reads.Add(1)
	if b.gate != nil {
		if err := b.gate(ctx, tags.Get("host"), n); err != nil {
			return nil, err
		}
	}
	return b.DB.Read(ctx, coll, tags, fields, min, max)
}

func (b *boundsStore) ReadLimit(ctx context.Context, coll string, tags model.Tags, fields []string, min, max int64, n int, desc bool) ([]model.Column, error) {
	k := b.reads.Add(1)
	if b.gate != nil {
		if err := b.gate(ctx, tags.Get("host"), k); err != nil {
			return nil, err
		}
	}
	return b.DB.ReadLimit(ctx, coll, tags, fields, min, max, n, desc)
}

func (b *boundsStore) ReadParts(ctx context.Context, coll string, tags model.Tags, field string, min, max int64, whole func(lo, hi int64) bool, level model.Level) ([]model.Part, error) {
	n := b.reads.Add(1)
	if b.gate != nil {
		if err := b.gate(ctx, tags.Get("host"), n); err != nil {
			return nil, err
		}
	}
	return b.DB.ReadParts(ctx, coll, tags, field, min, max, whole, level)
}

// ReadPartsWithoutSketches overrides the DB's, which would bypass
// ReadParts' gate.
func (b *boundsStore) ReadPartsWithoutSketches(ctx context.Context, coll string, tags model.Tags, field string, min, max int64, whole func(lo, hi int64) bool, level model.Level) ([]model.Part, error) {
	n := b.reads.Add(1)
	if b.gate != nil {
		if err := b.gate(ctx, tags.Get("host"), n); err != nil {
			return nil, err
		}
	}
	return b.DB.ReadPartsWithoutSketches(ctx, coll, tags, field, min, max, whole, level)
}

func newBoundsStore(t *testing.T) *boundsStore {
	t.Helper()
	db, err := storage.Open(t.TempDir(), &storage.Options{NumGroups: 2, FlushInterval: -1, Sync: wal.SyncNever,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	var pts []model.Point
	for h := range 20 {
		for i := range 500 {
			pts = append(pts, model.Point{Collection: "c", Tags: model.Tags{{Key: "host", Value: fmt.Sprintf("h%02d", h)}},
				Time: int64(i) * int64(time.Second), Fields: []model.Field{{Key: "v", Value: model.Float(float64(i))}}})
		}
	}
	ctx := context.Background()
	if err := db.Write(ctx, pts); err != nil {
		t.Fatal(err)
	}
	if err := db.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	return &boundsStore{DB: db}
}

func boundsServer(t *testing.T, st *boundsStore, opts Options) *server {
	opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	return newServer(st, opts)
}

func queryURL(q string, params ...string) string {
	v := url.Values{"q": {q}}
	for i := 0; i+1 < len(params); i += 2 {
		v.Set(params[i], params[i+1])
	}
	return "/api/v1/query?" + v.Encode()
}

// TestQueryLimitsHTTP checks that a query over max_rows or max_points is
// refused with 422 naming the setting, in every format, while queries under
// the limits answer.
func TestQueryLimitsHTTP(t *testing.T) {
	st := newBoundsStore(t)
	rowsCap := boundsServer(t, st, Options{MaxRows: 1000})
	pointsCap := boundsServer(t, st, Options{MaxPoints: 5000})
	for _, tc := range []struct {
		s         *server
		q, format string
		code      int
		errText   string
	}{
		{s: rowsCap, q: "SELECT v FROM c", format: "json", code: 422, errText: "query returns more than 1000 rows (query.max_rows)"},
		{s: rowsCap, q: "SELECT count(v) FROM c GROUP BY 1ms", format: "json", code: 422, errText: "GROUP BY interval gives 499001 rows with FILL, more than the 1000 allowed"},
		{s: rowsCap, q: "SELECT count(v) FROM c GROUP BY 1ns FILL(none)", format: "csv", code: 200},
		{s: rowsCap, q: "SELECT count(v) FROM c GROUP BY 1ns", format: "ndjson", code: 422, errText: "(query.max_rows)"},
		{s: rowsCap, q: "SELECT count(v) FROM c GROUP BY 1ms, host FILL(none)", format: "csv", code: 422, errText: "(query.max_rows)"},
		{s: rowsCap, q: "SELECT v FROM c ORDER BY time DESC LIMIT 1000", format: "json", code: 200},
		{s: pointsCap, q: "SELECT percentile(v, 50) FROM c WHERE v >= 0", format: "json", code: 422, errText: "query reads more than 5000 points (query.max_points)"},
		{s: pointsCap, q: "SELECT percentile(v, 50) FROM c WHERE v >= 0", format: "ndjson", code: 422, errText: "(query.max_points)"},
		{s: pointsCap, q: "SELECT v FROM c WHERE v > 1000", format: "csv", code: 422, errText: "(query.max_points)"},
		{s: pointsCap, q: "SELECT count(v) FROM c WHERE v >= 0 GROUP BY 1m", format: "json", code: 422, errText: "(query.max_points)"},
		{s: pointsCap, q: "SELECT v FROM c ORDER BY time DESC LIMIT 100", format: "json", code: 200},
		{s: pointsCap, q: "SELECT percentile(v, 50) FROM c WHERE v >= 0 AND host =~ /h0[0-9]/", format: "json", code: 200},
	} {
		s := tc.s
		rec := do(s.mux, http.MethodGet, queryURL(tc.q, "format", tc.format), nil, nil)
		if rec.Code != tc.code {
			t.Errorf("%s (%s): %d %s, want %d", tc.q, tc.format, rec.Code, rec.Body, tc.code)
			continue
		}
		if tc.code != 200 {
			var body queryErrorBody
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || !strings.Contains(body.Error, tc.errText) {
				t.Errorf("%s (%s): body %s, want an error containing %q", tc.q, tc.format, rec.Body, tc.errText)
			}
		}
	}
}

// TestQueryRowsCapAfterStreaming checks how a streamed answer that goes
// over max_rows after its first rows ends: NDJSON with an error line, CSV
// cut off.
func TestQueryRowsCapAfterStreaming(t *testing.T) {
	st := newBoundsStore(t)
	srv := httptest.NewServer(boundsServer(t, st, Options{MaxRows: 700}).mux)
	defer srv.Close()
	resp, err := http.Get(srv.URL + queryURL("SELECT v FROM c", "format", "ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("ndjson: %d, %v", resp.StatusCode, err)
	}
	lines := strings.Split(strings.TrimSuffix(string(body), "\n"), "\n")
	if n := len(lines); n != 1+700+1 {
		t.Errorf("ndjson: %d lines, want the columns, 700 rows and an error line", n)
	}
	if last := lines[len(lines)-1]; last != `{"error":"query returns more than 700 rows (query.max_rows)","status":422}` {
		t.Errorf("ndjson: last line %s", last)
	}
	resp, err = http.Get(srv.URL + queryURL("SELECT v FROM c", "format", "csv"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("csv over the cap: %d, read error %v, want 200 and an unexpected EOF", resp.StatusCode, err)
	}
}

// TestQueryDeadline checks that a query past its deadline answers 503 with
// Retry-After naming the limit, that the timeout parameter lowers the
// deadline but cannot raise it, and that a bad one is a 400.
func TestQueryDeadline(t *testing.T) {
	st := newBoundsStore(t)
	// Every read waits for the query's context to end.
	st.gate = func(ctx context.Context, _ string, _ int64) error {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Second):
			return errors.New("the query's deadline never came")
		}
	}
	for _, tc := range []struct {
		setting time.Duration
		param   string
		code    int
		errText string
	}{
		{setting: 50 * time.Millisecond, code: 503, errText: "query ran past its deadline of 50ms (query.timeout)"},
		{setting: time.Hour, param: "30ms", code: 503, errText: "deadline of 30ms (query.timeout)"},
		{setting: 40 * time.Millisecond, param: "1h", code: 503, errText: "deadline of 40ms (query.timeout)"},
		{setting: time.Hour, param: "soon", code: 400, errText: `bad timeout "soon"`},
		{setting: time.Hour, param: "-1s", code: 400, errText: `bad timeout "-1s"`},
	} {
		s := boundsServer(t, st, Options{QueryTimeout: tc.setting})
		for _, format := range []string{"json", "ndjson", "csv"} {
			params := []string{"format", format}
			if tc.param != "" {
				params = append(params, "timeout", tc.param)
			}
			for _, q := range []string{"SELECT v FROM c", "SELECT count(v) FROM c"} {
				rec := do(s.mux, http.MethodGet, queryURL(q, params...), nil, nil)
				var body queryErrorBody
				_ = json.Unmarshal(rec.Body.Bytes(), &body)
				if rec.Code != tc.code || !strings.Contains(body.Error, tc.errText) {
					t.Errorf("%s %v (setting %s): %d %s, want %d %q", q, params, tc.setting, rec.Code, rec.Body, tc.code, tc.errText)
				}
				if tc.code == 503 && rec.Header().Get("Retry-After") == "" {
					t.Errorf("%s %v: 503 without Retry-After", q, params)
				}
			}
		}
	}
}

// TestQueryClientDisconnect checks that a client going away cancels its
// query: no series is read after it has gone.
func TestQueryClientDisconnect(t *testing.T) {
	st := newBoundsStore(t)
	started := make(chan struct{})
	var afterCancel atomic.Int64
	st.gate = func(ctx context.Context, _ string, n int64) error {
		if ctx.Err() != nil {
			afterCancel.Add(1)
			return ctx.Err()
		}
		if n == 3 {
			close(started)
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(20 * time.Second):
				return errors.New("the client's going away never reached the query")
			}
		}
		return nil
	}
	s := boundsServer(t, st, Options{})
	var wg sync.WaitGroup
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		wg.Add(1)
		defer wg.Done()
		s.mux.ServeHTTP(w, r)
	})
	srv := httptest.NewServer(handler)
	defer srv.Close()
	for _, q := range []string{"SELECT count(v) FROM c", "SELECT v FROM c GROUP BY host"} {
		st.reads.Store(0)
		started = make(chan struct{})
		ctx, cancel := context.WithCancel(context.Background())
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+queryURL(q, "format", "ndjson"), nil)
		errc := make(chan error, 1)
		go func() {
			resp, err := http.DefaultClient.Do(req)
			if err == nil {
				_, err = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			errc <- err
		}()
		select {
		case <-started:
		case <-time.After(20 * time.Second):
			t.Fatalf("%s: the third read never came", q)
		}
		cancel()
		<-errc
		wg.Wait() // the handler has returned
		// A raw select reads series one at a time: three. An aggregate
		// may also have read ahead (planner/prefetch.go: at most 4
		// workers with 4 reads each) before the client went away; none
		// may start after (afterCancel, below).
		n := st.reads.Load()
		if strings.HasPrefix(q, "SELECT v ") && n != 3 || n < 3 || n > 3+4*4 {
			t.Errorf("%s: %d reads of 20 series, want 3 (plus what was read ahead before the client went away)", q, n)
		}
	}
	// A read-ahead worker (at most 4) that checked the context just before
	// the client went away may still enter one read, which fails at once
	// on the cancelled context; nothing more may start.
	if n := afterCancel.Load(); n > 4 {
		t.Errorf("%d reads started after the client went away, want at most the 4 read-ahead workers' last", n)
	}
}

// TestQueryStreams checks that NDJSON and CSV rows reach the client while
// the query still has series to read: the second series' read waits until
// the client has the first row.
func TestQueryStreams(t *testing.T) {
	st := newBoundsStore(t)
	var firstRow chan struct{}
	st.gate = func(ctx context.Context, host string, _ int64) error {
		if host != "h01" {
			return nil
		}
		select {
		case <-firstRow:
			return nil
		case <-time.After(20 * time.Second):
			return errors.New("the client never saw the first row before the second series was read")
		}
	}
	srv := httptest.NewServer(boundsServer(t, st, Options{}).mux)
	defer srv.Close()
	for _, tc := range []struct{ format, first string }{
		{"ndjson", `["1970-01-01T00:00:00Z","h00",0]`},
		{"csv", "1970-01-01T00:00:00Z,h00,0"},
	} {
		firstRow = make(chan struct{})
		resp, err := http.Get(srv.URL + queryURL("SELECT v FROM c WHERE host = 'h00' OR host = 'h01' GROUP BY host", "format", tc.format))
		if err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(resp.Body)
		header, _ := br.ReadString('\n')
		row, _ := br.ReadString('\n')
		if strings.TrimSpace(row) != tc.first {
			t.Errorf("%s: header %q, first row %q, want %q", tc.format, header, row, tc.first)
		}
		close(firstRow)
		rest, err := io.ReadAll(br)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(string(rest), "\n"); n < 999 {
			t.Errorf("%s: %d more lines, want the other 999 rows", tc.format, n)
		}
		if strings.Contains(string(rest), "error") {
			t.Errorf("%s: %s", tc.format, rest[max(0, len(rest)-200):])
		}
	}
}
