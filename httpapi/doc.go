// Package httpapi serves Soltix's external HTTP API: writes (line protocol
// and JSON, plus the InfluxDB 1.x and 2.x write endpoints), queries, admin
// flush, delete, compaction and collection settings, health and readiness probes, Prometheus
// metrics and the OpenAPI description. New builds the handler over a Store; it is safe for
// concurrent use by any number of requests.
//
//	h := httpapi.New(db, httpapi.Options{OpenAPI: soltix.OpenAPI, Logger: log, Listen: ln.Addr().String()})
//	srv := httpapi.NewServer(h, httpapi.ServerConfig{})
//	err := srv.Serve(httpapi.LimitConnections(ln, 0))
//
// # Writes
//
// POST /api/v1/write takes line protocol (Content-Type text/plain, missing,
// or anything that is not JSON) or JSON (application/json: one object or an
// array of {"collection","device_id","tags","time","fields"}). For line
// protocol the measurement names the collection and the collection query
// parameter is ignored; for JSON it is the default for objects that name no
// collection. All JSON numbers in fields are stored as floats, because JSON
// cannot tell 1 from 1.0; send line protocol (1i, 1u) for integer fields.
//
// A request is atomic: if any line (or JSON object) is bad, nothing of the
// request is written and the 400 answer names every bad line:
//
//	{"error":"2 bad lines; nothing written","lines":[{"line":3,"column":14,"reason":"..."},...]}
//
// For line protocol "line" is the 1-based line of the body and "column" the
// 1-based byte column. For JSON "line" is the 1-based index of the object in
// the array (1 for a single object) and "column" is 0, except for a JSON
// syntax error, where line and column point into the body text; a string
// that is not valid Unicode (a lone surrogate escape "\ud800", an unknown
// escape, an unescaped control character) is refused the same way. Field-kind
// conflicts found by storage (*storage.ConflictError) and points older than
// their collection's raw retention (*storage.RetentionError) are reported
// the same way. A write that storage could not make durable answers 503 and nothing
// of it is acknowledged.
//
// POST /write (InfluxDB 1.x) and POST /api/v2/write (InfluxDB 2.x) take line
// protocol only, with the same semantics. Soltix has one namespace: the db,
// rp, org and bucket parameters are accepted and ignored.
//
// # Authentication
//
// With Options.Tokens set, every route but the open ones (health, ready,
// ping, the console's files, the OpenAPI description) needs a token with
// the scope routeAccess (auth.go) gives it: Authorization Bearer, Token or
// Basic (the token as password), or p on the InfluxDB routes. 401 for a
// missing or unknown token, 403 for a scope or collection it lacks. Tokens
// are kept as SHA-256 digests and compared in constant time; neither a
// token nor its digest is logged. Without tokens nothing is checked.
//
// GET and HEAD /ping answer 204 with InfluxDB 1.x's version headers, and
// GET or POST /query answers the database statements InfluxDB 1.x clients
// send on start (SHOW DATABASES lists one database, "soltix"; CREATE
// DATABASE succeeds and changes nothing; DROP DATABASE is refused with
// 400); any other statement there answers 400 (docs/influx.md).
//
// Bodies may be gzip-compressed (Content-Encoding: gzip); any other encoding
// answers 415. Options.MaxBodyBytes limits the body both as sent and after
// decompression; a larger body answers 413 and nothing is written.
//
// # Queries
//
// GET or POST /api/v1/query runs one statement of the query language
// (docs/query.md) and answers {"columns":[...],"rows":[[...],...]}, or CSV
// (format=csv), or NDJSON streamed row by row (format=ndjson). Times are RFC
// 3339 strings in UTC with nanoseconds unless epoch=ns|us|ms|s asks for
// integers. A SELECT's JSON answer ends with "stats" (levels used and what
// was read at each, notes such as expired raw data; with NDJSON a last
// {"stats":...} line; none with CSV), and levels=raw makes it read raw data
// only, never rollups (levels=auto, the default, lets the planner choose).
// Errors are JSON {"error": "...", "position": {"line","column"}}
// (position only when the error points into the query text). DELETE
// statements change data, so they are only accepted with POST (a GET
// answers 405).
//
// # Limits and browser security
//
// Bodies are read into buffers that grow with the bytes received, never
// from a declared Content-Length; each must arrive within
// Options.BodyTimeout (408), and the bodies held by all requests at once
// are capped by Options.MaxInflightBodyBytes (503 with Retry-After).
// NewServer is the http.Server to serve the handler with: it bounds header
// time and size and idle keep-alive connections, and sets no read or write
// timeout that would cut long queries; LimitConnections bounds the open
// connections.
//
// On a loopback Options.Listen, a Host that does not name the listener or
// one of Options.AllowedHosts answers 421 (DNS rebinding). A state-changing
// request (any method but GET, HEAD, OPTIONS) that a browser marks as
// cross-origin (Origin, Sec-Fetch-Site) answers 403 unless its origin is in
// Options.AllowedOrigins, and even then a form or text/plain body needs an
// X-Soltix-Request or Authorization header. Allowed origins get CORS
// headers and preflight answers. Requests without Origin and Sec-Fetch-Site
// (curl, Telegraf, client libraries) are not affected.
//
// # Admin
//
// POST /api/v1/admin/flush returns once memory is in files. POST
// /api/v1/admin/delete takes {"collection","tags","start","end"} (tags are
// equality matches that must all hold; start is inclusive and end exclusive,
// each an RFC 3339 string or integer nanoseconds, each optional) and answers
// {"deleted_series": n}. POST /api/v1/admin/compact returns once storage has
// merged its files, which makes deletes physical.
//
// GET /api/v1/admin/collections lists the rollup and retention settings of
// every collection (existing or with settings stored), GET
// /api/v1/admin/collections/{name} answers one (the defaults when it has
// none), and PUT /api/v1/admin/collections/{name} changes them with a
// storage.SettingsSpec, {"rollups": false, "retention": {"raw": "7d"}}, in
// which levels not named keep their value; it answers the resulting
// settings:
//
//	{"name":"c","rollups":true,"retention":{"raw":"7d","1h":"forever","1d":"forever","1M":"forever","1y":"forever"}}
//
// # Cluster status
//
// A router sets Options.Cluster and Options.ClusterMetrics. GET
// /api/v1/cluster then answers a ClusterStatus (nodes with address and
// state, groups with primary, replicas, epoch and state), 503 when the
// hook fails, and /metrics adds the soltix_cluster_* families with a node
// label (cluster_metrics.go). On `soltix serve` both are nil: the route
// answers 404 "not a cluster router" and /metrics has no cluster family.
package httpapi
