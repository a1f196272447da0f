package httpapi

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/soltixdb/soltix/lineproto"
	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/planner"
)

// Limits on what requests may do at once and how fast collections may
// grow (docs/limits.md): the queries and the writes handled at once, the
// points of one write, and the new series a collection may gain per
// minute. Each refusal, like every other limit's, is counted in
// soltix_limit_rejections_total by the setting that holds the limit.

// Defaults of the limits of this file.
const (
	// DefaultMaxConcurrentQueries is the number of query requests handled
	// at once when Options.MaxConcurrentQueries is 0.
	DefaultMaxConcurrentQueries = 256
	// DefaultMaxConcurrentWrites is the number of write requests handled
	// at once when Options.MaxConcurrentWrites is 0.
	DefaultMaxConcurrentWrites = 512
	// DefaultMaxLines is the number of points one write may hold when
	// Options.MaxLines is 0.
	DefaultMaxLines = 1_000_000
	// DefaultNewSeriesPerMinute is the number of series a collection may
	// gain per minute when Options.NewSeriesPerMinute is 0.
	DefaultNewSeriesPerMinute = 100_000
)

// Setting names of the limits, the label values of
// soltix_limit_rejections_total.
const (
	limitBodyBytes          = "http.max_body_bytes"
	limitInflightBodyBytes  = "http.max_inflight_body_bytes"
	limitBodyTimeout        = "http.body_timeout"
	limitMaxConnections     = "http.max_connections"
	limitMaxLines           = "limits.max_lines"
	limitNewSeriesPerMinute = "limits.new_series_per_minute"
	limitConcurrentQueries  = "limits.max_concurrent_queries"
	limitConcurrentWrites   = "limits.max_concurrent_writes"
	limitQueryTimeout       = "query.timeout"
)

// limitNames are every limit counted by soltix_limit_rejections_total, in
// the order written; each is written even at 0, so that alerts can be set
// on a series that exists.
var limitNames = []string{
	limitBodyBytes, limitInflightBodyBytes, limitBodyTimeout, limitMaxConnections,
	limitMaxLines, limitNewSeriesPerMinute, limitConcurrentQueries, limitConcurrentWrites,
	limitQueryTimeout, planner.SettingMaxRows, planner.SettingMaxPoints, planner.SettingMaxBytes,
	limitReadHeaderTimeout, limitIdleTimeout, limitMaxHeaderBytes,
}

// connRefusals counts the connections and requests refused for
// http.max_connections. The refusals happen below the handler (the
// listener, NewServer), so the count is the process's, like the other
// connection-level counts (connstats.go).
var connRefusals atomic.Uint64

// limitCounters counts refusals per limit. It is safe for concurrent use.
type limitCounters struct {
	n map[string]*atomic.Uint64 // keys fixed at creation: limitNames
}

func newLimitCounters() *limitCounters {
	c := &limitCounters{n: make(map[string]*atomic.Uint64, len(limitNames))}
	for _, name := range limitNames {
		c.n[name] = new(atomic.Uint64)
	}
	return c
}

// hit counts one refusal for the limit held by setting.
func (c *limitCounters) hit(setting string) {
	if v := c.n[setting]; v != nil {
		v.Add(1)
	}
}

// write writes soltix_limit_rejections_total.
func (c *limitCounters) write(b *bytes.Buffer) {
	b.WriteString("# HELP soltix_limit_rejections_total Requests, connections or points refused by a limit, by the setting that holds it (docs/limits.md).\n")
	b.WriteString("# TYPE soltix_limit_rejections_total counter\n")
	for _, name := range limitNames {
		v := c.n[name].Load()
		if n, ok := connCounts(name); ok {
			v += n
		}
		b.WriteString(`soltix_limit_rejections_total{limit="` + name + `"} ` + strconv.FormatUint(v, 10) + "\n")
	}
}

// countBodyLimit counts a refusal of readBody (or a form read) by its
// status.
func (s *server) countBodyLimit(code int) {
	switch code {
	case http.StatusRequestEntityTooLarge:
		s.metrics.limits.hit(limitBodyBytes)
	case http.StatusServiceUnavailable:
		s.metrics.limits.hit(limitInflightBodyBytes)
	case http.StatusRequestTimeout:
		s.metrics.limits.hit(limitBodyTimeout)
	}
}

// admitKinds says which routes (guard's op names) take a slot of which
// limit of requests handled at once.
var admitKinds = map[string]string{
	"POST /api/v1/write":  limitConcurrentWrites,
	"POST /write":         limitConcurrentWrites,
	"POST /api/v2/write":  limitConcurrentWrites,
	"GET /api/v1/query":   limitConcurrentQueries,
	"POST /api/v1/query":  limitConcurrentQueries,
	"GET /query":          limitConcurrentQueries,
	"POST /query":         limitConcurrentQueries,
	"POST /grafana/query": limitConcurrentQueries,
}

// slots is a limit of requests handled at once (max <= 0: none).
type slots struct {
	max  int64
	used atomic.Int64
}

func newSlots(n, def int) *slots {
	if n == 0 {
		n = def
	}
	return &slots{max: int64(n)}
}

// admit makes h, the handler of the route op, take a slot of its limit of
// requests handled at once, if it has one: a request finding none free is
// answered 429 with Retry-After at once, its body unread, rather than
// queued.
func (s *server) admit(op string, h http.HandlerFunc) http.HandlerFunc {
	kind, ok := admitKinds[op]
	if !ok {
		return h
	}
	sl, what := s.queries, "queries"
	if kind == limitConcurrentWrites {
		sl, what = s.writes, "writes"
	}
	if sl.max <= 0 {
		return h
	}
	msg := fmt.Sprintf("too many %s at once (%d, %s); retry later", what, sl.max, kind)
	deny := writeError
	if op == "POST /grafana/query" {
		deny = writeGrafanaError
	}
	return func(w http.ResponseWriter, r *http.Request) {
		if sl.used.Add(1) > sl.max {
			sl.used.Add(-1)
			s.metrics.limits.hit(kind)
			if kind == limitConcurrentWrites {
				s.metrics.writeRejected(writeReasonLimit)
			} else {
				s.metrics.queryErrors.Add(1)
			}
			w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds))
			if r.ProtoMajor == 1 {
				w.Header().Set("Connection", "close") // the body is not read
			}
			deny(w, http.StatusTooManyRequests, msg)
			return
		}
		defer sl.used.Add(-1)
		h(w, r)
	}
}

// SeriesChecker is implemented by stores that know their series
// (storage.DB): the HTTP layer then bounds the new series a collection
// gains per minute (Options.NewSeriesPerMinute).
type SeriesChecker interface {
	// NewSeries reports, for each point, whether its series is unknown.
	NewSeries(points []model.Point) []bool
}

// seriesRate bounds the new series per collection and minute: each
// collection has a bucket of rate tokens, refilled at rate per minute;
// a new series takes one. It is safe for concurrent use.
type seriesRate struct {
	rate float64 // tokens per minute, and the bucket's size
	mu   sync.Mutex
	b    map[string]*seriesBucket
}

type seriesBucket struct {
	tokens float64
	at     time.Time
}

// take takes up to n tokens of collection's bucket at now and returns how
// many it took.
func (r *seriesRate) take(collection string, n int, now time.Time) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	b := r.b[collection]
	if b == nil {
		b = &seriesBucket{tokens: r.rate, at: now}
		r.b[collection] = b
	}
	if d := now.Sub(b.at); d > 0 {
		b.tokens = min(r.rate, b.tokens+r.rate*d.Minutes())
		b.at = now
	}
	got := min(n, int(b.tokens))
	b.tokens -= float64(got)
	return got
}

// give returns n tokens taken from collection's bucket.
func (r *seriesRate) give(collection string, n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if b := r.b[collection]; b != nil {
		b.tokens = min(r.rate, b.tokens+float64(n))
	}
}

// retryAfter is the whole seconds until a bucket regains one token.
func (r *seriesRate) retryAfter() int {
	return max(1, int(math.Ceil(60/r.rate)))
}

// seriesGrant is what admitSeries allowed a batch: tokens to give back if
// the write fails.
type seriesGrant map[string]int

// admitSeries keeps, of points, those of known series and of the new
// series the collections' buckets allow, in order, with their lines; it
// returns the lines of the points refused (each with its reason) and the
// tokens taken. A new series is counted once per batch however many of its
// points it holds.
func (s *server) admitSeries(points []model.Point, lines []int) ([]model.Point, []int, []badLine, seriesGrant) {
	sc, ok := s.store.(SeriesChecker)
	if s.series == nil || !ok || len(points) == 0 {
		return points, lines, nil, nil
	}
	isNew := sc.NewSeries(points)
	// wanted[collection] lists the new series keys in order of first point.
	var (
		keys    []string // per point, "" for known series
		order   []string // collections in order of first new series
		wanted  = map[string][]string{}
		allowed = map[string]bool{}
	)
	for i, n := range isNew {
		if !n {
			continue
		}
		if keys == nil {
			keys = make([]string, len(points))
		}
		k := model.SeriesKey(points[i].Collection, points[i].Tags)
		keys[i] = k
		if _, seen := allowed[k]; seen {
			continue
		}
		allowed[k] = false
		c := points[i].Collection
		if wanted[c] == nil {
			order = append(order, c)
		}
		wanted[c] = append(wanted[c], k)
	}
	if keys == nil {
		return points, lines, nil, nil
	}
	now := s.now()
	grant := seriesGrant{}
	refusedAny := false
	for _, c := range order {
		got := s.series.take(c, len(wanted[c]), now)
		grant[c] = got
		for _, k := range wanted[c][:got] {
			allowed[k] = true
		}
		refusedAny = refusedAny || got < len(wanted[c])
	}
	if !refusedAny {
		return points, lines, nil, grant
	}
	var bad []badLine
	keptP, keptL := points[:0:0], lines[:0:0]
	for i := range points {
		if keys[i] != "" && !allowed[keys[i]] {
			l := 0
			if i < len(lines) {
				l = lines[i]
			}
			bad = append(bad, badLine{Line: l, Reason: fmt.Sprintf("new series of collection %q over the limit of %d new series per minute (%s)",
				points[i].Collection, int(s.series.rate), limitNewSeriesPerMinute)})
			continue
		}
		keptP = append(keptP, points[i])
		if i < len(lines) {
			keptL = append(keptL, lines[i])
		}
	}
	return keptP, keptL, bad, grant
}

// giveBack returns the tokens of a batch that was not written.
func (s *server) giveBack(g seriesGrant) {
	for c, n := range g {
		s.series.give(c, n)
	}
}

// newSeriesRate returns the limiter of Options.NewSeriesPerMinute, nil for
// none.
func newSeriesRate(n int) *seriesRate {
	if n == 0 {
		n = DefaultNewSeriesPerMinute
	}
	if n < 0 {
		return nil
	}
	return &seriesRate{rate: float64(n), b: map[string]*seriesBucket{}}
}

// countQueryLimit counts a query refused with a *planner.LimitError.
func (s *server) countQueryLimit(err error) {
	var le *planner.LimitError
	if errors.As(err, &le) {
		s.metrics.limits.hit(le.Setting)
	}
}

// refuseSeries answers a write some of whose points were refused for
// creating series beyond limits.new_series_per_minute, written points
// having been stored: 429 with Retry-After, the refused lines (at most
// lineproto.MaxErrors of them) and how many points went in. Writing the
// same body again is harmless (a point of a series and time replaces the
// one stored) and stores the refused points once the limit allows.
func (s *server) refuseSeries(w http.ResponseWriter, refused []badLine, written int) {
	s.metrics.limits.hit(limitNewSeriesPerMinute)
	s.metrics.writeRejected(writeReasonLimit)
	msg := fmt.Sprintf("%d points refused: their new series are over the limit of %d new series per minute of their collection (%s); the other %d points were written; retry later",
		len(refused), int(s.series.rate), limitNewSeriesPerMinute, written)
	if len(refused) > lineproto.MaxErrors {
		refused = refused[:lineproto.MaxErrors]
	}
	w.Header().Set("Retry-After", strconv.Itoa(s.series.retryAfter()))
	writeBadLinesCode(w, http.StatusTooManyRequests, msg, refused)
}
