package httpapi

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync/atomic"

	"github.com/soltixdb/soltix/internal/seriesrate"
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

// admitSeries keeps, of points, those of known series and of the new
// series the collections' buckets allow (seriesrate.Limiter.Admit), in
// order, with their lines; it returns the lines of the points refused
// (each with its reason) and the tokens taken.
func (s *server) admitSeries(points []model.Point, lines []int) ([]model.Point, []int, []badLine, seriesrate.Grant) {
	sc, ok := s.store.(SeriesChecker)
	if s.series == nil || !ok || len(points) == 0 {
		return points, lines, nil, nil
	}
	refused, grant := s.series.Admit(points, sc.NewSeries(points), s.now())
	if len(refused) == 0 {
		return points, lines, nil, grant
	}
	bad := s.seriesBadLines(points, lines, refused, s.series.Rate())
	keptP, keptL := points[:0:0], lines[:0:0]
	next := 0
	for i := range points {
		if next < len(refused) && refused[next] == i {
			next++
			continue
		}
		keptP = append(keptP, points[i])
		if i < len(lines) {
			keptL = append(keptL, lines[i])
		}
	}
	return keptP, keptL, bad, grant
}

// seriesBadLines names the lines of the refused points (indexes into
// points) as over a limit of rate new series per minute.
func (s *server) seriesBadLines(points []model.Point, lines, refused []int, rate int) []badLine {
	bad := make([]badLine, 0, len(refused))
	for _, i := range refused {
		if i < 0 || i >= len(points) {
			continue
		}
		l := 0
		if i < len(lines) {
			l = lines[i]
		}
		bad = append(bad, badLine{Line: l, Reason: fmt.Sprintf("new series of collection %q over the limit of %d new series per minute (%s)",
			points[i].Collection, rate, limitNewSeriesPerMinute)})
	}
	return bad
}

// giveBack returns the tokens of a batch that was not written.
func (s *server) giveBack(g seriesrate.Grant) { s.series.GiveBack(g) }

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
//
// rate and retryAfter are the limit's: this server's, or, behind a
// router, the storage node's that refused them (storage.SeriesLimitError).
func (s *server) refuseSeries(w http.ResponseWriter, refused []badLine, written, rate, retryAfter int) {
	s.metrics.limits.hit(limitNewSeriesPerMinute)
	s.metrics.writeRejected(writeReasonLimit)
	msg := fmt.Sprintf("%d points refused: their new series are over the limit of %d new series per minute of their collection (%s); the other %d points were written; retry later",
		len(refused), rate, limitNewSeriesPerMinute, written)
	if len(refused) > lineproto.MaxErrors {
		refused = refused[:lineproto.MaxErrors]
	}
	w.Header().Set("Retry-After", strconv.Itoa(retryAfter))
	writeBadLinesCode(w, http.StatusTooManyRequests, msg, refused)
}
