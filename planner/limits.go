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
// per bucket filled), by the rows it returns (Options.MaxRows) and by the
// points it reads (Options.MaxPoints). Going over a limit ends the query
// with a *LimitError, which the HTTP layer answers with 422.

// DefaultMaxRows is the number of rows a SELECT may return when
// Options.MaxRows is 0. It is also the bound on the buckets a GROUP BY
// interval query with FILL builds.
const DefaultMaxRows = 5_000_000

// DefaultMaxPoints is the number of points a SELECT may read when
// Options.MaxPoints is 0.
const DefaultMaxPoints = 100_000_000

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
)

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

// emitter counts the rows a SELECT returns, fails past the row limit, and
// checks the context every few rows.
type emitter struct {
	ctx   context.Context
	sink  Sink
	rows  int64
	limit int64
}

// emit hands one row to the sink.
func (e *emitter) emit(vals []model.Value) error {
	e.rows++
	if e.rows > e.limit {
		return rowsError(e.limit)
	}
	if e.rows%1024 == 0 {
		if err := e.ctx.Err(); err != nil {
			return err
		}
	}
	return e.sink.Row(vals)
}
