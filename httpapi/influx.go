package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/soltixdb/soltix/planner"
)

// InfluxCompatVersion is the InfluxDB version Soltix answers as in the
// X-Influxdb-Version header of GET /ping and /query: the 1.x API whose
// write endpoint and database statements it serves.
const InfluxCompatVersion = "1.8.10"

// InfluxDatabase is the one database SHOW DATABASES lists. Soltix has one
// namespace: every database name a client gives (db=, CREATE DATABASE)
// refers to it.
const InfluxDatabase = "soltix"

// maxInfluxStatements bounds the statements of one /query request; the
// database statements are tiny, so anything longer is not a client's start-up.
const maxInfluxStatements = 100

// influxHeaders sets the headers InfluxDB 1.x sends with every answer.
func (s *server) influxHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("X-Influxdb-Build", "OSS")
	h.Set("X-Influxdb-Version", InfluxCompatVersion)
	if s.opts.Version != "" {
		h.Set("X-Soltix-Version", s.opts.Version)
	}
}

// ping serves GET and HEAD /ping as InfluxDB 1.x does: 204 with the
// version headers, or 200 and {"version": ...} with verbose=true.
func (s *server) ping(w http.ResponseWriter, r *http.Request) {
	s.influxHeaders(w)
	if v, _ := strconv.ParseBool(r.URL.Query().Get("verbose")); v && r.Method == http.MethodGet {
		b := append([]byte(`{"version":`), appendJSONString(nil, InfluxCompatVersion)...)
		writeJSON(w, http.StatusOK, append(b, "}\n"...))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// influxStmtKind is a database statement /query understands.
type influxStmtKind int

const (
	influxShowDatabases influxStmtKind = iota
	influxCreateDatabase
	influxDropDatabase
)

// influxStmt is one parsed statement of a /query request.
type influxStmt struct {
	kind influxStmtKind
	name string // database name of CREATE and DROP
}

// influxQuery serves GET and POST /query, InfluxDB 1.x's query endpoint:
// the database statements clients send on start (SHOW DATABASES lists
// InfluxDatabase; CREATE DATABASE is accepted, since every name is the one
// namespace; DROP DATABASE is refused, since it would name every
// collection), the SHOW statements of InfluxQL, and SELECT in InfluxQL's
// spellings (influxql.go, docs/influxql.md). Every statement is parsed
// before any runs.
func (s *server) influxQuery(w http.ResponseWriter, r *http.Request) {
	s.influxHeaders(w)
	ctx := r.Context()
	w, lift := withWriteDeadline(w, s.opts.queryTimeout())
	defer lift()
	s.metrics.queries.Add(1)
	fail := func(code int, msg string) {
		s.metrics.queryErrors.Add(1)
		writeError(w, code, msg)
	}
	if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(w, r.Body, s.limit)
	}
	if err := r.ParseForm(); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			s.countBodyLimit(http.StatusRequestEntityTooLarge)
			fail(http.StatusRequestEntityTooLarge, fmt.Sprintf("request body too large: limit is %d bytes", s.limit))
			return
		}
		fail(http.StatusBadRequest, "bad form: "+err.Error())
		return
	}
	q := r.Form.Get("q")
	if strings.TrimSpace(q) == "" {
		fail(http.StatusBadRequest, `missing required parameter "q"`)
		return
	}
	if p := strings.TrimSpace(r.Form.Get("params")); p != "" && p != "null" && p != "{}" {
		fail(http.StatusBadRequest, "bound parameters (params) are not supported: write the values into q")
		return
	}
	var enc influxEncoder
	if e := r.Form.Get("epoch"); e != "" {
		div, ok := influxEpochs[e]
		if !ok {
			fail(http.StatusBadRequest, fmt.Sprintf("bad epoch %q: want ns, u, ms, s, m or h", e))
			return
		}
		enc.div = div
	}
	chunked := r.Form.Get("chunked") == "true"
	chunkSize := defaultInfluxChunkSize
	if cs := r.Form.Get("chunk_size"); cs != "" {
		n, err := strconv.Atoi(cs)
		if err != nil || n <= 0 || n > planner.DefaultMaxRows {
			fail(http.StatusBadRequest, fmt.Sprintf("bad chunk_size %q: want 1 to %d", cs, planner.DefaultMaxRows))
			return
		}
		chunkSize = n
	}
	lexed, err := lexInfluxQL(q)
	if err != nil {
		fail(http.StatusBadRequest, "error parsing query: "+err.Error())
		return
	}
	stmts := make([]iqlPrepared, len(lexed))
	for i, st := range lexed {
		if stmts[i], err = prepareInflux(st); err != nil {
			fail(http.StatusBadRequest, "error parsing query: "+err.Error())
			return
		}
	}
	t := principal(ctx)
	for _, p := range stmts {
		switch {
		case p.db != nil && p.db.kind == influxDropDatabase:
			fail(http.StatusBadRequest, fmt.Sprintf(
				"drop database %q refused: soltix has one namespace, which every database name refers to; "+
					"delete data with DELETE FROM <collection> on /api/v1/query", p.db.name))
			return
		case p.readsData() && t != nil && !t.has(ScopeRead):
			s.metrics.authDenials.Add(1)
			fail(http.StatusForbidden, fmt.Sprintf("token %q has scopes %s; reading needs read", t.Name, t.Scopes))
			return
		case p.stmt != nil && p.stmt.Delete != nil && r.Method != http.MethodPost:
			w.Header().Set("Allow", http.MethodPost)
			fail(http.StatusMethodNotAllowed, "DELETE statements change data: send them with POST, not "+r.Method)
			return
		}
	}

	runCtx, cancel := context.WithTimeout(ctx, s.opts.queryTimeout())
	defer cancel()
	opts := s.queryOptions(s.now(), false)
	results := make([]influxResult, len(stmts))
	failed := false
	for i, p := range stmts {
		if failed {
			results[i].err = errInfluxNotExecuted.Error()
			continue
		}
		res, f := s.runInflux(runCtx, ctx, p, opts, lexed[i].text)
		if f != nil {
			writeFailure(w, *f)
			return
		}
		results[i] = res
		failed = res.err != ""
	}
	if !chunked {
		// The answer is one JSON object: built in a pooled buffer (a
		// GROUP BY time of 720 buckets is some 40 KB, grown by doubling
		// from nothing before).
		bp := influxBufs.Get().(*[]byte)
		b := append((*bp)[:0], `{"results":[`...)
		for i, res := range results {
			if i > 0 {
				b = append(b, ',')
			}
			b = enc.appendResult(b, i, res.series, res.err, false, false)
		}
		b = append(b, "]}\n"...)
		writeJSON(w, http.StatusOK, b)
		if cap(b) <= maxPooledInflux {
			*bp = b[:0]
			influxBufs.Put(bp)
		}
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	for i, res := range results {
		err := chunks(res, chunkSize, func(series []influxSeries, partialSeries, partialResult bool) error {
			b := enc.appendResult([]byte(`{"results":[`), i, series, res.err, partialSeries, partialResult)
			if _, err := w.Write(append(b, "]}\n"...)); err != nil {
				return err
			}
			return rc.Flush()
		})
		if err != nil {
			if ctx.Err() == nil {
				s.log.WarnContext(ctx, "send query result", "err", err)
			}
			return
		}
	}
}

// parseInfluxStatement parses one statement's tokens.
func parseInfluxStatement(st []influxToken) (influxStmt, error) {
	kw := func(i int, want string) bool {
		return i < len(st) && st[i].quoted == 0 && strings.EqualFold(st[i].text, want)
	}
	switch {
	case kw(0, "SHOW") && kw(1, "DATABASES") && len(st) == 2:
		return influxStmt{kind: influxShowDatabases}, nil
	case kw(0, "CREATE") && kw(1, "DATABASE"), kw(0, "DROP") && kw(1, "DATABASE"):
		kind := influxCreateDatabase
		if kw(0, "DROP") {
			kind = influxDropDatabase
		}
		i := 2
		if kw(2, "IF") && kw(3, "NOT") && kw(4, "EXISTS") && kind == influxCreateDatabase {
			i = 5 // InfluxDB 0.x syntax, still sent by old clients
		}
		if i >= len(st) || !st[i].ident() {
			return influxStmt{}, fmt.Errorf("%s DATABASE needs a database name", strings.ToUpper(st[0].text))
		}
		name := st[i].text
		i++
		// CREATE DATABASE x WITH DURATION ... REPLICATION ...: retention
		// is set per collection in Soltix (docs/operations.md), so the
		// clause is accepted and ignored.
		if i < len(st) && !(kind == influxCreateDatabase && kw(i, "WITH")) {
			return influxStmt{}, fmt.Errorf("unexpected %q after the database name", st[i].text)
		}
		return influxStmt{kind: kind, name: name}, nil
	}
	if kw(0, "SHOW") {
		return influxStmt{}, fmt.Errorf("unexpected %q after SHOW DATABASES", st[min(2, len(st)-1)].text)
	}
	var words []string
	for i := 0; i < len(st) && i < 3 && st[i].quoted == 0; i++ {
		words = append(words, strings.ToUpper(st[i].text))
	}
	return influxStmt{}, influxUnsupported(fmt.Sprintf("the statement %q", strings.Join(words, " ")))
}

// influxToken is a word, a quoted identifier or string, or punctuation.
type influxToken struct {
	text   string
	quoted byte // '"' or '\'' for quoted tokens, 0 otherwise
}

// ident reports whether t can name a database: a word or a "quoted" name.
func (t influxToken) ident() bool {
	if t.quoted == '"' {
		return true
	}
	if t.quoted != 0 || t.text == "" {
		return false
	}
	c := t.text[0]
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func isInfluxWordByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
}

// influxBufs holds the buffers whole InfluxDB answers are built in; one
// that grew past maxPooledInflux is left to the garbage collector.
var influxBufs = sync.Pool{New: func() any {
	b := make([]byte, 0, 4<<10)
	return &b
}}

const maxPooledInflux = 1 << 20
