package httpapi

// Authentication and scopes: which token a request carries, whether it may
// use the route it asked for (routeAccess), and which collections it may
// touch there. docs/security.md "Authentication and TLS" describes what
// users see.

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/planner"
	"github.com/soltixdb/soltix/query"
)

// Scope is a set of permissions a token carries.
type Scope uint8

// The scopes. ScopeAdmin implies ScopeRead and ScopeWrite.
const (
	ScopeRead Scope = 1 << iota
	ScopeWrite
	ScopeAdmin
)

// ParseScope returns the scope named "read", "write" or "admin".
func ParseScope(name string) (Scope, error) {
	switch name {
	case "read":
		return ScopeRead, nil
	case "write":
		return ScopeWrite, nil
	case "admin":
		return ScopeAdmin, nil
	}
	return 0, fmt.Errorf("unknown scope %q: want read, write or admin", name)
}

// String names the scopes of s, joined by commas.
func (s Scope) String() string {
	var names []string
	for _, n := range []struct {
		s    Scope
		name string
	}{{ScopeRead, "read"}, {ScopeWrite, "write"}, {ScopeAdmin, "admin"}} {
		if s&n.s != 0 {
			names = append(names, n.name)
		}
	}
	return strings.Join(names, ",")
}

// Token is one accepted token. Only its SHA-256 digest is kept: the token
// itself is never stored, compared or logged.
type Token struct {
	// Name identifies the token in logs and errors.
	Name string
	// Digest is the SHA-256 digest of the token.
	Digest [sha256.Size]byte
	// Scopes are what the token may do; admin implies read and write.
	Scopes Scope
	// Collections, when not empty, are the only collections the token
	// may read, write or administer.
	Collections []string
	// Stored marks a token kept by the cluster (etcd), which the token
	// admin routes may remove, as opposed to one from the config file.
	Stored bool
}

// ParseDigest decodes the hex SHA-256 digest of a token (64 hex digits).
func ParseDigest(s string) ([sha256.Size]byte, error) {
	var d [sha256.Size]byte
	b, err := hex.DecodeString(strings.TrimSpace(s))
	if err != nil || len(b) != sha256.Size {
		return d, errors.New("sha256: want the 64 hex digits of the token's SHA-256 digest")
	}
	copy(d[:], b)
	return d, nil
}

// has reports whether the token carries scope need (admin implies all).
func (t *Token) has(need Scope) bool {
	return t.Scopes&ScopeAdmin != 0 || t.Scopes&need != 0
}

// limited reports whether the token is limited to some collections.
func (t *Token) limited() bool { return t != nil && len(t.Collections) > 0 }

// allows reports whether the token may touch collection c. A nil token
// (authentication off) allows everything.
func (t *Token) allows(c string) bool {
	return !t.limited() || slices.Contains(t.Collections, c)
}

// errForbidden marks a request its token may not make (403).
var errForbidden = errors.New("forbidden")

// forbidden returns an error wrapping errForbidden that says what t may not
// do with collection c.
func (t *Token) forbidden(verb, c string) error {
	return fmt.Errorf("token %q may not %s collection %q: %w", t.Name, verb, c, errForbidden)
}

// routeNeed is what a route needs: a scope, or nothing (open).
type routeNeed struct {
	// scope is the scope needed; 0 means the route is open, anyScope that
	// any valid token will do.
	scope Scope
	// global routes act on every collection at once: tokens limited to
	// some collections are refused them (403).
	global bool
	// influx routes also take the token as the p query parameter
	// (InfluxDB 1.x's ?u=&p=).
	influx bool
}

// anyScope is the need of a route that any valid token may use.
const anyScope = ScopeRead | ScopeWrite | ScopeAdmin

// routeAccess maps every route ("METHOD pattern") to what it needs.
// routes() refuses to register a route missing here, and
// TestAuthEveryRoute checks it against openapi.yaml.
var routeAccess = map[string]routeNeed{
	// Open: probes, the console's own files (it asks for a token itself)
	// and the API description. /ping is open as in InfluxDB.
	"GET /health":        {},
	"GET /ready":         {},
	"GET /":              {},
	"GET /static/{file}": {},
	"GET /openapi.yaml":  {},
	"GET /ping":          {influx: true},
	"HEAD /ping":         {influx: true},

	"GET /metrics":        {scope: ScopeRead, global: true},
	"GET /api/v1/cluster": {scope: ScopeRead, global: true},

	"POST /api/v1/write": {scope: ScopeWrite},
	"POST /write":        {scope: ScopeWrite, influx: true},
	"POST /api/v2/write": {scope: ScopeWrite, influx: true},

	// /query: the database statements (SHOW, CREATE and DROP DATABASE),
	// which clients such as Telegraf send before they write, need any
	// valid token; reading (SELECT, SHOW) checks the read scope itself
	// (influxQuery).
	"GET /query":  {scope: anyScope, influx: true},
	"POST /query": {scope: anyScope, influx: true},

	// DELETE statements also need admin (authorizeStatement).
	"GET /api/v1/query":  {scope: ScopeRead},
	"POST /api/v1/query": {scope: ScopeRead},

	"GET /grafana/":                        {scope: ScopeRead},
	"POST /grafana/metrics":                {scope: ScopeRead},
	"POST /grafana/metric-payload-options": {scope: ScopeRead},
	"POST /grafana/query":                  {scope: ScopeRead},
	"POST /grafana/variable":               {scope: ScopeRead},
	"POST /grafana/tag-keys":               {scope: ScopeRead},
	"POST /grafana/tag-values":             {scope: ScopeRead},
	"POST /grafana/search":                 {scope: ScopeRead},
	"POST /grafana/annotations":            {scope: ScopeRead},

	"POST /api/v1/admin/flush":             {scope: ScopeAdmin, global: true},
	"POST /api/v1/admin/compact":           {scope: ScopeAdmin, global: true},
	"POST /api/v1/admin/delete":            {scope: ScopeAdmin},
	"GET /api/v1/admin/collections":        {scope: ScopeAdmin},
	"GET /api/v1/admin/collections/{name}": {scope: ScopeAdmin},
	"PUT /api/v1/admin/collections/{name}": {scope: ScopeAdmin},

	// The cold tier and backups act on every collection.
	"POST /api/v1/admin/tier":                     {scope: ScopeAdmin, global: true},
	"POST /api/v1/admin/tier/adopt":               {scope: ScopeAdmin, global: true},
	"POST /api/v1/admin/backup":                   {scope: ScopeAdmin, global: true},
	"GET /api/v1/admin/backup/{id}/files/{group}": {scope: ScopeAdmin, global: true},
	"POST /api/v1/admin/backup/{id}/release":      {scope: ScopeAdmin, global: true},

	// Tokens: a token limited to some collections could otherwise mint
	// an unlimited one.
	"GET /api/v1/admin/tokens":           {scope: ScopeAdmin, global: true},
	"POST /api/v1/admin/tokens":          {scope: ScopeAdmin, global: true},
	"DELETE /api/v1/admin/tokens/{name}": {scope: ScopeAdmin, global: true},
}

// principalKey is the context key of the request's *Token.
type principalKey struct{}

// principal returns the token a request was authenticated with; nil when
// authentication is off or the route is open.
func principal(ctx context.Context) *Token {
	t, _ := ctx.Value(principalKey{}).(*Token)
	return t
}

// lookupToken returns the token whose digest is secret's, or nil. It
// compares with every token in constant time, so the time taken does not
// tell how much of a digest matched nor which token did.
func lookupToken(tokens []Token, secret string) *Token {
	d := sha256.Sum256([]byte(secret))
	var found *Token
	for i := range tokens {
		if subtle.ConstantTimeCompare(d[:], tokens[i].Digest[:]) == 1 {
			found = &tokens[i]
		}
	}
	return found
}

// credential returns the token a request carries: from Authorization
// ("Bearer t", InfluxDB's "Token t", or Basic with the token as password)
// or, on the InfluxDB routes, from the p query parameter.
func credential(r *http.Request, influx bool) (string, bool) {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, rest, _ := strings.Cut(h, " ")
		rest = strings.TrimSpace(rest)
		switch {
		case strings.EqualFold(scheme, "Bearer"), strings.EqualFold(scheme, "Token"):
			return rest, rest != ""
		case strings.EqualFold(scheme, "Basic"):
			b, err := base64.StdEncoding.DecodeString(rest)
			if err != nil {
				return "", false
			}
			_, pass, ok := strings.Cut(string(b), ":")
			return pass, ok && pass != ""
		}
		return "", false
	}
	if influx {
		if p := r.URL.Query().Get("p"); p != "" {
			return p, true
		}
	}
	return "", false
}

// guard wraps the handler of route op with its authentication and scope
// check. It panics when op has no entry in routeAccess, so that a new
// route cannot be served without one.
func (s *server) guard(op string, h http.HandlerFunc) http.HandlerFunc {
	need, ok := routeAccess[op]
	if !ok {
		panic("httpapi: route " + op + " has no entry in routeAccess")
	}
	if (len(s.opts.Tokens) == 0 && s.opts.TokenStore == nil) || need.scope == 0 {
		return h
	}
	deny := writeError
	if strings.HasPrefix(op, "POST /grafana/") || op == "GET /grafana/" {
		deny = writeGrafanaError
	}
	return func(w http.ResponseWriter, r *http.Request) {
		tokens := s.tokens()
		if len(tokens) == 0 {
			h(w, r) // a TokenStore holding no token: authentication off
			return
		}
		secret, ok := credential(r, need.influx)
		if !ok {
			s.metrics.authFailures.Add(1)
			w.Header().Set("WWW-Authenticate", `Bearer realm="soltix"`)
			deny(w, http.StatusUnauthorized, "authentication required: send Authorization: Bearer <token>")
			return
		}
		t := lookupToken(tokens, secret)
		if t == nil {
			s.metrics.authFailures.Add(1)
			w.Header().Set("WWW-Authenticate", `Bearer realm="soltix", error="invalid_token"`)
			deny(w, http.StatusUnauthorized, "invalid token")
			return
		}
		if !t.has(need.scope) {
			s.metrics.authDenials.Add(1)
			deny(w, http.StatusForbidden, fmt.Sprintf("token %q has scopes %s; %s needs %s", t.Name, t.Scopes, op, need.scope))
			return
		}
		if need.global && t.limited() {
			s.metrics.authDenials.Add(1)
			deny(w, http.StatusForbidden, fmt.Sprintf("token %q is limited to some collections; %s acts on all of them", t.Name, op))
			return
		}
		h(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, t)))
	}
}

// checkCollection returns a 403 error when the request's token may not
// touch collection c (verb says how: read, write, ...).
func checkCollection(ctx context.Context, verb, c string) error {
	if t := principal(ctx); !t.allows(c) {
		return t.forbidden(verb, c)
	}
	return nil
}

// visibleCollections returns the names among names the request's token may
// see: SHOW COLLECTIONS and the listings are filtered, not refused.
func visibleCollections(ctx context.Context, names []string) []string {
	t := principal(ctx)
	if !t.limited() {
		return names
	}
	out := make([]string, 0, len(names))
	for _, n := range names {
		if t.allows(n) {
			out = append(out, n)
		}
	}
	return out
}

// sourceFor returns the source a statement runs on for the request's
// token, or an error wrapping errForbidden: DELETE needs admin, and a
// token limited to collections reads only those (SHOW COLLECTIONS lists
// only those).
func (s *server) sourceFor(ctx context.Context, stmt *query.Statement) (planner.Source, error) {
	t := principal(ctx)
	if t == nil {
		return s.store, nil
	}
	switch {
	case stmt.Delete != nil:
		if !t.has(ScopeAdmin) {
			return nil, fmt.Errorf("token %q has scopes %s; DELETE needs admin: %w", t.Name, t.Scopes, errForbidden)
		}
		if !t.allows(stmt.Delete.From) {
			return nil, t.forbidden("delete from", stmt.Delete.From)
		}
	case stmt.Show != nil && (stmt.Show.Kind == query.ShowCollections || stmt.Show.From == ""):
		// SHOW COLLECTIONS, and SHOW TAG KEYS or FIELDS without FROM,
		// list only the collections the token may read.
		if t.limited() {
			return visibleSource{Source: s.store, t: t}, nil
		}
	default:
		if c := statementCollection(stmt); !t.allows(c) {
			return nil, t.forbidden("read", c)
		}
	}
	return s.store, nil
}

// visibleSource lists only the collections its token may read.
type visibleSource struct {
	planner.Source
	t *Token
}

// Collections implements planner.Source.
func (v visibleSource) Collections() []string {
	var out []string
	for _, c := range v.Source.Collections() {
		if v.t.allows(c) {
			out = append(out, c)
		}
	}
	return out
}

// SeriesIndex implements planner.IndexedSource when the source does: the
// token narrows collections only, and those were checked before.
func (v visibleSource) SeriesIndex(collection string) model.SeriesIndex {
	if is, ok := v.Source.(planner.IndexedSource); ok {
		return is.SeriesIndex(collection)
	}
	return nil
}

// run executes a statement for the request whose context is ctx, after
// sourceFor's checks.
func (s *server) run(ctx context.Context, stmt *query.Statement, opts planner.Options, sink planner.Sink) (*planner.Stats, error) {
	src, err := s.sourceFor(ctx, stmt)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	st, err := s.execute(ctx, src, stmt, opts, sink)
	s.metrics.observeQuery(statementType(stmt), statsLevel(st), time.Since(start))
	return st, err
}
