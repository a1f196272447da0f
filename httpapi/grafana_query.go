package httpapi

// The Grafana routes that run queries: /query (panels), /variable
// (template variables) and the legacy /annotations. A target is either a
// statement of the query language with Grafana-style macros, or a
// structured target: a collection name with a payload naming field,
// aggregate, grouping and filters, turned into a SELECT here. Both run
// through s.execute exactly like /api/v1/query.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/soltixdb/soltix/internal/timex"
	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/planner"
	"github.com/soltixdb/soltix/query"
)

// gfString is a JSON string that also accepts a number or a boolean (and
// keeps its text).
type gfString string

func (g *gfString) UnmarshalJSON(b []byte) error {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	switch v := v.(type) {
	case nil:
		*g = ""
	case string:
		*g = gfString(v)
	case float64, bool:
		*g = gfString(strings.TrimSpace(string(b)))
	default:
		return fmt.Errorf("want a string, got %s", b)
	}
	return nil
}

// gfRange is a Grafana time range; raw (e.g. "now-6h") is ignored.
type gfRange struct {
	From json.RawMessage `json:"from"`
	To   json.RawMessage `json:"to"`
}

// gfRequestContext holds the parts of a request that macros and structured
// targets read.
type gfRequestContext struct {
	Range         json.RawMessage `json:"range"`
	IntervalMs    float64         `json:"intervalMs"`
	MaxDataPoints float64         `json:"maxDataPoints"`
}

// gfEnv is what a request's macros and structured targets expand to.
type gfEnv struct {
	now      time.Time
	hasRange bool
	from, to int64 // nanoseconds, both inclusive
	// interval is the default GROUP BY interval; intervalMs the value of
	// $__interval_ms.
	interval   query.Duration
	intervalMs int64
}

// gfDefaultMaxDataPoints is the number of points a default interval aims
// at when the request gives neither intervalMs nor maxDataPoints.
const gfDefaultMaxDataPoints = 1000

// gfEnv evaluates a request's range and interval.
func (s *server) gfEnv(rc gfRequestContext) (*gfEnv, error) {
	env := &gfEnv{now: s.now()}
	if t := strings.TrimSpace(string(rc.Range)); t != "" && t != "null" {
		var rg gfRange
		if err := json.Unmarshal(rc.Range, &rg); err != nil {
			return nil, fmt.Errorf("bad range: %v", err)
		}
		from, okFrom, err := parseGrafanaTime(rg.From)
		if err != nil {
			return nil, fmt.Errorf("bad range.from: %v", err)
		}
		to, okTo, err := parseGrafanaTime(rg.To)
		if err != nil {
			return nil, fmt.Errorf("bad range.to: %v", err)
		}
		if okFrom != okTo {
			return nil, errors.New("range needs both from and to")
		}
		if okFrom && from > to {
			return nil, fmt.Errorf("range.from %s is after range.to %s", formatNanos(from), formatNanos(to))
		}
		env.hasRange, env.from, env.to = okFrom, from, to
	}
	if rc.IntervalMs < 0 || rc.MaxDataPoints < 0 || math.IsNaN(rc.IntervalMs) || math.IsNaN(rc.MaxDataPoints) {
		return nil, errors.New("intervalMs and maxDataPoints must not be negative")
	}
	want := rc.IntervalMs * float64(time.Millisecond)
	if env.hasRange {
		span := float64(env.to) - float64(env.from)
		maxPoints := rc.MaxDataPoints
		if maxPoints == 0 && rc.IntervalMs == 0 {
			maxPoints = gfDefaultMaxDataPoints
		}
		if maxPoints > 0 {
			want = max(want, math.Ceil(span/maxPoints))
		}
	}
	env.interval = niceInterval(time.Duration(min(want, float64(math.MaxInt64/2))))
	env.intervalMs = int64(min(rc.IntervalMs, float64(math.MaxInt64/2)))
	if env.intervalMs == 0 {
		env.intervalMs = approxNanos(env.interval) / int64(time.Millisecond)
	}
	return env, nil
}

// parseGrafanaTime reads a range end: an RFC 3339 string (as Grafana sends
// it) or a number of epoch milliseconds. ok is false when it is absent.
func parseGrafanaTime(raw json.RawMessage) (t int64, ok bool, err error) {
	s := strings.TrimSpace(string(raw))
	if s == "" || s == "null" {
		return 0, false, nil
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return 0, false, err
	}
	fromMs := func(ms float64) (int64, bool, error) {
		const limit = 1 << 53 // far beyond the range; int64(ms) is exact below it
		t, ok := timex.FromUnit(int64(max(-limit, min(ms, limit))), int64(time.Millisecond))
		if !ok || math.IsNaN(ms) {
			return 0, false, fmt.Errorf("%s milliseconds is %s", s, timex.RangeText)
		}
		return t, true, nil
	}
	switch v := v.(type) {
	case string:
		if ms, err := strconv.ParseInt(v, 10, 64); err == nil {
			return fromMs(float64(ms))
		}
		t, err := query.ParseTime(v)
		return t, err == nil, err
	case float64:
		return fromMs(v)
	}
	return 0, false, fmt.Errorf("want an RFC 3339 time, got %s", s)
}

// gfNiceIntervals are the default GROUP BY intervals, each with the least
// time a bucket spans (calendar months and years vary). From 1h up they
// are whole hours, days, months or years, so that rollup levels fit them.
var gfNiceIntervals = []struct {
	d   query.Duration
	min time.Duration
}{
	{query.Duration{N: 1, Unit: query.Second}, time.Second},
	{query.Duration{N: 5, Unit: query.Second}, 5 * time.Second},
	{query.Duration{N: 10, Unit: query.Second}, 10 * time.Second},
	{query.Duration{N: 30, Unit: query.Second}, 30 * time.Second},
	{query.Duration{N: 1, Unit: query.Minute}, time.Minute},
	{query.Duration{N: 5, Unit: query.Minute}, 5 * time.Minute},
	{query.Duration{N: 10, Unit: query.Minute}, 10 * time.Minute},
	{query.Duration{N: 30, Unit: query.Minute}, 30 * time.Minute},
	{query.Duration{N: 1, Unit: query.Hour}, time.Hour},
	{query.Duration{N: 3, Unit: query.Hour}, 3 * time.Hour},
	{query.Duration{N: 6, Unit: query.Hour}, 6 * time.Hour},
	{query.Duration{N: 12, Unit: query.Hour}, 12 * time.Hour},
	{query.Duration{N: 1, Unit: query.Day}, 24 * time.Hour},
	{query.Duration{N: 7, Unit: query.Day}, 7 * 24 * time.Hour},
	{query.Duration{N: 1, Unit: query.Month}, 28 * 24 * time.Hour},
	{query.Duration{N: 3, Unit: query.Month}, 89 * 24 * time.Hour},
	{query.Duration{N: 1, Unit: query.Year}, 365 * 24 * time.Hour},
}

// niceInterval rounds want up to the first nice interval whose buckets are
// at least that long; beyond a year it takes whole years.
func niceInterval(want time.Duration) query.Duration {
	for _, n := range gfNiceIntervals {
		if want <= n.min {
			return n.d
		}
	}
	year := 365 * 24 * time.Hour
	return query.Duration{N: int64((want + year - 1) / year), Unit: query.Year}
}

// approxNanos is the length of d, with months of 30 and years of 365 days.
func approxNanos(d query.Duration) int64 {
	var n int64
	switch d.Unit {
	case query.Month:
		n, _ = timex.Mul(d.N, 30*dayNanosGrafana)
	case query.Year:
		n, _ = timex.Mul(d.N, 365*dayNanosGrafana)
	default:
		n = d.Nanos()
	}
	return n
}

const dayNanosGrafana = 24 * int64(time.Hour)

// gfMacro finds the macros in a query text.
var gfMacro = regexp.MustCompile(`\$__timeFilter(?:\([^)]*\))?|\$__timeFrom(?:\(\))?|\$__timeTo(?:\(\))?|\$__rollupInterval|\$\{__rollupInterval\}|\$__interval_ms|\$\{__interval_ms\}|\$__interval|\$\{__interval\}|\$__from|\$\{__from\}|\$__to|\$\{__to\}`)

// expandMacros replaces the macros of a query text:
//
//	$__timeFilter, $__timeFilter(x)  time >= '<from>' AND time <= '<to>'
//	$__timeFrom(), $__timeTo()       '<from>', '<to>' (RFC 3339)
//	$__interval, ${__interval}       the default GROUP BY interval, e.g. 5m
//	$__rollupInterval                the same; Grafana replaces $__interval
//	                                 with its own interval before sending,
//	                                 but leaves this one alone
//	$__interval_ms                   the request's intervalMs
//	$__from, $__to                   the range ends in epoch milliseconds
//
// A macro followed by a letter, digit or '_' is another name and stays.
func (env *gfEnv) expandMacros(text string) (string, error) {
	var b strings.Builder
	last := 0
	for _, m := range gfMacro.FindAllStringIndex(text, -1) {
		name := text[m[0]:m[1]]
		if c := name[len(name)-1]; c != ')' && c != '}' && m[1] < len(text) && isWordByte(text[m[1]]) {
			continue
		}
		b.WriteString(text[last:m[0]])
		last = m[1]
		base := strings.Trim(name, "${}")
		if i := strings.IndexByte(base, '('); i >= 0 {
			base = base[:i]
		}
		if base != "__interval" && base != "__rollupInterval" && base != "__interval_ms" && !env.hasRange {
			return "", fmt.Errorf("$%s needs the request's range", base)
		}
		switch base {
		case "__timeFilter":
			b.WriteString("time >= " + quoteTimeLiteral(env.from) + " AND time <= " + quoteTimeLiteral(env.to))
		case "__timeFrom":
			b.WriteString(quoteTimeLiteral(env.from))
		case "__timeTo":
			b.WriteString(quoteTimeLiteral(env.to))
		case "__interval", "__rollupInterval":
			b.WriteString(env.interval.String())
		case "__interval_ms":
			b.WriteString(strconv.FormatInt(env.intervalMs, 10))
		case "__from":
			b.WriteString(strconv.FormatInt(timex.ToUnit(env.from, int64(time.Millisecond)), 10))
		case "__to":
			b.WriteString(strconv.FormatInt(timex.ToUnit(env.to, int64(time.Millisecond)), 10))
		}
	}
	b.WriteString(text[last:])
	return b.String(), nil
}

func isWordByte(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func quoteTimeLiteral(t int64) string { return "'" + formatNanos(t) + "'" }

// gfStatementWords start a target that is a statement rather than a
// collection name.
var gfStatementWords = []string{"SELECT", "SHOW", "EXPLAIN", "DELETE"}

// isGrafanaStatement reports whether a target is a statement: it starts
// with SELECT, SHOW, EXPLAIN or DELETE followed by white space, or with a
// -- comment. Anything else is a collection name.
func isGrafanaStatement(target string) bool {
	t := strings.TrimSpace(target)
	if strings.HasPrefix(t, "--") {
		return true
	}
	i := strings.IndexAny(t, " \t\r\n")
	if i < 0 {
		return false
	}
	for _, w := range gfStatementWords {
		if strings.EqualFold(t[:i], w) {
			return true
		}
	}
	return false
}

// gfAdhocFilter is one ad-hoc filter of a dashboard.
type gfAdhocFilter struct {
	Key      gfString   `json:"key"`
	Operator gfString   `json:"operator"`
	Value    gfString   `json:"value"`
	Values   []gfString `json:"values"`
}

// gfTarget is one query of a panel.
type gfTarget struct {
	RefID   gfString        `json:"refId"`
	Target  *gfString       `json:"target"`
	Payload json.RawMessage `json:"payload"`
	Data    json.RawMessage `json:"data"` // the payload's name before plugin v0.3
	Hide    bool            `json:"hide"`
}

// gfQueryRequest is the body of /query: Grafana's DataQueryRequest.
type gfQueryRequest struct {
	gfRequestContext
	Targets      []gfTarget      `json:"targets"`
	Filters      []gfAdhocFilter `json:"filters"`
	AdhocFilters []gfAdhocFilter `json:"adhocFilters"`
}

// gfError is a failed target: an HTTP status and a message.
type gfError struct {
	code int
	msg  string
}

func (e *gfError) Error() string { return e.msg }

func gfBadRequest(format string, args ...any) *gfError {
	return &gfError{http.StatusBadRequest, fmt.Sprintf(format, args...)}
}

// gfPrepared is a target ready to run.
type gfPrepared struct {
	refID string
	stmt  *query.Statement
	text  string // the statement after macros, for error messages
	orig  string // the target as sent
	table bool   // answer in table shape
	alias string
}

// grafanaQuery runs the targets of a panel and answers their series and
// tables, in the order of the targets. Hidden targets and placeholders
// without a target are skipped. The first failing target fails the
// request with its status and {"error","message"}.
func (s *server) grafanaQuery(w http.ResponseWriter, r *http.Request) {
	w, lift := withWriteDeadline(w, s.opts.queryTimeout())
	defer lift()
	var req gfQueryRequest
	if !s.readGrafanaBody(w, r, &req) {
		return
	}
	env, err := s.gfEnv(req.gfRequestContext)
	if err != nil {
		writeGrafanaError(w, http.StatusBadRequest, err.Error())
		return
	}
	filters := mergeAdhocFilters(req.Filters, req.AdhocFilters)
	// The targets share the query deadline and the row and point limits:
	// a panel of many targets is bounded as one query.
	ctx, cancel := context.WithTimeout(r.Context(), s.opts.queryTimeout())
	defer cancel()
	budget := &planner.Budget{}
	b := []byte{'['}
	n := 0
	for i, t := range req.Targets {
		if t.Hide || t.Target == nil || strings.TrimSpace(string(*t.Target)) == "" {
			continue
		}
		ref := string(t.RefID)
		if ref == "" {
			ref = "#" + strconv.Itoa(i+1)
		}
		fail := func(ge *gfError) {
			s.metrics.queryErrors.Add(1)
			writeGrafanaError(w, ge.code, "query "+ref+": "+ge.msg)
		}
		s.metrics.queries.Add(1)
		p, ge := s.gfPrepare(t, env, filters)
		if ge != nil {
			fail(ge)
			return
		}
		res, err := s.grafanaExecute(ctx, p.stmt, env.now, budget)
		if err != nil {
			ge := s.gfExecError(r, err, p)
			fail(ge)
			return
		}
		p.refID = string(t.RefID)
		b, n = appendGrafanaFrames(b, n, p, res)
	}
	b = append(b, "]\n"...)
	writeJSON(w, http.StatusOK, b)
}

// mergeAdhocFilters joins the filters of Grafana (filters) and of the
// plugin (adhocFilters), dropping repeats.
func mergeAdhocFilters(a, b []gfAdhocFilter) []gfAdhocFilter {
	var out []gfAdhocFilter
	for _, f := range append(slices.Clone(a), b...) {
		if !slices.ContainsFunc(out, func(g gfAdhocFilter) bool {
			return g.Key == f.Key && g.Operator == f.Operator && g.Value == f.Value && slices.Equal(g.Values, f.Values)
		}) {
			out = append(out, f)
		}
	}
	return out
}

// grafanaExecute runs a statement of a Grafana request with the query
// deadline and limits of /api/v1/query. The deadline is ctx's when it has
// one (the request's, shared by its targets), and budget (nil for none)
// carries the rows and points of the request's earlier statements.
func (s *server) grafanaExecute(ctx context.Context, stmt *query.Statement, now time.Time, budget *planner.Budget) (*planner.Result, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.opts.queryTimeout())
		defer cancel()
	}
	opts := s.queryOptions(now, false)
	opts.Budget = budget
	return s.executeResult(ctx, stmt, opts)
}

// gfPrepare turns a target into a statement.
func (s *server) gfPrepare(t gfTarget, env *gfEnv, filters []gfAdhocFilter) (*gfPrepared, *gfError) {
	raw := t.Payload
	if len(raw) == 0 {
		raw = t.Data
	}
	payload, err := decodeGrafanaPayload(raw)
	if err != nil {
		return nil, gfBadRequest("%v", err)
	}
	p := &gfPrepared{alias: payloadString(payload[gfAlias])}
	switch f := payloadString(payload[gfFormat]); f {
	case "", "time_series", "timeseries":
	case "table":
		p.table = true
	default:
		return nil, gfBadRequest("payload.format %q: want time_series or table", f)
	}
	target := strings.TrimSpace(string(*t.Target))
	p.orig = target
	if !isGrafanaStatement(target) {
		stmt, ge := s.gfStructured(target, payload, env, filters)
		if ge != nil {
			return nil, ge
		}
		p.stmt, p.text = stmt, stmt.String()
		return p, nil
	}
	text, err := env.expandMacros(target)
	if err != nil {
		return nil, gfBadRequest("%v", err)
	}
	p.text = text
	stmt, err := query.Parse(text)
	if err != nil {
		return nil, gfBadRequest("%s", gfWithText(err.Error(), text, target))
	}
	if stmt.Delete != nil {
		return nil, gfBadRequest("DELETE statements are not run through Grafana; send them to POST /api/v1/query")
	}
	p.stmt = stmt
	if sel := stmt.Select; sel != nil {
		fs, ge := s.gfFilterExprs(sel.From, filters)
		if ge != nil {
			return nil, ge
		}
		sel.Where = andExprs(append([]query.Expr{sel.Where}, fs...)...)
		if !p.table && payloadString(payload[gfFormat]) == "" && !hasAggregate(sel) {
			p.table = true // a raw select is a table unless asked otherwise
		}
	}
	if stmt.Show != nil || stmt.Explain {
		p.table = true
	}
	return p, nil
}

// gfWithText adds the query text to an error message when macros changed
// it, so that positions can be followed.
func gfWithText(msg, text, original string) string {
	if text == original {
		return msg
	}
	return msg + " (in: " + text + ")"
}

func hasAggregate(sel *query.Select) bool {
	return slices.ContainsFunc(sel.Items, func(it query.Item) bool { return it.Func != "" })
}

// gfExecError maps an execution error to a status and message, like
// /api/v1/query does.
func (s *server) gfExecError(r *http.Request, err error, p *gfPrepared) *gfError {
	var pe *planner.Error
	switch {
	case errors.Is(err, planner.ErrLimit):
		return &gfError{http.StatusUnprocessableEntity, gfWithText(err.Error(), p.text, p.orig)}
	case errors.As(err, &pe):
		return gfBadRequest("%s", gfWithText(pe.Error(), p.text, p.orig))
	case errors.Is(err, context.DeadlineExceeded) && r.Context().Err() == nil:
		return &gfError{http.StatusServiceUnavailable, fmt.Sprintf("query ran past its deadline of %s (query.timeout)", s.opts.queryTimeout())}
	case errors.Is(err, planner.ErrNotFound):
		msg := err.Error()
		if c := statementCollection(p.stmt); c != "" {
			msg = fmt.Sprintf("collection %q not found", c)
		}
		return &gfError{http.StatusNotFound, msg}
	}
	code, msg := storeErrorStatus(err)
	if code == http.StatusInternalServerError {
		s.log.ErrorContext(r.Context(), "grafana query", "q", p.text, "err", err)
	}
	return &gfError{code, msg}
}

// gfStructured builds the SELECT of a structured target: the collection
// and a payload of
//
//	field      field name(s); default: every numeric field
//	aggregate  avg, min, max, sum, count, first, last, spread, stddev, pNN
//	           (percentile NN), or several; default avg (last for fields
//	           that are not numeric)
//	groupBy    tag key(s)
//	tag.<key>  value(s) the tag must have; /re/ matches a regular expression
//	where      a condition ANDed to the WHERE clause
//	interval   GROUP BY interval; default: from intervalMs and maxDataPoints
//	fill       null, none, previous, linear or a number
func (s *server) gfStructured(coll string, payload map[string]any, env *gfEnv, filters []gfAdhocFilter) (*query.Statement, *gfError) {
	if strings.HasPrefix(coll, `"`) && strings.HasSuffix(coll, `"`) && len(coll) >= 2 {
		coll = coll[1 : len(coll)-1]
	}
	fields, ok := s.store.Fields(coll)
	if !ok {
		return nil, &gfError{http.StatusNotFound, fmt.Sprintf("collection %q not found", coll)}
	}
	if !env.hasRange {
		return nil, gfBadRequest("a structured target needs the request's range")
	}
	names := payloadList(payload[gfField], true)
	if len(names) == 0 {
		for _, f := range sortedFieldNames(fields) {
			if fields[f].Numeric() {
				names = append(names, f)
			}
		}
		if len(names) == 0 {
			return nil, gfBadRequest("collection %q has no numeric field: set payload.field", coll)
		}
	}
	aggs := payloadList(payload[gfAggregate], true)
	sel := &query.Select{From: coll}
	for _, f := range names {
		list := aggs
		if len(list) == 0 {
			list = []string{"avg"}
			if k, ok := fields[f]; ok && !k.Numeric() {
				list = []string{"last"}
			}
		}
		for _, a := range list {
			it, err := gfAggItem(f, a)
			if err != nil {
				return nil, gfBadRequest("payload.aggregate: %v", err)
			}
			sel.Items = append(sel.Items, it)
		}
	}

	where := andExprs(
		&query.Compare{Name: "time", Op: ">=", Value: query.Literal{Kind: query.LitString, Str: formatNanos(env.from)}},
		&query.Compare{Name: "time", Op: "<=", Value: query.Literal{Kind: query.LitString, Str: formatNanos(env.to)}},
	)
	var keys []string
	for k := range payload {
		if strings.HasPrefix(k, gfTagPrefix) && len(k) > len(gfTagPrefix) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		e, err := gfTagCondition(strings.TrimPrefix(k, gfTagPrefix), payloadList(payload[k], false))
		if err != nil {
			return nil, gfBadRequest("payload.%s: %v", k, err)
		}
		where = andExprs(where, e)
	}
	if cond := payloadString(payload[gfWhere]); cond != "" {
		e, err := parseCondition(cond)
		if err != nil {
			return nil, gfBadRequest("payload.where: %v", err)
		}
		where = andExprs(where, e)
	}
	fs, ge := s.gfFilterExprs(coll, filters)
	if ge != nil {
		return nil, ge
	}
	sel.Where = andExprs(append([]query.Expr{where}, fs...)...)

	iv := env.interval
	if v := payloadString(payload[gfInterval]); v != "" && v != "auto" && v != "$__interval" {
		d, ok := parseGrafanaDuration(v)
		if !ok {
			return nil, gfBadRequest("payload.interval %q: want a duration such as 30s, 5m, 1h, 1d or 1M, or auto", v)
		}
		iv = d
	}
	sel.GroupBy = &iv
	sel.GroupTags = payloadList(payload[gfGroupBy], true)
	fill, err := parseGrafanaFill(payloadString(payload[gfFill]))
	if err != nil {
		return nil, gfBadRequest("payload.fill: %v", err)
	}
	sel.Fill = fill
	return &query.Statement{Select: sel}, nil
}

// gfAggItem is agg(field); pNN is percentile(field, NN).
func gfAggItem(field, agg string) (query.Item, error) {
	a := strings.ToLower(strings.TrimSpace(agg))
	if a == "mean" {
		a = "avg"
	}
	if strings.HasPrefix(a, "p") && len(a) > 1 {
		p, err := strconv.ParseFloat(a[1:], 64)
		if err != nil || p < 0 || p > 100 || math.IsNaN(p) {
			return query.Item{}, fmt.Errorf("%q: a percentile is p0 … p100, e.g. p95", agg)
		}
		return query.Item{Func: "percentile", Field: field, Arg: p}, nil
	}
	if a == "percentile" || !slices.Contains(query.Aggregates, a) {
		return query.Item{}, fmt.Errorf("unknown aggregate %q (known: %s, p<N>)", agg, strings.Join(gfAggregates[:9], ", "))
	}
	return query.Item{Func: a, Field: field}, nil
}

var gfDurationRe = regexp.MustCompile(`^([0-9]+)(ns|us|µs|ms|s|m|h|d|w|M|y)$`)

var gfUnits = map[string]query.Unit{
	"ns": query.Nanosecond, "us": query.Microsecond, "µs": query.Microsecond, "ms": query.Millisecond,
	"s": query.Second, "m": query.Minute, "h": query.Hour, "d": query.Day, "w": query.Week,
	"M": query.Month, "y": query.Year,
}

// parseGrafanaDuration reads a duration literal such as 30s or 1M.
func parseGrafanaDuration(s string) (query.Duration, bool) {
	m := gfDurationRe.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return query.Duration{}, false
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil || n <= 0 {
		return query.Duration{}, false
	}
	return query.Duration{N: n, Unit: gfUnits[m[2]]}, true
}

func parseGrafanaFill(s string) (query.Fill, error) {
	switch strings.ToLower(s) {
	case "", "null":
		return query.Fill{Mode: query.FillNull}, nil
	case "none":
		return query.Fill{Mode: query.FillNone}, nil
	case "previous":
		return query.Fill{Mode: query.FillPrevious}, nil
	case "linear":
		return query.Fill{Mode: query.FillLinear}, nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return query.Fill{}, fmt.Errorf("%q: want null, none, previous, linear or a number", s)
	}
	return query.Fill{Mode: query.FillValue, Value: v}, nil
}

// gfTagCondition is key IN (values...), OR key =~ /re/ for values written
// as /re/.
func gfTagCondition(key string, values []string) (query.Expr, error) {
	var plain []query.Literal
	var exprs []query.Expr
	for _, v := range values {
		if len(v) >= 2 && strings.HasPrefix(v, "/") && strings.HasSuffix(v, "/") {
			lit, err := regexLiteral(v[1 : len(v)-1])
			if err != nil {
				return nil, err
			}
			exprs = append(exprs, &query.Compare{Name: key, Op: "=~", Value: lit})
			continue
		}
		plain = append(plain, query.Literal{Kind: query.LitString, Str: v})
	}
	switch len(plain) {
	case 0:
	case 1:
		exprs = append([]query.Expr{&query.Compare{Name: key, Op: "=", Value: plain[0]}}, exprs...)
	default:
		exprs = append([]query.Expr{&query.In{Name: key, Values: plain}}, exprs...)
	}
	var e query.Expr
	for _, x := range exprs {
		if e == nil {
			e = x
		} else {
			e = &query.Binary{Op: "OR", LHS: e, RHS: x}
		}
	}
	return e, nil
}

func regexLiteral(src string) (query.Literal, error) {
	re, err := regexp.Compile(src)
	if err != nil {
		return query.Literal{}, fmt.Errorf("bad regular expression %q: %s", src, strings.TrimPrefix(err.Error(), "error parsing regexp: "))
	}
	return query.Literal{Kind: query.LitRegex, Str: src, Regex: re}, nil
}

// parseCondition parses a WHERE condition on its own.
func parseCondition(cond string) (query.Expr, error) {
	const prefix = "SELECT count(x) FROM x WHERE "
	stmt, err := query.Parse(prefix + cond)
	if err != nil {
		var qe *query.Error
		if errors.As(err, &qe) && qe.Pos.Line == 1 && qe.Pos.Column > len(prefix) {
			return nil, fmt.Errorf("column %d: %s", qe.Pos.Column-len(prefix), qe.Message)
		}
		if errors.As(err, &qe) {
			return nil, errors.New(qe.Message)
		}
		return nil, err
	}
	sel := stmt.Select
	if sel == nil || sel.Where == nil || sel.GroupBy != nil || len(sel.GroupTags) > 0 || sel.Limit != 0 || sel.Offset != 0 || sel.Desc || sel.Fill.Mode != query.FillNull {
		return nil, fmt.Errorf("%q is not a condition", cond)
	}
	return sel.Where, nil
}

// andExprs joins the non-nil expressions with AND.
func andExprs(es ...query.Expr) query.Expr {
	var out query.Expr
	for _, e := range es {
		switch {
		case e == nil:
		case out == nil:
			out = e
		default:
			out = &query.Binary{Op: "AND", LHS: out, RHS: e}
		}
	}
	return out
}

// gfFilterExprs turns the ad-hoc filters into conditions on collection
// coll, to be joined with AND. Filters on keys the collection has neither as a tag nor as a
// field are left out: a dashboard's filters apply to the panels they make
// sense for.
func (s *server) gfFilterExprs(coll string, filters []gfAdhocFilter) ([]query.Expr, *gfError) {
	if len(filters) == 0 {
		return nil, nil
	}
	fields, _ := s.store.Fields(coll)
	tags := s.store.TagKeys(coll)
	var out []query.Expr
	for _, f := range filters {
		key, op := string(f.Key), strings.TrimSpace(string(f.Operator))
		kind, isField := fields[key]
		if !isField && !slices.Contains(tags, key) {
			continue
		}
		lit := func(v string) (query.Literal, error) {
			if !isField {
				return query.Literal{Kind: query.LitString, Str: v}, nil
			}
			return literalForKind(kind, v)
		}
		var e query.Expr
		switch op {
		case "=", "!=", "<", ">", "<=", ">=":
			l, err := lit(string(f.Value))
			if err != nil {
				return nil, gfBadRequest("ad-hoc filter %s %s %s: %v", key, op, f.Value, err)
			}
			e = &query.Compare{Name: key, Op: op, Value: l}
		case "=~", "!~":
			l, err := regexLiteral(string(f.Value))
			if err != nil {
				return nil, gfBadRequest("ad-hoc filter %s %s %s: %v", key, op, f.Value, err)
			}
			e = &query.Compare{Name: key, Op: op, Value: l}
		case "=|", "!=|":
			vals := f.Values
			if len(vals) == 0 {
				vals = []gfString{f.Value}
			}
			in := &query.In{Name: key, Not: op == "!=|"}
			for _, v := range vals {
				l, err := lit(string(v))
				if err != nil {
					return nil, gfBadRequest("ad-hoc filter %s %s %s: %v", key, op, v, err)
				}
				in.Values = append(in.Values, l)
			}
			e = in
		default:
			return nil, gfBadRequest("ad-hoc filter on %s: operator %q is not supported (use =, !=, <, >, <=, >=, =~, !~, =|, !=|)", key, op)
		}
		out = append(out, e)
	}
	return out, nil
}

// literalForKind reads an ad-hoc filter's value for a field of the kind.
func literalForKind(kind model.Kind, v string) (query.Literal, error) {
	switch {
	case kind.Numeric():
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			return query.Literal{Kind: query.LitInteger, Int: n}, nil
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return query.Literal{}, fmt.Errorf("the field is %s: %q is not a number", kind, v)
		}
		return query.Literal{Kind: query.LitNumber, Num: f}, nil
	case kind == model.KindBool:
		b, err := strconv.ParseBool(v)
		if err != nil {
			return query.Literal{}, fmt.Errorf("the field is boolean: %q is not true or false", v)
		}
		return query.Literal{Kind: query.LitBool, Bool: b}, nil
	}
	return query.Literal{Kind: query.LitString, Str: v}, nil
}

// gfMeta is the DataFrame meta of a series or table: the statement run
// (Grafana's query inspector shows it), what each level gave, and notes
// (shown in the panel).
type gfMeta struct {
	ExecutedQueryString string     `json:"executedQueryString"`
	Stats               []gfStat   `json:"stats,omitempty"`
	Notices             []gfNotice `json:"notices,omitempty"`
}

type gfStat struct {
	DisplayName string `json:"displayName"`
	Value       int64  `json:"value"`
}

type gfNotice struct {
	Severity string `json:"severity"`
	Text     string `json:"text"`
}

// gfMetaJSON encodes the meta of a target's frames; notices only when
// withNotices is set (the first frame of a target).
func gfMetaJSON(p *gfPrepared, res *planner.Result, withNotices bool) []byte {
	m := gfMeta{ExecutedQueryString: p.stmt.String()}
	if st := res.Stats; st != nil {
		for _, l := range st.Levels {
			if l.Level == "raw" {
				if l.Points > 0 {
					m.Stats = append(m.Stats, gfStat{"raw points", l.Points})
				}
				if l.Blocks > 0 {
					m.Stats = append(m.Stats, gfStat{"raw block statistics", l.Blocks})
				}
				continue
			}
			if l.Rows > 0 {
				m.Stats = append(m.Stats, gfStat{l.Level + " rollup rows", l.Rows})
			}
		}
		if withNotices {
			for _, n := range st.Notes {
				m.Notices = append(m.Notices, gfNotice{"info", n})
			}
		}
	}
	return marshalNoEscape(m)
}

// marshalNoEscape is json.Marshal without escaping <, > and & (queries are
// full of them).
func marshalNoEscape(v any) []byte {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return []byte("null")
	}
	return []byte(strings.TrimSuffix(b.String(), "\n"))
}

// appendGrafanaFrames appends the frames of one target's result to the
// array in b, which holds n frames so far.
func appendGrafanaFrames(b []byte, n int, p *gfPrepared, res *planner.Result) ([]byte, int) {
	sep := func() {
		if n > 0 {
			b = append(b, ',')
		}
		n++
	}
	if p.table || res.TimeColumn < 0 {
		sep()
		return appendGrafanaTable(b, p, res), n
	}
	nTags := 0
	raw := false
	if sel := p.stmt.Select; sel != nil {
		nTags = len(sel.GroupTags)
		raw = !hasAggregate(sel)
	}
	for i, sr := range grafanaSeries(res, nTags, raw) {
		sep()
		b = append(b, `{"target":`...)
		b = appendJSONString(b, gfSeriesName(res.Columns[sr.col], res.Columns[1:1+nTags], sr.tags, p.alias))
		if p.refID != "" {
			b = append(b, `,"refId":`...)
			b = appendJSONString(b, p.refID)
		}
		b = append(b, `,"datapoints":[`...)
		for j := range sr.times {
			if j > 0 {
				b = append(b, ',')
			}
			b = append(b, '[')
			b = appendGrafanaValue(b, sr.vals[j], true)
			b = append(b, ',')
			b = strconv.AppendInt(b, timex.ToUnit(sr.times[j], int64(time.Millisecond)), 10)
			b = append(b, ']')
		}
		b = append(b, `],"meta":`...)
		b = append(b, gfMetaJSON(p, res, i == 0)...)
		b = append(b, '}')
	}
	return b, n
}

// gfSeriesData is one series of a result: one value column of one tag
// group.
type gfSeriesData struct {
	col   int
	tags  []string
	times []int64
	vals  []model.Value
}

// grafanaSeries splits a result into series: for each value column, one
// series per tag group (groups in ascending order of their tag values).
// Columns 1..nTags hold the GROUP BY tags. A raw select leaves out the
// rows where a column is null (the row lacks that field).
func grafanaSeries(res *planner.Result, nTags int, raw bool) []gfSeriesData {
	type group struct {
		tags []string
		rows []int
	}
	var groups []*group
	index := map[string]*group{}
	for i, row := range res.Rows {
		tags := make([]string, nTags)
		for k := range nTags {
			tags[k] = row[1+k].Str()
		}
		key := strings.Join(tags, "\x00")
		g := index[key]
		if g == nil {
			g = &group{tags: tags}
			index[key] = g
			groups = append(groups, g)
		}
		g.rows = append(g.rows, i)
	}
	slices.SortStableFunc(groups, func(a, b *group) int { return slices.Compare(a.tags, b.tags) })
	var out []gfSeriesData
	for c := 1 + nTags; c < len(res.Columns); c++ {
		if c == res.TimeColumn {
			continue
		}
		for _, g := range groups {
			sr := gfSeriesData{col: c, tags: g.tags}
			for _, i := range g.rows {
				v := res.Rows[i][c]
				if raw && v.IsNull() {
					continue
				}
				sr.times = append(sr.times, res.Rows[i][res.TimeColumn].Int())
				sr.vals = append(sr.vals, v)
			}
			if raw && len(sr.times) == 0 {
				continue
			}
			out = append(out, sr)
		}
	}
	return out
}

// gfSeriesName names a series: the column, then the group's tags as
// {k=v, ...}. An alias replaces the column name; in it $col stands for the
// column name and $tag_<key> for a tag's value, and when it uses any
// $tag_ the {...} part is left off.
func gfSeriesName(col string, keys, tags []string, alias string) string {
	name := col
	suffix := len(keys) > 0
	if alias != "" {
		order := make([]int, len(keys))
		for i := range order {
			order[i] = i
		}
		// Longer keys first, so that $tag_ab is not taken for $tag_a + "b".
		slices.SortFunc(order, func(a, b int) int { return len(keys[b]) - len(keys[a]) })
		name = alias
		for _, i := range order {
			name = strings.ReplaceAll(name, "$tag_"+keys[i], tags[i])
		}
		if strings.Contains(alias, "$tag_") {
			suffix = false
		}
		name = strings.ReplaceAll(name, "$col", col)
	}
	if !suffix {
		return name
	}
	var b strings.Builder
	b.WriteString(name)
	b.WriteString(" {")
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(tags[i])
	}
	b.WriteByte('}')
	return b.String()
}

// appendGrafanaValue appends a value as JSON; in datapoints (numeric) a
// boolean is 1 or 0.
func appendGrafanaValue(b []byte, v model.Value, numeric bool) []byte {
	switch v.Kind {
	case model.KindFloat:
		return appendJSONFloat(b, v.Float())
	case model.KindInt:
		return strconv.AppendInt(b, v.Int(), 10)
	case model.KindUint:
		return strconv.AppendUint(b, v.Uint(), 10)
	case model.KindBool:
		if numeric {
			if v.Bool() {
				return append(b, '1')
			}
			return append(b, '0')
		}
		return strconv.AppendBool(b, v.Bool())
	case model.KindString:
		return appendJSONString(b, v.Str())
	}
	return append(b, "null"...)
}

// appendGrafanaTable appends a result as a table: times in epoch
// milliseconds, column types time, number, string or boolean.
func appendGrafanaTable(b []byte, p *gfPrepared, res *planner.Result) []byte {
	b = append(b, `{"type":"table"`...)
	if p.refID != "" {
		b = append(b, `,"refId":`...)
		b = appendJSONString(b, p.refID)
	}
	b = append(b, `,"columns":[`...)
	for c, name := range res.Columns {
		if c > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"text":`...)
		b = appendJSONString(b, name)
		b = append(b, `,"type":"`...)
		b = append(b, gfColumnType(p, res, c)...)
		b = append(b, `"}`...)
	}
	b = append(b, `],"rows":[`...)
	for i, row := range res.Rows {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '[')
		for c, v := range row {
			if c > 0 {
				b = append(b, ',')
			}
			if c == res.TimeColumn && v.Kind == model.KindInt {
				b = strconv.AppendInt(b, timex.ToUnit(v.Int(), int64(time.Millisecond)), 10)
				continue
			}
			b = appendGrafanaValue(b, v, false)
		}
		b = append(b, ']')
	}
	b = append(b, `],"meta":`...)
	b = append(b, gfMetaJSON(p, res, true)...)
	return append(b, '}')
}

// gfColumnType is the Grafana field type of column c: from its first
// non-null value, else number for aggregates and string for the rest.
func gfColumnType(p *gfPrepared, res *planner.Result, c int) string {
	if c == res.TimeColumn {
		return "time"
	}
	for _, row := range res.Rows {
		switch row[c].Kind {
		case model.KindFloat, model.KindInt, model.KindUint:
			return "number"
		case model.KindString:
			return "string"
		case model.KindBool:
			return "boolean"
		}
	}
	if sel := p.stmt.Select; sel != nil && !p.stmt.Explain && hasAggregate(sel) && c > len(sel.GroupTags) {
		return "number"
	}
	return "string"
}

// gfVarValue is one value of a template variable.
type gfVarValue struct {
	Text  string `json:"__text"`
	Value string `json:"__value"`
}

// grafanaVariable answers a template variable's query: the payload's
// target (or query) is a statement, e.g. SHOW TAG VALUES FROM c WITH KEY =
// device_id; the answer is [{"__text","__value"}, ...].
func (s *server) grafanaVariable(w http.ResponseWriter, r *http.Request) {
	var req struct {
		gfRequestContext
		Payload json.RawMessage `json:"payload"`
		Target  gfString        `json:"target"`
	}
	if !s.readGrafanaBody(w, r, &req) {
		return
	}
	var text string
	var str string
	if err := json.Unmarshal(req.Payload, &str); err == nil && !strings.HasPrefix(strings.TrimSpace(str), "{") {
		text = str // the variable's query as a plain string
	} else if payload, err := decodeGrafanaPayload(req.Payload); err == nil {
		text = payloadString(payload["target"])
		if text == "" {
			text = payloadString(payload["query"])
		}
	}
	if strings.TrimSpace(text) == "" {
		text = string(req.Target)
	}
	if strings.TrimSpace(text) == "" {
		writeGrafanaError(w, http.StatusBadRequest, `missing query: send {"payload": {"target": "SHOW ..."}}`)
		return
	}
	vals, code, err := s.gfVariableValues(r, text, req.gfRequestContext)
	if err != nil {
		writeGrafanaError(w, code, err.Error())
		return
	}
	s.sendGrafanaJSON(w, r, vals)
}

// gfVariableValues runs a variable query and returns its values: the
// __text and __value columns when the result has them, the value column
// of SHOW TAG VALUES, else the first column that is not time; without
// repeats, in the result's order.
func (s *server) gfVariableValues(r *http.Request, text string, rc gfRequestContext) ([]gfVarValue, int, error) {
	_, res, code, err := s.gfRunText(r, text, rc)
	if err != nil {
		return nil, code, err
	}
	textCol, valueCol := slices.Index(res.Columns, "__text"), slices.Index(res.Columns, "__value")
	switch {
	case textCol < 0 && valueCol >= 0:
		textCol = valueCol
	case textCol >= 0 && valueCol < 0:
		valueCol = textCol
	case textCol < 0:
		textCol = -1
		if len(res.Columns) == 2 && res.Columns[0] == "key" && res.Columns[1] == "value" && res.TimeColumn < 0 {
			textCol = 1
		}
		for c := range res.Columns {
			if textCol < 0 && c != res.TimeColumn {
				textCol = c
			}
		}
		valueCol = textCol
	}
	out := []gfVarValue{}
	if textCol < 0 {
		return out, 0, nil
	}
	seen := map[gfVarValue]bool{}
	for _, row := range res.Rows {
		if row[textCol].IsNull() && row[valueCol].IsNull() {
			continue
		}
		v := gfVarValue{Text: gfValueText(row[textCol]), Value: gfValueText(row[valueCol])}
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out, 0, nil
}

// gfRunText expands macros in a statement, runs it and returns the result;
// DELETE is refused.
func (s *server) gfRunText(r *http.Request, text string, rc gfRequestContext) (*query.Statement, *planner.Result, int, error) {
	env, err := s.gfEnv(rc)
	if err != nil {
		return nil, nil, http.StatusBadRequest, err
	}
	expanded, err := env.expandMacros(text)
	if err != nil {
		return nil, nil, http.StatusBadRequest, err
	}
	stmt, err := query.Parse(expanded)
	if err != nil {
		return nil, nil, http.StatusBadRequest, errors.New(gfWithText(err.Error(), expanded, text))
	}
	if stmt.Delete != nil {
		return nil, nil, http.StatusBadRequest, errors.New("DELETE statements are not run through Grafana; send them to POST /api/v1/query")
	}
	s.metrics.queries.Add(1)
	res, err := s.grafanaExecute(r.Context(), stmt, env.now, nil)
	if err != nil {
		s.metrics.queryErrors.Add(1)
		ge := s.gfExecError(r, err, &gfPrepared{stmt: stmt, text: expanded, orig: text})
		return nil, nil, ge.code, ge
	}
	return stmt, res, 0, nil
}

// gfValueText formats a value as text: strings as they are, numbers and
// booleans as in JSON, null as "".
func gfValueText(v model.Value) string {
	switch v.Kind {
	case model.KindString:
		return v.Str()
	case model.KindNull:
		return ""
	}
	return string(appendGrafanaValue(nil, v, false))
}

// gfAnnotation is one annotation of the legacy /annotations answer.
type gfAnnotation struct {
	Annotation json.RawMessage `json:"annotation"`
	Time       int64           `json:"time"`
	Title      string          `json:"title"`
	Text       string          `json:"text"`
	Tags       []string        `json:"tags"`
}

// grafanaAnnotations answers the legacy annotation request: annotation.query
// is a SELECT (macros allowed) whose rows become annotations. time is the
// row's time; title the column "title", else the annotation's name; text
// the column "text", else "column=value" of the other columns; tags the
// column "tags" split at commas, else the GROUP BY tags as key=value.
func (s *server) grafanaAnnotations(w http.ResponseWriter, r *http.Request) {
	var req struct {
		gfRequestContext
		Annotation json.RawMessage `json:"annotation"`
	}
	if !s.readGrafanaBody(w, r, &req) {
		return
	}
	var ann struct {
		Name  gfString `json:"name"`
		Query gfString `json:"query"`
	}
	if len(req.Annotation) > 0 {
		if err := json.Unmarshal(req.Annotation, &ann); err != nil {
			writeGrafanaError(w, http.StatusBadRequest, "bad annotation: "+err.Error())
			return
		}
	}
	text := strings.TrimSpace(string(ann.Query))
	if text == "" {
		writeGrafanaError(w, http.StatusBadRequest, `missing annotation.query: a SELECT whose rows become annotations`)
		return
	}
	stmt, res, code, err := s.gfRunText(r, text, req.gfRequestContext)
	if err != nil {
		writeGrafanaError(w, code, err.Error())
		return
	}
	if res.TimeColumn < 0 {
		writeGrafanaError(w, http.StatusBadRequest, "an annotation query must be a SELECT: its rows need a time")
		return
	}
	nTags := 0
	if stmt.Select != nil {
		nTags = len(stmt.Select.GroupTags)
	}
	titleCol, textCol, tagsCol := slices.Index(res.Columns, "title"), slices.Index(res.Columns, "text"), slices.Index(res.Columns, "tags")
	echo := req.Annotation
	if len(echo) == 0 {
		echo = json.RawMessage("null")
	}
	out := make([]gfAnnotation, 0, len(res.Rows))
	for _, row := range res.Rows {
		a := gfAnnotation{Annotation: echo, Title: string(ann.Name), Tags: []string{}}
		a.Time = timex.ToUnit(row[res.TimeColumn].Int(), int64(time.Millisecond))
		if titleCol >= 0 && !row[titleCol].IsNull() {
			a.Title = gfValueText(row[titleCol])
		}
		if textCol >= 0 {
			a.Text = gfValueText(row[textCol])
		} else {
			var parts []string
			for c, v := range row {
				if c == res.TimeColumn || c == titleCol || c == tagsCol || v.IsNull() || (tagsCol < 0 && c >= 1 && c <= nTags) {
					continue
				}
				parts = append(parts, res.Columns[c]+"="+gfValueText(v))
			}
			a.Text = strings.Join(parts, ", ")
		}
		if tagsCol >= 0 {
			for _, t := range strings.Split(gfValueText(row[tagsCol]), ",") {
				if t = strings.TrimSpace(t); t != "" {
					a.Tags = append(a.Tags, t)
				}
			}
		} else {
			for k := range nTags {
				a.Tags = append(a.Tags, res.Columns[1+k]+"="+gfValueText(row[1+k]))
			}
		}
		out = append(out, a)
	}
	s.sendGrafanaJSON(w, r, out)
}
