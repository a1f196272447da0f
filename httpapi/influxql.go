package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/planner"
	"github.com/soltixdb/soltix/query"
)

// This file is InfluxDB 1.x's read endpoint, /query: the statements of a
// request are parsed first (any error answers 400 before anything runs),
// then run in order, and answered in InfluxDB's JSON shape
// (results[].series[].{name,tags,columns,values}), whole or in chunks.
// docs/influxql.md says what is supported.

// iqlPrepared is one parsed statement of a /query request: exactly one of
// db, show and stmt is set.
type iqlPrepared struct {
	db   *influxStmt
	show *iqlShow
	stmt *query.Statement
}

// readsData reports whether the statement reads or changes collections,
// which needs more than the write scope Telegraf's token has.
func (p iqlPrepared) readsData() bool {
	return p.db == nil && (p.show == nil || p.show.kind != iqlShowRetentionPolicies)
}

// prepareInflux parses one statement.
func prepareInflux(st iqlStatement) (iqlPrepared, error) {
	first := st.toks[0]
	switch kw := st.keyword(2); {
	case kw == "SHOW DATABASES", strings.HasPrefix(kw, "CREATE"), kw == "DROP DATABASE":
		toks := make([]influxToken, len(st.toks))
		for i, t := range st.toks {
			toks[i] = influxToken{text: t.text}
			if t.kind == iqlIdent || t.kind == iqlString {
				toks[i].quoted = byte(t.kind)
			}
		}
		db, err := parseInfluxStatement(toks)
		if err != nil {
			return iqlPrepared{}, err
		}
		return iqlPrepared{db: &db}, nil
	case first.is("SHOW"):
		sh, err := parseInfluxShow(st)
		if err != nil {
			return iqlPrepared{}, err
		}
		return iqlPrepared{show: sh}, nil
	case first.is("SELECT"), first.is("EXPLAIN"), first.is("DELETE"):
		text, err := rewriteSelect(st)
		if err != nil {
			return iqlPrepared{}, err
		}
		stmt, err := query.Parse(text)
		if err != nil {
			return iqlPrepared{}, err
		}
		if stmt.Show != nil {
			// SHOW is the InfluxQL one above; ours needs no translation.
			return iqlPrepared{}, influxUnsupported("EXPLAIN SHOW")
		}
		if stmt.Select != nil {
			nameInfluxColumns(stmt.Select, text)
		}
		return iqlPrepared{stmt: stmt}, nil
	}
	what := st.keyword(3)
	if what == "" {
		what = first.text
	}
	return iqlPrepared{}, influxUnsupported(fmt.Sprintf("the statement %q", what))
}

// nameInfluxColumns names the SELECT's columns as InfluxDB does: an
// aggregate after its function as written (mean, not avg), a repeated name
// with _1, _2, ... after it. Aliases are kept.
func nameInfluxColumns(sel *query.Select, text string) {
	used := map[string]int{}
	for i := range sel.Items {
		it := &sel.Items[i]
		if it.Star {
			continue
		}
		name := it.Alias
		if name == "" && it.Func != "" {
			name = it.Func
			if off := it.Pos.Offset; off >= 0 && off < len(text) {
				j := off
				for j < len(text) && isInfluxWordByte(text[j]) {
					j++
				}
				if w := strings.ToLower(text[off:j]); w != "" {
					name = w
				}
			}
		}
		if name == "" {
			name = it.Name()
		}
		n := used[name]
		used[name] = n + 1
		if n > 0 {
			name += "_" + strconv.Itoa(n)
		}
		if name != it.Name() {
			it.Alias = name
		}
	}
}

// influxSeries is one series of an answer.
type influxSeries struct {
	name    string
	tags    []model.Tag // sorted by key; nil without GROUP BY tags
	columns []string
	timeCol int // -1 when no column holds times
	rows    [][]model.Value
}

// influxResult is the answer to one statement: series, or an error.
type influxResult struct {
	series []influxSeries
	err    string
}

// influxEpochs maps the epoch parameter to nanoseconds per unit, with
// InfluxDB's spellings.
var influxEpochs = map[string]int64{
	"ns": 1, "n": 1, "u": 1e3, "µ": 1e3, "us": 1e3, "ms": 1e6, "s": 1e9, "m": 60e9, "h": 3600e9,
}

// defaultInfluxChunkSize is InfluxDB's chunk_size default.
const defaultInfluxChunkSize = 10_000

// runInflux runs one prepared statement. A non-nil failure is a request
// failure (the query could not run: timeout, unavailable, forbidden); an
// error the statement itself caused goes in the result, as InfluxDB does.
func (s *server) runInflux(ctx, reqCtx context.Context, p iqlPrepared, opts planner.Options, q string) (influxResult, *queryFailure) {
	switch {
	case p.db != nil:
		if p.db.kind != influxShowDatabases {
			return influxResult{}, nil
		}
		return influxResult{series: []influxSeries{{name: "databases", columns: []string{"name"}, timeCol: -1,
			rows: [][]model.Value{{model.String(InfluxDatabase)}}}}}, nil
	case p.show != nil:
		max := int(min(opts.MaxRows, 1<<30))
		if max <= 0 {
			max = planner.DefaultMaxRows
		}
		res, err := s.runShow(ctx, p.show, max)
		if err != nil {
			return s.influxFailure(reqCtx, ctx, err, nil, q)
		}
		return res, nil
	}
	res, err := s.executeResult(ctx, p.stmt, opts)
	if err != nil {
		return s.influxFailure(reqCtx, ctx, err, p.stmt, q)
	}
	return influxResult{series: splitSeries(p.stmt, res)}, nil
}

// influxFailure sorts a statement's error: the statement's own fault
// (a bad query, a limit) is its result's error, an unknown measurement an
// empty result, anything else fails the request.
func (s *server) influxFailure(reqCtx, ctx context.Context, err error, stmt *query.Statement, q string) (influxResult, *queryFailure) {
	s.metrics.queryErrors.Add(1)
	f := s.classify(reqCtx, ctx, err, stmt, s.opts.queryTimeout(), q)
	switch f.code {
	case http.StatusNotFound:
		return influxResult{}, nil
	case http.StatusBadRequest, http.StatusUnprocessableEntity:
		return influxResult{err: f.msg}, nil
	}
	return influxResult{}, &f
}

// splitSeries turns a SELECT's answer into InfluxDB's series: one per
// combination of the GROUP BY tags, named after the collection, the tags
// out of the columns.
func splitSeries(stmt *query.Statement, res *planner.Result) []influxSeries {
	if stmt.Select == nil {
		// EXPLAIN, DELETE: one series of what the statement answered.
		if len(res.Rows) == 0 {
			return nil
		}
		return []influxSeries{{columns: res.Columns, timeCol: res.TimeColumn, rows: res.Rows}}
	}
	sel := stmt.Select
	if len(res.Rows) == 0 {
		return nil
	}
	// A GROUP BY tag is a tag of the series, not a column; SELECT * lists
	// it among its columns as well, and InfluxDB leaves it out there.
	var tagCols []int
	grouped := func(c int) bool { return c != res.TimeColumn && slices.Contains(sel.GroupTags, res.Columns[c]) }
	for c, name := range res.Columns {
		if grouped(c) && !slices.ContainsFunc(tagCols, func(k int) bool { return res.Columns[k] == name }) {
			tagCols = append(tagCols, c)
		}
	}
	cols := make([]string, 0, len(res.Columns)-len(tagCols))
	keep := make([]int, 0, cap(cols))
	timeCol := -1
	for c, name := range res.Columns {
		if !grouped(c) {
			if c == res.TimeColumn {
				timeCol = len(cols)
			}
			cols = append(cols, name)
			keep = append(keep, c)
		}
	}
	if len(tagCols) == 0 {
		return []influxSeries{{name: sel.From, columns: cols, timeCol: timeCol, rows: res.Rows}}
	}
	index := map[string]int{}
	var out []influxSeries
	for _, row := range res.Rows {
		var key strings.Builder
		for _, c := range tagCols {
			key.WriteString(row[c].Str())
			key.WriteByte(0)
		}
		i, ok := index[key.String()]
		if !ok {
			i = len(out)
			index[key.String()] = i
			tags := make([]model.Tag, 0, len(tagCols))
			for _, c := range tagCols {
				tags = append(tags, model.Tag{Key: res.Columns[c], Value: row[c].Str()})
			}
			slices.SortFunc(tags, func(a, b model.Tag) int { return strings.Compare(a.Key, b.Key) })
			out = append(out, influxSeries{name: sel.From, tags: tags, columns: cols, timeCol: timeCol})
		}
		vals := make([]model.Value, len(keep))
		for j, c := range keep {
			vals[j] = row[c]
		}
		out[i].rows = append(out[i].rows, vals)
	}
	slices.SortStableFunc(out, func(a, b influxSeries) int {
		for k := range a.tags {
			if c := strings.Compare(a.tags[k].Value, b.tags[k].Value); c != 0 {
				return c
			}
		}
		return 0
	})
	return out
}

// influxEncoder writes results in InfluxDB's JSON.
type influxEncoder struct {
	div int64 // nanoseconds per epoch unit; 0 writes RFC 3339 times
}

// appendResult appends {"statement_id":id,"series":[...]} holding rows
// [lo, hi) of series[si] and, when whole, the other series too. partial
// marks the result and the series as continued in the next chunk.
func (e influxEncoder) appendResult(b []byte, id int, series []influxSeries, errMsg string, partialSeries, partialResult bool) []byte {
	b = append(b, `{"statement_id":`...)
	b = strconv.AppendInt(b, int64(id), 10)
	if len(series) > 0 {
		b = append(b, `,"series":[`...)
		for i, sr := range series {
			if i > 0 {
				b = append(b, ',')
			}
			b = e.appendSeries(b, sr, partialSeries && i == len(series)-1)
		}
		b = append(b, ']')
	}
	if errMsg != "" {
		b = append(b, `,"error":`...)
		b = appendJSONString(b, errMsg)
	}
	if partialResult {
		b = append(b, `,"partial":true`...)
	}
	return append(b, '}')
}

func (e influxEncoder) appendSeries(b []byte, sr influxSeries, partial bool) []byte {
	b = append(b, '{')
	if sr.name != "" {
		b = append(b, `"name":`...)
		b = appendJSONString(b, sr.name)
		b = append(b, ',')
	}
	if len(sr.tags) > 0 {
		b = append(b, `"tags":{`...)
		for i, t := range sr.tags {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, t.Key)
			b = append(b, ':')
			b = appendJSONString(b, t.Value)
		}
		b = append(b, "},"...)
	}
	b = append(b, `"columns":[`...)
	for i, c := range sr.columns {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, c)
	}
	b = append(b, `],"values":[`...)
	enc := resultEncoder{res: &planner.Result{TimeColumn: sr.timeCol}, div: e.div}
	for i, row := range sr.rows {
		if i > 0 {
			b = append(b, ',')
		}
		b = enc.appendRow(b, row)
	}
	b = append(b, ']')
	if partial {
		b = append(b, `,"partial":true`...)
	}
	return append(b, '}')
}

// chunks calls emit with the result cut into pieces of at most size rows,
// as InfluxDB's chunked answers are: a series longer than size is split
// (partial on all but its last piece), and every piece but the last says
// the result goes on.
func chunks(res influxResult, size int, emit func(series []influxSeries, partialSeries, partialResult bool) error) error {
	if len(res.series) == 0 {
		return emit(nil, false, false)
	}
	var piece []influxSeries
	n := 0
	for si, sr := range res.series {
		rows := sr.rows
		for len(rows) > 0 {
			take := min(len(rows), size-n)
			part := sr
			part.rows = rows[:take]
			piece = append(piece, part)
			rows = rows[take:]
			n += take
			last := si == len(res.series)-1 && len(rows) == 0
			if n == size && !last {
				if err := emit(piece, len(rows) > 0, true); err != nil {
					return err
				}
				piece, n = nil, 0
			}
		}
	}
	if len(piece) > 0 {
		return emit(piece, false, false)
	}
	return nil
}

// errInfluxNotExecuted is the error of the statements after a failed one,
// which InfluxDB does not run either.
var errInfluxNotExecuted = errors.New("not executed")
