package httpapi

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/planner"
	"github.com/soltixdb/soltix/query"
)

// DefaultQueryTimeout is the deadline of a query when Options.QueryTimeout
// is 0.
const DefaultQueryTimeout = 60 * time.Second

// streamFlushInterval is the longest a streamed row waits in the buffer
// while later rows are still being produced.
const streamFlushInterval = 200 * time.Millisecond

// queryTimeout returns the deadline of one query: the setting, or the
// request's timeout parameter when that is shorter.
func (s *server) queryTimeout(param string) (time.Duration, error) {
	limit := s.opts.queryTimeout()
	if param == "" {
		return limit, nil
	}
	d, err := time.ParseDuration(param)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("bad timeout %q: want a positive duration such as 10s or 500ms", param)
	}
	return min(d, limit), nil
}

// queryTimeout returns the query deadline setting.
func (o *Options) queryTimeout() time.Duration {
	if o.QueryTimeout > 0 {
		return o.QueryTimeout
	}
	return DefaultQueryTimeout
}

// queryOptions returns the planner options of a query run at now.
func (s *server) queryOptions(now time.Time, rawOnly bool) planner.Options {
	return planner.Options{Now: now, RawOnly: rawOnly, MaxRows: s.opts.MaxRows, MaxPoints: s.opts.MaxPoints, MaxBytes: s.opts.MaxBytes}
}

// queryFailure is how a failed query is answered: status, message, and the
// position in the query text when known.
type queryFailure struct {
	code int
	msg  string
	pos  *query.Pos
}

// classify maps an error of a query run with the given deadline to its
// answer. ctx is the query's context; reqCtx the request's.
func (s *server) classify(reqCtx, ctx context.Context, err error, stmt *query.Statement, timeout time.Duration, q string) queryFailure {
	var pe *planner.Error
	switch {
	case errors.Is(err, errForbidden):
		s.metrics.authDenials.Add(1)
		return queryFailure{http.StatusForbidden, err.Error(), nil}
	case errors.Is(err, planner.ErrLimit):
		s.countQueryLimit(err)
		return queryFailure{http.StatusUnprocessableEntity, err.Error(), nil}
	case errors.As(err, &pe):
		var pos *query.Pos
		if pe.Pos.Line > 0 {
			pos = &pe.Pos
		}
		return queryFailure{http.StatusBadRequest, pe.Error(), pos}
	case errors.Is(err, planner.ErrNotFound):
		msg := err.Error()
		if c := statementCollection(stmt); c != "" {
			msg = fmt.Sprintf("collection %q not found", c)
		}
		return queryFailure{http.StatusNotFound, msg, nil}
	case errors.Is(err, context.DeadlineExceeded) && reqCtx.Err() == nil && ctx.Err() != nil:
		s.metrics.limits.hit(limitQueryTimeout)
		return queryFailure{http.StatusServiceUnavailable, fmt.Sprintf("query ran past its deadline of %s (query.timeout)", timeout), nil}
	case reqCtx.Err() != nil:
		return queryFailure{http.StatusServiceUnavailable, "query cancelled: the client went away", nil}
	}
	code, msg := storeErrorStatus(err)
	if code == http.StatusInternalServerError {
		s.log.ErrorContext(reqCtx, "query", "q", q, "err", err)
	}
	return queryFailure{code, msg, nil}
}

// writeFailure answers a query that failed before any byte was sent.
func writeFailure(w http.ResponseWriter, f queryFailure) {
	if f.code == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	writeQueryError(w, f.code, f.msg, f.pos)
}

// collectSink builds a planner.Result from a stream.
type collectSink struct{ res planner.Result }

func (c *collectSink) Columns(names []string, timeColumn int) error {
	c.res.Columns, c.res.TimeColumn, c.res.Rows = names, timeColumn, [][]model.Value{}
	return nil
}

// Grow makes room for n more rows (planner.GrowSink).
func (c *collectSink) Grow(n int) { c.res.Rows = slices.Grow(c.res.Rows, n) }

func (c *collectSink) Row(row []model.Value) error {
	c.res.Rows = append(c.res.Rows, row)
	return nil
}

// executeResult runs a statement through s.execute and collects its answer.
func (s *server) executeResult(ctx context.Context, stmt *query.Statement, opts planner.Options) (*planner.Result, error) {
	var c collectSink
	st, err := s.run(ctx, stmt, opts, &c)
	if err != nil {
		return nil, err
	}
	c.res.Stats = st
	return &c.res, nil
}

// streamSink writes NDJSON or CSV rows to the client as the planner
// produces them. Nothing is sent before the first row (or the end), so that
// an error before it still gets its status code; after it, rows go out in
// batches of ndjsonFlushRows or every streamFlushInterval.
type streamSink struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	bw      *bufio.Writer
	csv     *csv.Writer // CSV only
	enc     resultEncoder
	started bool // the status line and header are sent
	rows    int
	flushed time.Time
	b       []byte
	rec     []string
	deleted string // a DELETE's answer: the series it deleted from
}

func newStreamSink(w http.ResponseWriter, format string, div int64) *streamSink {
	ss := &streamSink{w: w, rc: http.NewResponseController(w), enc: resultEncoder{res: &planner.Result{}, div: div}}
	ss.bw = bufio.NewWriterSize(w, 32<<10)
	if format == "csv" {
		ss.csv = csv.NewWriter(ss.bw)
	}
	return ss
}

func (ss *streamSink) Columns(names []string, timeColumn int) error {
	ss.enc.res.Columns, ss.enc.res.TimeColumn = names, timeColumn
	return nil
}

// start sends the status line, the header and the columns.
func (ss *streamSink) start() error {
	ss.started = true
	if ss.csv != nil {
		ss.w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		ss.w.WriteHeader(http.StatusOK)
		return ss.csv.Write(ss.enc.res.Columns)
	}
	ss.w.Header().Set("Content-Type", "application/x-ndjson")
	ss.w.WriteHeader(http.StatusOK)
	ss.b = append(ss.enc.appendColumns(ss.b[:0]), "}\n"...)
	_, err := ss.bw.Write(ss.b)
	return err
}

func (ss *streamSink) Row(row []model.Value) error {
	if !ss.started {
		if err := ss.start(); err != nil {
			return err
		}
	}
	if ss.rows == 0 && len(row) == 1 {
		ss.deleted = row[0].String()
	}
	if ss.csv != nil {
		ss.rec = ss.rec[:0]
		for c, v := range row {
			ss.rec = append(ss.rec, ss.enc.cell(ss.b[:0], c, v))
		}
		if err := ss.csv.Write(ss.rec); err != nil {
			return err
		}
	} else {
		ss.b = append(ss.enc.appendRow(ss.b[:0], row), '\n')
		if _, err := ss.bw.Write(ss.b); err != nil {
			return err
		}
	}
	ss.rows++
	if ss.rows == 1 || ss.rows%ndjsonFlushRows == 0 || time.Since(ss.flushed) >= streamFlushInterval {
		return ss.flush()
	}
	return nil
}

// flush sends what is buffered to the client.
func (ss *streamSink) flush() error {
	ss.flushed = time.Now()
	if ss.csv != nil {
		ss.csv.Flush()
		if err := ss.csv.Error(); err != nil {
			return err
		}
	}
	if err := ss.bw.Flush(); err != nil {
		return err
	}
	if err := ss.rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	return nil
}

// finish ends a stream that succeeded: the NDJSON stats line when there
// are Stats.
func (ss *streamSink) finish(st *planner.Stats) error {
	if !ss.started {
		if err := ss.start(); err != nil {
			return err
		}
	}
	if ss.csv == nil && st != nil {
		ss.enc.res.Stats = st
		ss.b = append(ss.enc.appendStats(append(ss.b[:0], `{"stats":`...)), "}\n"...)
		if _, err := ss.bw.Write(ss.b); err != nil {
			return err
		}
	}
	return ss.flush()
}

// fail ends a stream whose query failed after its first row was sent. NDJSON
// gets a last line {"error":msg,"status":code} (in place of the stats
// line); CSV has no place for an error, so the response is cut off without
// its end (the connection is closed mid-body), which HTTP clients report as
// an incomplete transfer rather than a complete answer.
func (ss *streamSink) fail(f queryFailure) {
	if ss.csv != nil {
		_ = ss.flush()
		panic(http.ErrAbortHandler)
	}
	b := append(appendJSONString(append(ss.b[:0], `{"error":`...), f.msg), `,"status":`...)
	b = append(strconv.AppendInt(b, int64(f.code), 10), "}\n"...)
	if _, err := ss.bw.Write(b); err == nil {
		_ = ss.flush()
	}
}
