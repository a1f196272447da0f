package httpapi

import (
	"context"
	"errors"
	"fmt"
	"math"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/planner"
	"github.com/soltixdb/soltix/query"
)

// ndjsonFlushRows is how many NDJSON rows are buffered between flushes to
// the client.
const ndjsonFlushRows = 256

// epochDivisors maps the epoch parameter to nanoseconds per unit.
var epochDivisors = map[string]int64{
	"ns": 1,
	"us": int64(time.Microsecond),
	"ms": int64(time.Millisecond),
	"s":  int64(time.Second),
}

// query serves GET and POST /api/v1/query. DELETE statements change data,
// so they are only accepted with POST.
func (s *server) query(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	w, lift := withWriteDeadline(w, s.opts.queryTimeout())
	defer lift()
	s.metrics.queries.Add(1)
	fail := func(code int, msg string, pos *query.Pos) {
		s.metrics.queryErrors.Add(1)
		writeQueryError(w, code, msg, pos)
	}

	var q string
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	textBody := r.Method == http.MethodPost && (mt == "text/plain" || mt == "application/sql")
	if textBody {
		body, code, err := s.readBody(w, r)
		if err != nil {
			fail(code, err.Error(), nil)
			return
		}
		q = string(body)
	} else if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(w, r.Body, s.limit)
	}
	if err := r.ParseForm(); err != nil {
		if code, msg, ok := guardError(w, err); ok {
			s.countBodyLimit(code)
			fail(code, msg, nil)
			return
		}
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			s.countBodyLimit(http.StatusRequestEntityTooLarge)
			fail(http.StatusRequestEntityTooLarge, fmt.Sprintf("request body too large: limit is %d bytes (http.max_body_bytes)", s.limit), nil)
			return
		}
		fail(http.StatusBadRequest, "bad form: "+err.Error(), nil)
		return
	}
	if strings.TrimSpace(q) == "" {
		q = r.Form.Get("q")
	}
	if strings.TrimSpace(q) == "" {
		fail(http.StatusBadRequest, "missing query: set q", nil)
		return
	}
	format := r.Form.Get("format")
	switch format {
	case "", "json", "csv", "ndjson":
	default:
		fail(http.StatusBadRequest, fmt.Sprintf("bad format %q: want json, csv or ndjson", format), nil)
		return
	}
	var rawOnly bool
	switch levels := r.Form.Get("levels"); levels {
	case "", "auto":
	case "raw":
		rawOnly = true
	default:
		fail(http.StatusBadRequest, fmt.Sprintf("bad levels %q: want auto or raw", levels), nil)
		return
	}
	anyReplica := false
	switch c := r.Form.Get("consistency"); c {
	case "", "primary":
	case "any":
		anyReplica = true
	default:
		fail(http.StatusBadRequest, fmt.Sprintf("bad consistency %q: want primary or any", c), nil)
		return
	}
	epoch := r.Form.Get("epoch")
	div := int64(0) // 0: RFC 3339
	if epoch != "" {
		d, ok := epochDivisors[epoch]
		if !ok {
			fail(http.StatusBadRequest, fmt.Sprintf("bad epoch %q: want ns, us, ms or s", epoch), nil)
			return
		}
		div = d
	}

	zoneTimes := false
	switch tf := r.Form.Get("times"); tf {
	case "", "utc":
	case "zone":
		zoneTimes = true
	default:
		fail(http.StatusBadRequest, fmt.Sprintf("bad times %q: want utc or zone", tf), nil)
		return
	}

	partial, err := parsePartial(r.Form.Get("partial"))
	if err != nil {
		fail(http.StatusBadRequest, err.Error(), nil)
		return
	}

	timeout, err := s.queryTimeout(r.Form.Get("timeout"))
	if err != nil {
		fail(http.StatusBadRequest, err.Error(), nil)
		return
	}

	stmt, err := query.Parse(q)
	if err != nil {
		var qe *query.Error
		if errors.As(err, &qe) {
			pos := qe.Pos
			fail(http.StatusBadRequest, qe.Error(), &pos)
			return
		}
		fail(http.StatusBadRequest, err.Error(), nil)
		return
	}
	if stmt.Delete != nil && r.Method != http.MethodPost {
		// A GET must not change data: links, prefetchers and caches
		// follow them freely.
		w.Header().Set("Allow", http.MethodPost)
		fail(http.StatusMethodNotAllowed, "DELETE statements change data: send them with POST, not "+r.Method, nil)
		return
	}
	loc := timesZone(stmt, zoneTimes)
	runCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	opts := s.queryOptions(s.now(), rawOnly)
	opts.Partial = partial
	opts.AnyReplica = anyReplica
	classify := func(err error) queryFailure {
		s.metrics.queryErrors.Add(1)
		return s.classify(ctx, runCtx, err, stmt, timeout, q)
	}
	if format == "csv" || format == "ndjson" {
		ss := newStreamSink(w, format, div)
		ss.enc.loc = loc
		var sink planner.Sink = ss
		if partial != nil {
			sink = &partialSink{Sink: ss, w: w, p: partial}
		}
		st, err := s.run(runCtx, stmt, opts, sink)
		switch {
		case err != nil && !ss.started:
			writeFailure(w, classify(err))
		case err != nil:
			// The status line is gone: say so in the stream.
			ss.fail(classify(err))
		default:
			s.logDelete(ctx, stmt, q, ss.deleted)
			err = ss.finish(st)
		}
		if err != nil && ctx.Err() == nil {
			s.log.WarnContext(ctx, "send query result", "err", err)
		}
		return
	}
	res, err := s.executeResult(runCtx, stmt, opts)
	if err != nil {
		writeFailure(w, classify(err))
		return
	}
	if stmt.Delete != nil && len(res.Rows) == 1 && len(res.Rows[0]) == 1 {
		s.logDelete(ctx, stmt, q, res.Rows[0][0].String())
	}
	enc := resultEncoder{res: res, div: div, loc: loc, missing: missingGroups(w, partial)}
	if err := enc.json(w); err != nil {
		// The status line is gone; all we can do is log.
		s.log.WarnContext(ctx, "send query result", "err", err)
	}
}

// logDelete logs a DELETE statement that ran, with the number of series it
// deleted from ("" for other statements, which are not logged).
func (s *server) logDelete(ctx context.Context, stmt *query.Statement, q, deleted string) {
	if stmt.Delete != nil && deleted != "" {
		s.log.InfoContext(ctx, "delete", "q", q, "deleted_series", deleted)
	}
}

// statementCollection returns the collection a statement reads or deletes
// from, or "".
func statementCollection(stmt *query.Statement) string {
	switch {
	case stmt == nil:
		return ""
	case stmt.Select != nil:
		return stmt.Select.Collection()
	case stmt.Show != nil:
		return stmt.Show.From
	case stmt.Delete != nil:
		return stmt.Delete.From
	}
	return ""
}

// writeQueryError sends {"error": msg} with "position" when pos is set.
func writeQueryError(w http.ResponseWriter, code int, msg string, pos *query.Pos) {
	b := append([]byte(`{"error":`), appendJSONString(nil, msg)...)
	if pos != nil {
		b = append(b, `,"position":{"line":`...)
		b = strconv.AppendInt(b, int64(pos.Line), 10)
		b = append(b, `,"column":`...)
		b = strconv.AppendInt(b, int64(pos.Column), 10)
		b = append(b, '}')
	}
	b = append(b, '}')
	writeJSON(w, code, b)
}

// resultEncoder writes a planner result in one of the output formats.
type resultEncoder struct {
	res *planner.Result
	div int64 // nanoseconds per epoch unit; 0 formats times as RFC 3339
	// loc, when set (times=zone and a TZ clause), is the zone RFC 3339
	// times are written in; nil writes them in UTC.
	loc *time.Location
	// missing are the groups a partial answer left out (see partial.go).
	missing []int
}

// timeOf returns the time of a time cell in the encoder's zone (UTC by
// default).
func (e *resultEncoder) timeOf(v model.Value) time.Time {
	tm := time.Unix(0, v.Int()).UTC()
	if e.loc != nil {
		tm = tm.In(e.loc)
	}
	return tm
}

// timesZone returns the zone times=zone writes a statement's times in: its
// TZ clause's, or nil (UTC) when it has none or zone is false.
func timesZone(stmt *query.Statement, zone bool) *time.Location {
	if !zone || stmt.Select == nil || stmt.Select.TZ == "" {
		return nil
	}
	loc, err := query.LoadZone(stmt.Select.TZ)
	if err != nil {
		return nil // the parser has refused unknown zones already
	}
	return loc
}

// isTime reports whether column c holds timestamps.
func (e *resultEncoder) isTime(c int, v model.Value) bool {
	return c == e.res.TimeColumn && v.Kind == model.KindInt
}

// appendValue appends the JSON form of the value in column c.
func (e *resultEncoder) appendValue(b []byte, c int, v model.Value) []byte {
	if e.isTime(c, v) {
		if e.div > 0 {
			return strconv.AppendInt(b, v.Int()/e.div, 10)
		}
		b = append(b, '"')
		b = e.timeOf(v).AppendFormat(b, time.RFC3339Nano)
		return append(b, '"')
	}
	switch v.Kind {
	case model.KindFloat:
		return appendJSONFloat(b, v.Float())
	case model.KindInt:
		return strconv.AppendInt(b, v.Int(), 10)
	case model.KindUint:
		return strconv.AppendUint(b, v.Uint(), 10)
	case model.KindBool:
		return strconv.AppendBool(b, v.Bool())
	case model.KindString:
		return appendJSONString(b, v.Str())
	}
	return append(b, "null"...)
}

// appendRow appends one row as a JSON array.
func (e *resultEncoder) appendRow(b []byte, row []model.Value) []byte {
	b = append(b, '[')
	for c, v := range row {
		if c > 0 {
			b = append(b, ',')
		}
		b = e.appendValue(b, c, v)
	}
	return append(b, ']')
}

func (e *resultEncoder) appendColumns(b []byte) []byte {
	b = append(b, `{"columns":[`...)
	for i, c := range e.res.Columns {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, c)
	}
	return append(b, ']')
}

// appendStats appends the result's Stats as a JSON object:
// {"levels":[{"level":"1d","rows":365},...],"cold":{...},"notes":[...]},
// leaving out zero counters, cold reads when there were none and an empty
// notes list.
func (e *resultEncoder) appendStats(b []byte) []byte {
	st := e.res.Stats
	b = append(b, `{"levels":[`...)
	for i, ls := range st.Levels {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"level":`...)
		b = appendJSONString(b, ls.Level)
		for _, c := range []struct {
			name string
			n    int64
		}{{"rows", ls.Rows}, {"points", ls.Points}, {"blocks", ls.Blocks}} {
			if c.n != 0 {
				b = append(b, `,"`...)
				b = append(b, c.name...)
				b = append(b, `":`...)
				b = strconv.AppendInt(b, c.n, 10)
			}
		}
		b = append(b, '}')
	}
	b = append(b, ']')
	if c := st.Cold; c != nil {
		b = append(b, `,"cold":{"objects":`...)
		b = strconv.AppendInt(b, c.Objects, 10)
		b = append(b, `,"bytes":`...)
		b = strconv.AppendInt(b, c.Bytes, 10)
		b = append(b, `,"fetched_bytes":`...)
		b = strconv.AppendInt(b, c.Fetched, 10)
		b = append(b, `,"cache_hits":`...)
		b = strconv.AppendInt(b, c.CacheHits, 10)
		b = append(b, '}')
	}
	if len(st.Notes) > 0 {
		b = append(b, `,"notes":[`...)
		for i, n := range st.Notes {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, n)
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

// json writes {"columns":[...],"rows":[[...],...]}, with "stats" after the
// rows when the result has Stats.
//
// The answer is built in a pooled buffer and written in pieces of about
// jsonChunk bytes, with no buffered writer in between.
func (e *resultEncoder) json(w http.ResponseWriter) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	bp := jsonBufs.Get().(*[]byte)
	defer func() {
		if cap(*bp) <= 4*jsonChunk {
			jsonBufs.Put(bp)
		}
	}()
	b := e.appendColumns((*bp)[:0])
	b = append(b, `,"rows":[`...)
	for i, row := range e.res.Rows {
		if i > 0 {
			b = append(b, ',')
		}
		b = e.appendRow(b, row)
		if len(b) >= jsonChunk {
			if _, err := w.Write(b); err != nil {
				*bp = b
				return err
			}
			b = b[:0]
		}
	}
	b = append(b, ']')
	if e.res.Stats != nil {
		b = append(b, `,"stats":`...)
		b = e.appendStats(b)
	}
	b = appendMissing(b, e.missing)
	b = append(b, "}\n"...)
	*bp = b
	_, err := w.Write(b)
	return err
}

// jsonChunk is about how much of a JSON answer is written at a time.
const jsonChunk = 16 << 10

// jsonBufs holds the buffers JSON answers are built in.
var jsonBufs = sync.Pool{New: func() any {
	b := make([]byte, 0, jsonChunk+jsonChunk/2)
	return &b
}}

// cell formats one CSV cell.
func (e *resultEncoder) cell(b []byte, c int, v model.Value) string {
	switch {
	case e.isTime(c, v):
		if e.div > 0 {
			return strconv.FormatInt(v.Int()/e.div, 10)
		}
		return e.timeOf(v).Format(time.RFC3339Nano)
	case v.Kind == model.KindString:
		return v.Str()
	case v.Kind == model.KindFloat:
		if f := v.Float(); math.IsNaN(f) || math.IsInf(f, 0) {
			return ""
		}
		return string(appendJSONFloat(b, v.Float()))
	case v.Kind == model.KindNull:
		return ""
	}
	return string(e.appendValue(b, c, v))
}

// appendJSONFloat appends f as a JSON number, or null when JSON cannot hold
// it (NaN, ±Inf). Like encoding/json it uses exponent notation only for very
// small or large magnitudes.
func appendJSONFloat(b []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(b, "null"...)
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	start := len(b)
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// Shorten e-07 to e-7.
		n := len(b) - start
		if n >= 4 && b[len(b)-4] == 'e' && b[len(b)-3] == '-' && b[len(b)-2] == '0' {
			b[len(b)-2] = b[len(b)-1]
			b = b[:len(b)-1]
		}
	}
	return b
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
