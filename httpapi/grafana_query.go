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
	// maxDataPoints is the request's, 0 when not given: raw series
	// longer than it are downsampled (grafana_downsample.go).
	maxDataPoints int
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
	env.maxDataPoints = int(min(rc.MaxDataPoints, math.MaxInt32))
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
	// maxPoints bounds the points of each series of a raw select, 0 for
	// none (grafana_downsample.go).
	maxPoints int
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
		if target := strings.TrimSpace(string(*t.Target)); !isGrafanaStatement(target) {
			// A collection's name: refuse before its fields are looked up.
			if err := checkCollection(ctx, "read", target); err != nil {
				fail(s.gfExecError(r, err, &gfPrepared{}))
				return
			}
		}
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
		p.maxPoints = env.maxDataPoints
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
	case errors.Is(err, errForbidden):
		s.metrics.authDenials.Add(1)
		return &gfError{http.StatusForbidden, err.Error()}
	case errors.Is(err, planner.ErrLimit):
		s.countQueryLimit(err)
		return &gfError{http.StatusUnprocessableEntity, gfWithText(err.Error(), p.text, p.orig)}
	case errors.As(err, &pe):
		return gfBadRequest("%s", gfWithText(pe.Error(), p.text, p.orig))
	case errors.Is(err, context.DeadlineExceeded) && r.Context().Err() == nil:
		s.metrics.limits.hit(limitQueryTimeout)
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
