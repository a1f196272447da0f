package httpapi

import (
	"bytes"
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/soltixdb/soltix/storage"
)

// durationBuckets are the upper bounds, in seconds, of the request duration
// histogram.
var durationBuckets = []float64{0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30}

// metrics holds the counters served at GET /metrics in the Prometheus text
// exposition format. It is safe for concurrent use.
type metrics struct {
	pointsWritten atomic.Uint64
	writeErrors   atomic.Uint64
	// writes counts write rejections by reason, writeBytes the bytes of
	// write bodies read (metrics_write.go).
	writes      writeCounters
	writeBytes  atomic.Uint64
	queries     atomic.Uint64
	queryErrors atomic.Uint64
	// authFailures counts 401 answers (no or unknown token), authDenials
	// 403 answers (a scope or collection the token lacks).
	authFailures atomic.Uint64
	authDenials  atomic.Uint64
	// limits counts refusals by limit (admission.go).
	limits *limitCounters

	// quarantined counts the store's quarantined files (nil: none).
	quarantined func() int
	// extra write more families after these (metrics_runtime.go); set
	// before serving.
	extra []func(*bytes.Buffer)
	// extraCtx are like extra for families whose source takes the
	// request's context (cluster_metrics.go).
	extraCtx []func(context.Context, *bytes.Buffer)
	// storage, if not nil, returns the storage's state for the
	// soltix_storage_* failure and backpressure families (health.go).
	storage func() (storage.Health, bool)

	mu        sync.Mutex
	requests  map[requestKey]uint64
	durations map[string]*histogram // by route
	// queryDurations times statements (metrics_query.go).
	queryDurations map[queryKey]*histogram
}

type requestKey struct {
	route string
	code  int
}

type histogram struct {
	counts []uint64 // per bucket, not cumulative; len(durationBuckets)+1
	sum    float64
	count  uint64
}

func newMetrics() *metrics {
	return &metrics{
		limits:    newLimitCounters(),
		requests:  make(map[requestKey]uint64),
		durations: make(map[string]*histogram),
	}
}

func (m *metrics) observeRequest(route string, code int, d time.Duration) {
	sec := d.Seconds()
	i := 0
	for i < len(durationBuckets) && sec > durationBuckets[i] {
		i++
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests[requestKey{route, code}]++
	h := m.durations[route]
	if h == nil {
		h = &histogram{counts: make([]uint64, len(durationBuckets)+1)}
		m.durations[route] = h
	}
	h.counts[i]++
	h.sum += sec
	h.count++
}

// serve writes the metrics in the Prometheus text format (version 0.0.4).
func (m *metrics) serve(w http.ResponseWriter, r *http.Request) {
	var b bytes.Buffer
	counter := func(name, help string, v uint64) {
		b.WriteString("# HELP " + name + " " + help + "\n")
		b.WriteString("# TYPE " + name + " counter\n")
		b.WriteString(name + " " + strconv.FormatUint(v, 10) + "\n")
	}

	m.mu.Lock()
	keys := make([]requestKey, 0, len(m.requests))
	for k := range m.requests {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b requestKey) int {
		if c := strings.Compare(a.route, b.route); c != 0 {
			return c
		}
		return a.code - b.code
	})
	b.WriteString("# HELP soltix_http_requests_total HTTP requests answered, by route pattern and status code.\n")
	b.WriteString("# TYPE soltix_http_requests_total counter\n")
	for _, k := range keys {
		b.WriteString(`soltix_http_requests_total{route="` + escapeLabel(k.route) + `",code="` + strconv.Itoa(k.code) + `"} `)
		b.WriteString(strconv.FormatUint(m.requests[k], 10) + "\n")
	}

	routes := make([]string, 0, len(m.durations))
	for rt := range m.durations {
		routes = append(routes, rt)
	}
	slices.Sort(routes)
	b.WriteString("# HELP soltix_http_request_duration_seconds Time to answer HTTP requests, by route pattern.\n")
	b.WriteString("# TYPE soltix_http_request_duration_seconds histogram\n")
	for _, route := range routes {
		h := m.durations[route]
		lbl := `route="` + escapeLabel(route) + `"`
		var cum uint64
		for i, ub := range durationBuckets {
			cum += h.counts[i]
			b.WriteString(`soltix_http_request_duration_seconds_bucket{` + lbl + `,le="` + strconv.FormatFloat(ub, 'g', -1, 64) + `"} ` + strconv.FormatUint(cum, 10) + "\n")
		}
		b.WriteString(`soltix_http_request_duration_seconds_bucket{` + lbl + `,le="+Inf"} ` + strconv.FormatUint(h.count, 10) + "\n")
		b.WriteString(`soltix_http_request_duration_seconds_sum{` + lbl + `} ` + strconv.FormatFloat(h.sum, 'g', -1, 64) + "\n")
		b.WriteString(`soltix_http_request_duration_seconds_count{` + lbl + `} ` + strconv.FormatUint(h.count, 10) + "\n")
	}
	m.writeQueryDurations(&b)
	m.mu.Unlock()

	counter("soltix_points_written_total", "Points acknowledged by write requests.", m.pointsWritten.Load())
	counter("soltix_write_errors_total", "Write requests answered with an error status.", m.writeErrors.Load())
	m.writeWriteMetrics(&b)
	counter("soltix_queries_total", "Query requests received.", m.queries.Load())
	counter("soltix_query_errors_total", "Query requests answered with an error status.", m.queryErrors.Load())
	counter("soltix_auth_failures_total", "Requests refused with 401: no token, or one no configured digest matches.", m.authFailures.Load())
	counter("soltix_auth_denials_total", "Requests refused with 403: the token lacks the scope or collection asked for.", m.authDenials.Load())
	m.limits.write(&b)
	counter("soltix_http_bad_requests_total", "Malformed HTTP/1.1 requests net/http answered 400 before any handler (cleartext connections; docs/limits.md).", connBadRequests.Load())
	if m.quarantined != nil {
		b.WriteString("# HELP soltix_quarantined_files Damaged files moved to the data directory's quarantine/ at start-up and not yet rebuilt or removed.\n")
		b.WriteString("# TYPE soltix_quarantined_files gauge\n")
		b.WriteString("soltix_quarantined_files " + strconv.Itoa(m.quarantined()) + "\n")
	}
	for _, write := range m.extra {
		write(&b)
	}
	for _, write := range m.extraCtx {
		write(r.Context(), &b)
	}
	if m.storage != nil {
		if h, ok := m.storage(); ok {
			number := func(typ string) func(name, help string, v float64) {
				return func(name, help string, v float64) {
					b.WriteString("# HELP " + name + " " + help + "\n")
					b.WriteString("# TYPE " + name + " " + typ + "\n")
					b.WriteString(name + " " + strconv.FormatFloat(v, 'g', -1, 64) + "\n")
				}
			}
			storageMetrics(h, number("counter"), number("gauge"))
		}
	}

	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b.Bytes())
}

// escapeLabel escapes a label value for the text format.
func escapeLabel(s string) string {
	if !strings.ContainsAny(s, "\\\"\n") {
		return s
	}
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
}
