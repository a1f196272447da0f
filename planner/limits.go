package planner

import (
	"context"
	"fmt"

	"github.com/soltixdb/soltix/internal/timex"
	"github.com/soltixdb/soltix/model"
)

// Resource limits of one SELECT.
//
// A query is bounded three ways: by its context (the HTTP layer gives every
// query a deadline and cancels it when the client goes away; the planner
// and storage check it per series, per chunk of rows, per block decoded and
// per bucket filled), by the rows it returns (Options.MaxRows) and their
// bytes (Options.MaxBytes), and by the points it reads (Options.MaxPoints). Going over a limit ends the query
// with a *LimitError, which the HTTP layer answers with 422.

// DefaultMaxRows is the number of rows a SELECT may return when
// Options.MaxRows is 0. It is also the bound on the buckets a GROUP BY
// interval query with FILL builds.
const DefaultMaxRows = 5_000_000

// DefaultMaxPoints is the number of points a SELECT may read when
// Options.MaxPoints is 0.
const DefaultMaxPoints = 100_000_000

// DefaultMaxBytes is the number of bytes the rows of a SELECT may hold
// (see rowBytes) when Options.MaxBytes is 0: 256 MiB.
const DefaultMaxBytes = 256 << 20

// LimitError is a well-formed query that would exceed a resource limit: too
// many rows, points or buckets. It matches ErrLimit (errors.Is). The HTTP
// layer answers it with 422.
type LimitError struct {
	Msg     string // what went over, naming the limit
	Setting string // the configuration setting that holds the limit
}

// Error returns the message followed by the setting in parentheses.
func (e *LimitError) Error() string {
	return fmt.Sprintf("%s (%s)", e.Msg, e.Setting)
}

// Unwrap returns ErrLimit.
func (e *LimitError) Unwrap() error { return ErrLimit }

// Setting names of the limits, for LimitError.
const (
	SettingMaxRows   = "query.max_rows"
	SettingMaxPoints = "query.max_points"
	SettingMaxBytes  = "query.max_bytes"
)

func (o *Options) maxBytes() int64 {
	if o.MaxBytes > 0 {
		return o.MaxBytes
	}
	return DefaultMaxBytes
}

func bytesError(limit int64) error {
	return &LimitError{Msg: fmt.Sprintf("query returns more than %d bytes", limit), Setting: SettingMaxBytes}
}

// rowBytes is what a row counts against Options.MaxBytes: the length of
// each string value, 8 bytes for every other value, and 8 for the row. It
// is about what the row takes in memory and in an answer (JSON, NDJSON,
// CSV), without depending on the format.
func rowBytes(vals []model.Value) int64 {
	n := int64(8)
	for i := range vals {
		if vals[i].Kind == model.KindString {
			n += int64(len(vals[i].Str()))
		} else {
			n += 8
		}
	}
	return n
}

func (o *Options) maxRows() int64 {
	if o.MaxRows > 0 {
		return o.MaxRows
	}
	return DefaultMaxRows
}

func (o *Options) maxPoints() int64 {
	if o.MaxPoints > 0 {
		return o.MaxPoints
	}
	return DefaultMaxPoints
}

func rowsError(limit int64) error {
	return &LimitError{Msg: fmt.Sprintf("query returns more than %d rows", limit), Setting: SettingMaxRows}
}

func pointsError(limit int64) error {
	return &LimitError{Msg: fmt.Sprintf("query reads more than %d points", limit), Setting: SettingMaxPoints}
}

// spend counts n points read and fails once the query has read more than
// its limit.
func (ex *executor) spend(n int64) error {
	ex.points = timex.AddSat(ex.points, n)
	if lim := ex.p.opts.maxPoints(); ex.points > lim {
		return pointsError(lim)
	}
	return nil
}

// emitter counts the rows a SELECT returns and their bytes, fails past the
// row or byte limit, and checks the context every few rows.
type emitter struct {
	ctx      context.Context
	sink     Sink
	rows     int64
	limit    int64
	bytes    int64
	maxBytes int64
}

func newEmitter(ctx context.Context, sink Sink, opts *Options) *emitter {
	return &emitter{ctx: ctx, sink: sink, limit: opts.maxRows(), maxBytes: opts.maxBytes()}
}

// grow tells a sink that keeps rows that n more are coming (GrowSink).
func (e *emitter) grow(n int) {
	if g, ok := e.sink.(GrowSink); ok {
		g.Grow(n)
	}
}

// emit hands one row to the sink.
func (e *emitter) emit(vals []model.Value) error {
	e.rows++
	if e.rows > e.limit {
		return rowsError(e.limit)
	}
	e.bytes = timex.AddSat(e.bytes, rowBytes(vals))
	if e.bytes > e.maxBytes {
		return bytesError(e.maxBytes)
	}
	if e.rows%1024 == 0 {
		if err := e.ctx.Err(); err != nil {
			return err
		}
	}
	return e.sink.Row(vals)
}
