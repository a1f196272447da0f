package remote

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/soltixdb/soltix/internal/reqid"
	"github.com/soltixdb/soltix/internal/seriesrate"
	"github.com/soltixdb/soltix/storage"
)

// Internal routes a storage node serves (all under /internal/v1/).
const (
	PathWrite   = "/internal/v1/write"
	PathFlush   = "/internal/v1/flush"
	PathCompact = "/internal/v1/compact"
	PathDelete  = "/internal/v1/delete"
	PathHealth  = "/internal/v1/health"
)

// DefaultMaxBodyBytes is a write request's body limit when
// NodeOptions.MaxBodyBytes is 0.
const DefaultMaxBodyBytes = 64 << 20

// NodeOptions configure a Node.
type NodeOptions struct {
	// NodeID is this node's id in the cluster map: the node accepts a
	// group's writes only while Topology.Route names it the group's
	// primary at the epoch the request carries.
	NodeID string
	// MaxBodyBytes limits a write request's body (default
	// DefaultMaxBodyBytes); a larger one answers 413.
	MaxBodyBytes int64
	// BodyTimeout bounds reading a write or delete request's body
	// (default DefaultBodyTimeout); a slower one answers 408.
	BodyTimeout time.Duration
	// MaxSessions bounds the query sessions and catalog calls the node
	// serves at once (default DefaultMaxSessions); past it a new one
	// answers 503, which the router reports as its groups unavailable.
	MaxSessions int
	// Logger receives the node's logs (default slog.Default()).
	Logger *slog.Logger
	// Gate, when set, brackets every write and delete of groups (and the
	// read side's reads): group moves (Moves) record a moving group's
	// writes for its new node and refuse them during the switch.
	Gate Gate
	// Log, when set, is handed every write and delete the node applies,
	// to carry them to the groups' replicas (package replication; wired
	// by cmd/soltix). It applies the change itself, inside the gate.
	Log WriteLog
	// WaitReplicated makes a write or delete answer only once Log says
	// the change is stored for the replicas (acknowledgement mode
	// "replicated"); otherwise it answers once the node's WAL has it
	// ("local").
	WaitReplicated bool
	// NewSeriesPerMinute bounds the new series a collection gains per
	// minute on this node (limits.new_series_per_minute, per node): the
	// points of new series over it are refused (429 CodeSeriesLimit
	// naming them) and the rest written. 0 or less: no limit.
	NewSeriesPerMinute int
	// Now is the clock of that limit (default time.Now).
	Now func() time.Time
}

// WriteLog is replication as the write path sees it: Write and Delete call
// apply (the node's storage write) and queue the change for the groups'
// replicas in the order the node applied it, or refuse the change before
// apply. wait returns once the change is stored for the replicas.
type WriteLog interface {
	Write(ctx context.Context, ws []GroupWrite, apply func() error) (wait func(context.Context) error, err error)
	Delete(ctx context.Context, collection string, ds []GroupDelete, min, max int64, apply func() error) (wait func(context.Context) error, err error)
}

// ErrNotReplicated is wrapped by the error of a write or delete applied on
// the primary that its replication did not confirm (acknowledgement mode
// "replicated"): a 503; retrying it is safe.
var ErrNotReplicated = errors.New("not confirmed stored for the replicas")

// DefaultMaxSessions is NodeOptions.MaxSessions when it is 0.
const DefaultMaxSessions = 256

// DefaultBodyTimeout is NodeOptions.BodyTimeout when it is 0.
const DefaultBodyTimeout = time.Minute

// Node serves a storage node's internal API over its storage.DB. Routes
// are registered on a chi router; the read side adds its own (see Handle).
type Node struct {
	db      *storage.DB
	topo    Topology
	opts    NodeOptions
	log     *slog.Logger
	mux     chi.Router
	metrics serverCounters
	// sessions holds a token per session being served.
	sessions chan struct{}
	// series is the limiter of NodeOptions.NewSeriesPerMinute (nil: none).
	series *seriesrate.Limiter
}

// NewNode returns the internal API of a storage node over db, which must
// have been opened with the cluster's NumGroups and ShardTag.
func NewNode(db *storage.DB, topo Topology, opts NodeOptions) *Node {
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if opts.MaxSessions <= 0 {
		opts.MaxSessions = DefaultMaxSessions
	}
	if opts.BodyTimeout <= 0 {
		opts.BodyTimeout = DefaultBodyTimeout
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	n := &Node{db: db, topo: topo, opts: opts, log: reqid.Logger(opts.Logger), mux: chi.NewRouter(), sessions: make(chan struct{}, opts.MaxSessions)}
	n.mux.Use(n.requestID)
	if opts.NewSeriesPerMinute > 0 {
		n.series = seriesrate.New(opts.NewSeriesPerMinute, 0)
	}
	n.mux.NotFound(func(w http.ResponseWriter, r *http.Request) {
		writeJSONError(w, http.StatusNotFound, "not found: "+r.URL.Path, "")
	})
	n.mux.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		writeJSONError(w, http.StatusMethodNotAllowed, "method not allowed: "+r.Method+" "+r.URL.Path, "")
	})
	n.writeRoutes()
	n.readRoutes()
	return n
}

// requestID takes the request id the router sent (internal/reqid; a
// missing or malformed one is replaced), echoes it and puts it in the
// request's context, so that the node's log lines about the request carry
// the router's id; and logs one line per request at Debug (Info for a 5xx
// answer), without the query string.
func (n *Node) requestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := reqid.Accept(r.Header.Get(reqid.Header))
		w.Header().Set(reqid.Header, id)
		r = r.WithContext(reqid.With(r.Context(), id))
		rec := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		level := slog.LevelDebug
		if rec.code >= 500 {
			level = slog.LevelInfo
		}
		if n.log.Enabled(r.Context(), level) {
			code := rec.code
			if code == 0 {
				code = http.StatusOK
			}
			n.log.LogAttrs(r.Context(), level, "internal request",
				slog.String("method", r.Method), slog.String("path", r.URL.Path),
				slog.Int("status", code), slog.Duration("duration", time.Since(start)))
		}
	})
}

// statusWriter remembers the status written through it; Unwrap lets
// http.ResponseController reach the writer's Flush and deadlines.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// setRequestID sends the request id of req's context, if any, on to the
// node (the header reqid.Header).
func setRequestID(req *http.Request) {
	if id := reqid.From(req.Context()); id != "" {
		req.Header.Set(reqid.Header, id)
	}
}

// Handler returns the node's internal API.
func (n *Node) Handler() http.Handler { return n.mux }

// Handle adds a route: method and a chi pattern under /internal/v1/.
func (n *Node) Handle(method, pattern string, h http.HandlerFunc) {
	n.mux.Method(method, pattern, h)
}

// Metrics returns the node's counters.
func (n *Node) Metrics() ServerMetrics { return n.metrics.snapshot() }

// owns reports whether this node is group g's primary at epoch. A request
// carrying an epoch newer than the node's map makes the node refresh its
// map before it answers no, once per request: refreshed is the request's
// flag, so that a request naming many groups cannot make a refresh each.
func (n *Node) owns(g int, epoch uint64, refreshed *bool) bool {
	r, ok := n.topo.Route(g)
	if ok && r.Node == n.opts.NodeID && r.Epoch == epoch {
		return true
	}
	if (!ok || epoch > r.Epoch) && !*refreshed {
		*refreshed = true
		if err := n.topo.Refresh(); err != nil {
			n.log.Warn("refresh the cluster map", "err", err)
			return false
		}
		r, ok = n.topo.Route(g)
		return ok && r.Node == n.opts.NodeID && r.Epoch == epoch
	}
	return false
}

// Error codes of the internal API's JSON errors.
const (
	CodeStaleEpoch = "stale_epoch"
	CodeConflict   = "conflict"
	CodeRetention  = "retention"
	// CodeSeriesLimit answers (429) a write whose points of new series
	// over NodeOptions.NewSeriesPerMinute were refused, the rest written;
	// SeriesLimit names them.
	CodeSeriesLimit = "series_limit"
	CodeUnavailable = "unavailable"
	// CodeSwitching refuses a write of a group whose move to another
	// node is being switched over (a 503): the router retries it shortly.
	CodeSwitching  = "switching"
	CodeBadRequest = "bad_request"
	CodeTooLarge   = "too_large"
)

// ErrorBody is the JSON body of every internal error answer.
type ErrorBody struct {
	Error string `json:"error"`
	Code  string `json:"code,omitempty"`
	// Groups are the groups a stale_epoch answer refused.
	Groups []int `json:"groups,omitempty"`
	// Conflicts are a conflict answer's clashes; Point indexes the
	// request's points in order across its frames.
	Conflicts []storage.Conflict `json:"conflicts,omitempty"`
	// Retention is a retention answer's refused point.
	Retention *storage.RetentionError `json:"retention,omitempty"`
	// SeriesLimit is a series_limit answer's refused points (indexes
	// into the request's points in order across its frames).
	SeriesLimit *storage.SeriesLimitError `json:"series_limit,omitempty"`
}

// retryAfter is the Retry-After of a node's 503.
const retryAfter = 1 * time.Second

func writeJSON(w http.ResponseWriter, code int, v any) int {
	b, err := json.Marshal(v)
	if err != nil {
		b = []byte(`{"error":"encode the answer"}`)
		code = http.StatusInternalServerError
	}
	b = append(b, '\n')
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	if code == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", strconv.Itoa(int(retryAfter/time.Second)))
	}
	w.WriteHeader(code)
	w.Write(b) //nolint:errcheck // the client went away
	return len(b)
}

func writeJSONError(w http.ResponseWriter, status int, msg, code string) int {
	return writeJSON(w, status, ErrorBody{Error: msg, Code: code})
}

// readErrorBody decodes an internal error answer; a body that is not one
// becomes its text.
func readErrorBody(r io.Reader) ErrorBody {
	b, _ := io.ReadAll(io.LimitReader(r, 1<<20))
	var e ErrorBody
	if json.Unmarshal(b, &e) != nil || e.Error == "" {
		e = ErrorBody{Error: string(b)}
		if e.Error == "" {
			e.Error = "no error message"
		}
	}
	return e
}
