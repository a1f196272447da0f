package httpapi

import (
	"bytes"
	"context"
	"io/fs"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/soltixdb/soltix/backup"
	"github.com/soltixdb/soltix/internal/reqid"
	"github.com/soltixdb/soltix/internal/seriesrate"
	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/planner"
	"github.com/soltixdb/soltix/query"
	"github.com/soltixdb/soltix/storage"
	"github.com/soltixdb/soltix/web"
)

// Store is what the HTTP layer needs from storage (storage.DB implements it).
// It must be safe for concurrent use.
type Store interface {
	planner.Source
	// Write stores a batch of points and returns once they are durable. It
	// returns *storage.ConflictError when a field kind clashes (nothing is
	// written), and an error wrapping storage.ErrUnavailable or
	// storage.ErrClosed when the batch could not be made durable. Write
	// must not keep points after it returns.
	Write(ctx context.Context, points []model.Point) error
	// Flush returns once everything acknowledged so far is in files.
	Flush(ctx context.Context) error
	// Delete removes, durably and visibly at once, the points of the listed
	// series of the collection whose times lie in [min, max] (inclusive).
	// Points written after Delete returns are not affected. It makes the
	// Store a planner.Deleter, which DELETE statements need.
	Delete(ctx context.Context, collection string, series []model.Tags, min, max int64) error
	// Compact merges the files of storage, dropping deleted and overwritten
	// points, and returns when done.
	Compact(ctx context.Context) error
	// CollectionSettings returns a collection's rollup and retention
	// settings (the defaults when it has none; it need not exist).
	CollectionSettings(collection string) storage.CollectionSettings
	// Settings returns the settings of every collection that has some of
	// its own.
	Settings() map[string]storage.CollectionSettings
	// SetSettings changes a collection's settings durably.
	SetSettings(ctx context.Context, collection string, s storage.CollectionSettings) error
}

// DefaultMaxBodyBytes is the body limit used when Options.MaxBodyBytes is 0.
const DefaultMaxBodyBytes = 64 << 20

// Options configures the handler. The zero value is usable.
type Options struct {
	// MaxBodyBytes limits a request body, both as sent and after gzip
	// decompression; a larger body answers 413. 0 means DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// OpenAPI is served at GET /openapi.yaml.
	OpenAPI []byte
	// Ready reports readiness for GET /ready (200 when true, 503 when
	// false). nil means always ready.
	Ready func() bool
	// Now returns the current time; it stamps points written without a
	// time and is now() in queries. nil means time.Now.
	Now func() time.Time
	// Logger receives request errors and the request log (a line per
	// request at Debug, at Info for a 5xx answer); every record logged
	// with a request's context carries its request_id (internal/reqid).
	// nil means slog.Default().
	Logger *slog.Logger
	// MaxInflightBodyBytes caps the bytes of request bodies that all
	// requests together hold, counted as they arrive (never from a
	// declared Content-Length); a read that would go over it answers 503
	// with Retry-After. 0 means DefaultMaxInflightBodyBytes, at least twice
	// MaxBodyBytes; negative means no cap.
	MaxInflightBodyBytes int64
	// BodyTimeout is how long a request may take to send its whole body,
	// counted from when its handler starts; a body still incomplete then
	// answers 408. 0 means DefaultBodyTimeout; negative means none.
	BodyTimeout time.Duration
	// Listen is the address the server listens on (host:port). On a
	// loopback address the Host header of every request must name it
	// (see AllowedHosts). Empty means Host is not checked unless
	// AllowedHosts is set.
	Listen string
	// AllowedHosts are further Host header values accepted: "name"
	// (any port) or "name:port"; "*" turns the Host check off.
	AllowedHosts []string
	// AllowedOrigins are the origins ("https://grafana.example.com")
	// other than the server's own that may send state-changing requests
	// and read answers (CORS); "*" allows every origin.
	AllowedOrigins []string
	// Version is Soltix's version, sent in the X-Soltix-Version header of
	// the InfluxDB-compatible endpoints. Empty sends no header.
	Version string
	// QueryTimeout is the deadline of every query; a request's timeout
	// parameter may shorten it, never lengthen it. A query past it answers
	// 503. 0 means DefaultQueryTimeout.
	QueryTimeout time.Duration
	// MaxRows and MaxPoints bound the rows a query returns and the points
	// it reads (see planner.Options); a query over them answers 422. 0
	// means the planner's defaults.
	MaxRows, MaxPoints int64
	// MaxBytes bounds the bytes of a query's answer (see
	// planner.Options.MaxBytes); 0 means planner.DefaultMaxBytes.
	MaxBytes int64
	// Cluster, set by a router, returns the cluster's status for GET
	// /api/v1/cluster and the soltix_cluster_nodes and
	// soltix_cluster_groups gauges of /metrics; an error answers 503. It
	// is called with a deadline and should answer from memory (the map
	// the router watches). nil (soltix serve) makes the route answer 404.
	Cluster func(ctx context.Context) (*ClusterStatus, error)
	// ClusterMetrics, set by a router, returns its counters per storage
	// node for the soltix_cluster_*_total families of /metrics. nil
	// writes none.
	ClusterMetrics func() []NodeMetrics
	// Metrics write more families to GET /metrics, in the Prometheus text
	// format, after the HTTP API's own (the NATS ingestion's counters,
	// say). Each must be safe for concurrent use.
	Metrics []func(*bytes.Buffer)
	// Backup, set by soltix serve, takes the backups of POST
	// /api/v1/admin/backup and serves their files. nil answers 501.
	Backup *backup.Sessions
	// BackupProxy, set by a router, serves the three backup routes
	// instead (passing each on to the storage node it names).
	BackupProxy http.Handler
	// Tokens are the accepted tokens. Empty turns authentication off:
	// every request may do everything. Otherwise every route but the
	// open ones (routeAccess in auth.go) needs a token with its scope.
	Tokens []Token
	// MaxConcurrentQueries and MaxConcurrentWrites bound the query and the
	// write requests handled at once; one beyond answers 429 with
	// Retry-After. 0 means DefaultMaxConcurrentQueries and
	// DefaultMaxConcurrentWrites; negative, no limit.
	MaxConcurrentQueries, MaxConcurrentWrites int
	// MaxLines bounds the points (lines) of one write; a write over it
	// answers 413 and nothing of it is written. 0 means DefaultMaxLines;
	// negative, no limit.
	MaxLines int
	// NewSeriesPerMinute bounds the series a collection gains per minute
	// when the store is a SeriesChecker: the points of new series beyond
	// it are refused (429 with Retry-After), the others written. 0 means
	// DefaultNewSeriesPerMinute; negative, no limit.
	NewSeriesPerMinute int
	// TokenStore, set by a router, replaces Tokens: the tokens it returns
	// are checked on every request (authentication is on while it has
	// some), and the token admin routes change them. nil (soltix serve)
	// makes those routes answer 501.
	TokenStore TokenStore
}

// executeFunc runs a parsed statement, handing its rows to sink;
// planner.ExecuteStream in production.
type executeFunc func(ctx context.Context, src planner.Source, stmt *query.Statement, opts planner.Options, sink planner.Sink) (*planner.Stats, error)

// server holds the state shared by all handlers.
type server struct {
	store   Store
	opts    Options
	log     *slog.Logger
	now     func() time.Time
	limit   int64
	execute executeFunc
	metrics *metrics
	mux     *chi.Mux
	// budget bounds the bytes of request bodies held at once;
	// bodyTimeout is the deadline of a body (0: none).
	budget      *bodyBudget
	bodyTimeout time.Duration
	// decodes bounds the estimated memory of decoded write bodies
	// (decodegate.go).
	decodes *decodeGate
	// origins decides which hosts and origins a request may come from.
	origins *originPolicy
	// queries and writes bound the requests of each kind handled at
	// once; series the new series per collection and minute (nil: no
	// limit); maxLines the points of one write (<= 0: no limit)
	// (admission.go).
	queries, writes *slots
	series          *seriesrate.Limiter
	maxLines        int
	// settingsMu serialises the read-modify-write of collection settings.
	settingsMu sync.Mutex
	// tokensMu serialises this server's token changes (their checks).
	tokensMu sync.Mutex
}

// New returns the HTTP handler of the external API over store.
func New(store Store, opts Options) http.Handler {
	return newServer(store, opts).mux
}

func newServer(store Store, opts Options) *server {
	s := &server{
		store:   store,
		opts:    opts,
		log:     opts.Logger,
		now:     opts.Now,
		limit:   opts.MaxBodyBytes,
		execute: planner.ExecuteStream,
		metrics: newMetrics(),
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.log = reqid.Logger(s.log)
	if s.now == nil {
		s.now = time.Now
	}
	if s.limit <= 0 {
		s.limit = DefaultMaxBodyBytes
	}
	s.budget = &bodyBudget{max: opts.MaxInflightBodyBytes}
	if s.budget.max == 0 {
		s.budget.max = max(DefaultMaxInflightBodyBytes, 2*s.limit)
	}
	s.decodes = &decodeGate{max: s.budget.max}
	switch {
	case opts.BodyTimeout == 0:
		s.bodyTimeout = DefaultBodyTimeout
	case opts.BodyTimeout > 0:
		s.bodyTimeout = opts.BodyTimeout
	}
	s.queries = newSlots(opts.MaxConcurrentQueries, DefaultMaxConcurrentQueries)
	s.writes = newSlots(opts.MaxConcurrentWrites, DefaultMaxConcurrentWrites)
	s.series = seriesrate.New(opts.NewSeriesPerMinute, DefaultNewSeriesPerMinute)
	s.maxLines = opts.MaxLines
	if s.maxLines == 0 {
		s.maxLines = DefaultMaxLines
	}
	s.origins = newOriginPolicy(opts.Listen, opts.AllowedHosts, opts.AllowedOrigins)
	s.metrics.quarantined = func() int { return len(s.quarantined()) }
	s.metrics.extra = append(s.metrics.extra, writeRuntimeMetrics, s.writeStorageMetrics, s.writeBackupMetrics)
	if t, ok := store.(Tierer); ok {
		s.metrics.extra = append(s.metrics.extra, writeColdMetrics(t))
	}
	s.metrics.extra = append(s.metrics.extra, opts.Metrics...)
	s.metrics.storage = s.storageHealth
	s.metrics.extraCtx = append(s.metrics.extraCtx, s.writeClusterMetrics)
	s.mux = s.routes()
	return s
}

func (s *server) routes() *chi.Mux {
	r := chi.NewRouter()
	r.Use(s.instrument, s.guardOrigin, s.guardBodies)
	r.NotFound(s.notFound)
	r.MethodNotAllowed(s.methodNotAllowed)

	route := func(method, pattern string, h http.HandlerFunc) {
		r.Method(method, pattern, s.guard(method+" "+pattern, s.admit(method+" "+pattern, h)))
	}
	route(http.MethodGet, "/", s.index)
	route(http.MethodGet, "/static/{file}", s.static)
	r.Route("/grafana", s.grafanaRoutes)
	route(http.MethodGet, "/health", s.health)
	route(http.MethodGet, "/ready", s.ready)
	route(http.MethodGet, "/metrics", s.metrics.serve)
	route(http.MethodGet, "/openapi.yaml", s.openAPI)

	route(http.MethodPost, "/api/v1/write", s.writeV1)
	route(http.MethodPost, "/write", s.writeInfluxV1)
	route(http.MethodPost, "/api/v2/write", s.writeInfluxV2)
	route(http.MethodGet, "/ping", s.ping)
	route(http.MethodHead, "/ping", s.ping)
	route(http.MethodGet, "/query", s.influxQuery)
	route(http.MethodPost, "/query", s.influxQuery)

	route(http.MethodGet, "/api/v1/query", s.query)
	route(http.MethodPost, "/api/v1/query", s.query)

	route(http.MethodPost, "/api/v1/admin/flush", s.flush)
	route(http.MethodPost, "/api/v1/admin/delete", s.adminDelete)
	route(http.MethodPost, "/api/v1/admin/compact", s.adminCompact)
	route(http.MethodGet, "/api/v1/admin/collections", s.adminCollections)
	route(http.MethodGet, "/api/v1/admin/collections/{name}", s.adminCollection)
	route(http.MethodPut, "/api/v1/admin/collections/{name}", s.adminSetCollection)
	route(http.MethodGet, "/api/v1/cluster", s.cluster)
	route(http.MethodPost, "/api/v1/admin/tier", s.adminTier)
	route(http.MethodPost, "/api/v1/admin/tier/adopt", s.adminTierAdopt)
	route(http.MethodPost, "/api/v1/admin/backup", s.adminBackup)
	route(http.MethodGet, "/api/v1/admin/backup/{id}/files/{group}", s.adminBackupFile)
	route(http.MethodPost, "/api/v1/admin/backup/{id}/release", s.adminBackupRelease)
	route(http.MethodGet, "/api/v1/admin/tokens", s.adminTokens)
	route(http.MethodPost, "/api/v1/admin/tokens", s.adminAddToken)
	route(http.MethodDelete, "/api/v1/admin/tokens/{name}", s.adminRemoveToken)
	return r
}

// instrument gives every request its id (internal/reqid: a valid incoming
// X-Request-Id is kept, anything else replaced), echoes it in the answer's
// X-Request-Id and puts it in the request's context, where s.log finds it
// for every line logged with that context; counts requests by route
// pattern and status code, times them, and logs one line per request
// (logRequest).
func (s *server) instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := reqid.Accept(r.Header.Get(reqid.Header))
		w.Header().Set(reqid.Header, id)
		r = r.WithContext(reqid.With(r.Context(), id))
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		route := "unmatched"
		if rctx := chi.RouteContext(r.Context()); rctx != nil {
			if p := rctx.RoutePattern(); p != "" {
				route = p
			}
		}
		code := rec.code
		if code == 0 {
			code = http.StatusOK
		}
		d := time.Since(start)
		s.metrics.observeRequest(route, code, d)
		s.logRequest(r, code, rec.bytes, d)
	})
}

// logRequest logs a request once answered: at Info for a 5xx answer, at
// Debug otherwise. The path is logged without its query string, which can
// hold a token (?p=); no header is logged.
func (s *server) logRequest(r *http.Request, code int, bytes int64, d time.Duration) {
	level := slog.LevelDebug
	if code >= 500 {
		level = slog.LevelInfo
	}
	ctx := r.Context()
	if !s.log.Enabled(ctx, level) {
		return
	}
	s.log.LogAttrs(ctx, level, "http request",
		slog.String("method", r.Method), slog.String("path", r.URL.Path),
		slog.Int("status", code), slog.Int64("bytes", bytes),
		slog.Duration("duration", d))
}

// statusRecorder remembers the status code written through it. Unwrap lets
// http.ResponseController reach the underlying writer's Flush.
type statusRecorder struct {
	http.ResponseWriter
	code  int
	bytes int64 // of the body written
}

func (w *statusRecorder) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusRecorder) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

func (w *statusRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (s *server) notFound(w http.ResponseWriter, r *http.Request) {
	writeError(w, http.StatusNotFound, "no route "+r.Method+" "+r.URL.Path)
}

var allMethods = []string{
	http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
	http.MethodPatch, http.MethodDelete, http.MethodOptions,
}

func (s *server) methodNotAllowed(w http.ResponseWriter, r *http.Request) {
	var allowed []string
	for _, m := range allMethods {
		if s.mux.Match(chi.NewRouteContext(), m, r.URL.Path) {
			allowed = append(allowed, m)
		}
	}
	if len(allowed) > 0 {
		w.Header().Set("Allow", strings.Join(allowed, ", "))
	}
	writeError(w, http.StatusMethodNotAllowed, "method "+r.Method+" not allowed on "+r.URL.Path)
}

// health serves GET /health, liveness: 200 unless the storage's WAL has
// failed, which only a restart repairs (see docs/operations.md "Health").
func (s *server) health(w http.ResponseWriter, r *http.Request) {
	if h, ok := s.storageHealth(); ok && h.WALError != nil {
		writeStatus(w, "failed", h.Unwritable(), h, nil)
		return
	}
	writeJSON(w, http.StatusOK, []byte(`{"status":"ok"}`))
}

// ready serves GET /ready, readiness: 503 while the storage cannot take
// writes (a failed WAL, or memory over its bound because flushes fail).
func (s *server) ready(w http.ResponseWriter, r *http.Request) {
	if s.opts.Ready != nil && !s.opts.Ready() {
		writeJSON(w, http.StatusServiceUnavailable, []byte(`{"status":"not ready"}`))
		return
	}
	q := s.quarantined()
	h, ok := s.storageHealth()
	if !ok {
		if len(q) > 0 {
			writeJSON(w, http.StatusOK, readyBody(q))
			return
		}
		writeJSON(w, http.StatusOK, []byte(`{"status":"ready"}`))
		return
	}
	if err := h.Unwritable(); err != nil {
		writeStatus(w, "not ready", err, h, q)
		return
	}
	writeStatus(w, readyStatus(q), nil, h, q)
}

func (s *server) openAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/yaml")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(s.opts.OpenAPI)
}

// index serves the web console's page.
func (s *server) index(w http.ResponseWriter, r *http.Request) {
	http.ServeFileFS(w, r, web.Static(), "index.html")
}

// static serves the web console's other files.
func (s *server) static(w http.ResponseWriter, r *http.Request) {
	name := chi.URLParam(r, "file")
	if name == "index.html" || !fs.ValidPath(name) {
		s.notFound(w, r)
		return
	}
	if _, err := fs.Stat(web.Static(), name); err != nil {
		s.notFound(w, r)
		return
	}
	http.ServeFileFS(w, r, web.Static(), name)
}

func (s *server) flush(w http.ResponseWriter, r *http.Request) {
	if err := s.store.Flush(r.Context()); err != nil {
		code, msg := storeErrorStatus(err)
		if code == http.StatusInternalServerError {
			s.log.ErrorContext(r.Context(), "flush", "err", err)
		}
		writeError(w, code, "flush: "+msg)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// writeJSON sends a ready-made JSON body.
func writeJSON(w http.ResponseWriter, code int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	// With its length known the answer goes out unchunked, without
	// chunk framing and the write of the last chunk.
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(code)
	_, _ = w.Write(body)
}

// writeError sends {"error": msg}.
func writeError(w http.ResponseWriter, code int, msg string) {
	b := append([]byte(`{"error":`), appendJSONString(nil, msg)...)
	b = append(b, '}')
	writeJSON(w, code, b)
}
