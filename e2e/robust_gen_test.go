package e2e

// The request generator of TestRobustHostileRequests: from a seeded PRNG,
// raw HTTP/1.1 requests over every route of openapi.yaml, with hostile
// bodies, headers, encodings, query strings, line protocol (mutated lines of
// the shared corpus) and queries (mutated statements).

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// knownPrefix starts the name of every collection whose answers the test
// compares before and after. The generator puts it only into reads: guard
// rewrites it, in every request that can change data, to scratchPrefix.
const (
	knownPrefix   = "kq7"
	scratchPrefix = "scr"
)

// specOps returns "METHOD /path" for every operation of openapi.yaml.
func specOps(t *testing.T) []string {
	t.Helper()
	ops, _ := readSpec(t)
	if len(ops) < 20 {
		t.Fatalf("found %d operations in openapi.yaml, want the whole API", len(ops))
	}
	return ops
}

// specServerErrors returns, by "METHOD /path", the 5xx statuses
// openapi.yaml documents for the operation (its responses' keys).
func specServerErrors(t *testing.T) map[string]map[int]bool {
	t.Helper()
	_, errs := readSpec(t)
	return errs
}

// readSpec reads openapi.yaml's operations ("METHOD /path") and, for each,
// the 5xx statuses among its responses.
func readSpec(t *testing.T) (ops []string, errs map[string]map[int]bool) {
	t.Helper()
	spec, err := os.ReadFile("../openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	methods := map[string]bool{"get": true, "put": true, "post": true, "delete": true, "head": true, "patch": true}
	errs = map[string]map[int]bool{}
	inPaths, path, op := false, "", ""
	sc := bufio.NewScanner(bytes.NewReader(spec))
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), " \r")
		if line == "" || strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		indent := len(line) - len(strings.TrimLeft(line, " "))
		if indent == 0 {
			inPaths = line == "paths:"
			continue
		}
		if !inPaths || !strings.HasSuffix(line, ":") {
			continue
		}
		key := strings.Trim(strings.TrimSuffix(strings.TrimSpace(line), ":"), `'"`)
		switch {
		case indent == 2:
			path, op = key, ""
		case indent == 4 && methods[key]:
			op = strings.ToUpper(key) + " " + path
			ops = append(ops, op)
		case indent == 8 && op != "" && len(key) == 3 && key[0] == '5':
			if code, err := strconv.Atoi(key); err == nil {
				if errs[op] == nil {
					errs[op] = map[int]bool{}
				}
				errs[op][code] = true
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return ops, errs
}

// corpusLines returns the text inputs of the shared line-protocol corpus.
func corpusLines(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("../../shared/testdata/line-protocol-corpus/corpus.json")
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Decode map[string]struct {
			Input struct {
				Text json.RawMessage `json:"text"`
			} `json:"input"`
		} `json:"decode"`
	}
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, d := range c.Decode {
		var s string
		if json.Unmarshal(d.Input.Text, &s) == nil && s != "" {
			lines = append(lines, s)
		}
	}
	if len(lines) < 100 {
		t.Fatalf("corpus has %d text inputs, want thousands", len(lines))
	}
	// Map iteration order is random: sort so that a seed means one run.
	slices.Sort(lines)
	return lines
}

// rawReq is one request as bytes on the wire, plus what the test may
// expect of its answer.
type rawReq struct {
	op      string // the openapi operation it was made for
	method  string
	target  string   // path and query, as sent
	headers []string // "Name: value" lines, Host included
	body    []byte
	// mayClose: the request is broken at the framing level or too large,
	// so a closed connection is an answer too.
	mayClose bool
	// clen overrides Content-Length (-1: none, and no chunking).
	clen int
}

func (r *rawReq) wire() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\n", r.method, r.target)
	for _, h := range r.headers {
		b.WriteString(h)
		b.WriteString("\r\n")
	}
	switch {
	case r.clen >= 0:
		fmt.Fprintf(&b, "Content-Length: %d\r\n", r.clen)
	case r.clen == -1 && len(r.body) > 0:
		fmt.Fprintf(&b, "Content-Length: %d\r\n", len(r.body))
	}
	b.WriteString("Connection: close\r\n\r\n")
	b.Write(r.body)
	return b.Bytes()
}

// oddTransferEncoding says whether r has a Transfer-Encoding other than
// chunked.
func (r *rawReq) oddTransferEncoding() bool {
	for _, h := range r.headers {
		if name, v, ok := strings.Cut(h, ":"); ok && strings.EqualFold(name, "Transfer-Encoding") && strings.TrimSpace(v) != "chunked" {
			return true
		}
	}
	return false
}

// String describes the request for a failure message.
func (r *rawReq) String() string {
	w := r.wire()
	if len(w) > 600 {
		w = append(w[:600:600], fmt.Sprintf("... (%d bytes)", len(w))...)
	}
	return fmt.Sprintf("[%s] %q", r.op, w)
}

// gen makes requests from one seed.
type gen struct {
	r      *rand.Rand
	host   string
	ops    []string
	corpus []string
	bomb   []byte // gzip of 64 MiB of zeros
	// edit, when set, changes every request last (robust_more_test.go:
	// the Authorization of the pass with tokens).
	edit func(*rawReq)
}

func newGen(seed uint64, host string, ops, corpus []string, bomb []byte) *gen {
	return &gen{r: rand.New(rand.NewPCG(seed, seed^0x5eed)), host: host, ops: ops, corpus: corpus, bomb: bomb}
}

func (g *gen) pick(s []string) string { return s[g.r.IntN(len(s))] }
func (g *gen) chance(p float64) bool  { return g.r.Float64() < p }

var knownNames = []string{knownPrefix + "cpu", knownPrefix + "mem", knownPrefix + "js"}

// name returns a collection name: a scratch one, a known one (reads only:
// guard rewrites it elsewhere) or a hostile one.
func (g *gen) name() string {
	switch g.r.IntN(10) {
	case 0, 1, 2, 3:
		return scratchPrefix + strconv.Itoa(g.r.IntN(4))
	case 4, 5:
		return g.pick(knownNames)
	case 6:
		return strings.Repeat("n", 1+g.r.IntN(5000))
	case 7:
		return string(g.bytes(1 + g.r.IntN(40)))
	case 8:
		return g.pick([]string{"", ".", "..", "../../etc/passwd", "a/b", "%00", "\u00e9t\u00e9", "\xff\xfe", "a b", "_internal", "*", "/.*/"})
	}
	return g.pick(g.corpus[:50])
}

func (g *gen) bytes(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(g.r.UintN(256))
	}
	return b
}

// mutate changes s a few times: flips, cuts, repeats, inserts nasty bytes.
func (g *gen) mutate(s string) string {
	b := []byte(s)
	for range 1 + g.r.IntN(4) {
		if len(b) == 0 {
			b = append(b, g.bytes(4)...)
			continue
		}
		i := g.r.IntN(len(b))
		switch g.r.IntN(8) {
		case 0:
			b[i] = byte(g.r.UintN(256))
		case 1:
			b = b[:i]
		case 2:
			b = append(b[:i:i], append([]byte(g.pick([]string{"\xff", "\x00", "\n", "\\", "\"", "'", ",", "=", " ", "\u2028", "\xc3", "9e999", "NaN", "-Inf", "99999999999999999999999i", "\t", "#"})), b[i:]...)...)
		case 3:
			j := i + g.r.IntN(len(b)-i)
			b = append(b[:j:j], append(append([]byte{}, b[i:j]...), b[j:]...)...)
		case 4:
			j := i + g.r.IntN(len(b)-i)
			b = append(b[:i:i], b[j:]...)
		case 5:
			b = append(b, g.bytes(1+g.r.IntN(8))...)
		case 6:
			if len(b) < 4096 {
				b = bytes.Repeat(b, 1+g.r.IntN(50))
			}
		case 7:
			b = append(b[:i:i], append([]byte(strings.Repeat("9", 1+g.r.IntN(400))), b[i:]...)...)
		}
	}
	return string(b)
}

// lines returns a line-protocol body: corpus lines, lines of the known
// collections' shape, mutated or not.
func (g *gen) lines() string {
	var b strings.Builder
	for range 1 + g.r.IntN(20) {
		var l string
		if g.chance(0.5) {
			l = g.pick(g.corpus)
		} else {
			l = fmt.Sprintf("%s,host=h%d,region=r%d v=%g,n=%di,s=\"x%d\",b=%t %d", g.name(), g.r.IntN(5), g.r.IntN(3),
				g.r.NormFloat64()*1e3, g.r.Int64(), g.r.IntN(9), g.chance(0.5), 1_700_000_000_000_000_000+g.r.Int64N(1e15))
		}
		if g.chance(0.6) {
			l = g.mutate(l)
		}
		b.WriteString(l)
		b.WriteByte('\n')
	}
	return b.String()
}

// jsonValue is a random, possibly hostile JSON value.
func (g *gen) jsonValue(depth int) string {
	if depth > 3 {
		return strconv.Itoa(g.r.IntN(100))
	}
	switch g.r.IntN(12) {
	case 0:
		return strings.Repeat("[", 1+g.r.IntN(100000)) // deep nesting, never closed
	case 1:
		n := 1 + g.r.IntN(5000)
		return strings.Repeat("[", n) + strings.Repeat("]", n)
	case 2:
		return g.pick([]string{"1e999", "-1e999", "NaN", "Infinity", "-0", "1e-400", "123456789012345678901234567890", "9223372036854775808", "-9223372036854775809", "0x10", "01"})
	case 3:
		return strconv.Quote(string(g.bytes(g.r.IntN(30))))
	case 4:
		return "\"" + string(g.bytes(g.r.IntN(30))) + "\"" // invalid UTF-8, raw control bytes
	case 5:
		return g.pick([]string{"null", "true", "false", "{}", "[]", `""`, `"\ud800"`})
	case 6:
		return strconv.Quote(strings.Repeat("x", g.r.IntN(200000)))
	}
	// An object with fields the API knows.
	keys := []string{"collection", "device_id", "time", "fields", "tags", "v", "q", "query", "targets", "target", "range",
		"from", "to", "retention", "levels", "where", "series", "start", "end", "payload", "key", "name", "interval", "maxDataPoints"}
	var b strings.Builder
	b.WriteByte('{')
	for i := range g.r.IntN(6) {
		if i > 0 {
			b.WriteByte(',')
		}
		k := g.pick(keys)
		var v string
		switch k {
		case "collection", "name", "target":
			v = strconv.Quote(g.name())
		case "q", "query":
			v = strconv.Quote(g.query())
		case "time", "from", "to", "start", "end":
			v = g.pick([]string{`"2025-01-01T00:00:00Z"`, `"now-1h"`, `"9999-99-99"`, "1700000000000000000", "-9223372036854775808", `"` + strings.Repeat("1", 400) + `"`})
		default:
			v = g.jsonValue(depth + 1)
		}
		fmt.Fprintf(&b, "%q:%s", k, v)
	}
	b.WriteByte('}')
	if g.chance(0.3) {
		return "[" + b.String() + "," + b.String() + "]"
	}
	return b.String()
}

var queryTemplates = []string{
	"SELECT * FROM %s",
	"SELECT mean(v), max(n), count(s) FROM %s WHERE time > now() - 1000y GROUP BY time(1h), host",
	"SELECT v FROM %s WHERE host =~ /h[0-9]+/ AND v > 1e308 LIMIT 3",
	"SELECT sum(n) FROM %s WHERE time >= '2023-11-14T00:00:00Z' AND time < '2262-01-01' GROUP BY time(%s) fill(previous)",
	"SELECT last(v) FROM %s GROUP BY host",
	"SHOW FIELDS FROM %s",
	"SHOW TAG VALUES FROM %s WITH KEY = host",
	"SHOW TAG KEYS FROM %s",
	"SHOW COLLECTIONS",
	"EXPLAIN SELECT mean(v) FROM %s GROUP BY time(1d)",
	"DELETE FROM %s WHERE host = 'h1'",
	"DELETE FROM %s WHERE time < now() - 1000y",
	"SHOW DATABASES",
	"CREATE DATABASE %s",
	"DROP DATABASE %s",
	"SELECT percentile(v, 99.9), stddev(v) FROM %s WHERE time > 0",
}

// query returns a statement, mutated or not.
func (g *gen) query() string {
	t := g.pick(queryTemplates)
	q := t
	if strings.Contains(t, "%s") {
		args := []any{g.name()}
		if strings.Count(t, "%s") == 2 {
			args = append(args, g.pick([]string{"1ns", "1s", "1m", "0s", "-1h", "1000000000y", "1M", "1w"}))
		}
		q = fmt.Sprintf(t, args...)
	}
	switch g.r.IntN(4) {
	case 0:
		return g.mutate(q)
	case 1: // token-level: drop, repeat or swap words
		w := strings.Fields(q)
		i, j := g.r.IntN(len(w)), g.r.IntN(len(w))
		switch g.r.IntN(3) {
		case 0:
			w = append(w[:i:i], w[i+1:]...)
		case 1:
			w = append(w[:i:i], append([]string{w[j], w[j]}, w[i:]...)...)
		default:
			w[i], w[j] = w[j], w[i]
		}
		return strings.Join(w, " ")
	}
	return q
}

// params returns a query string for op.
func (g *gen) params(op string) string {
	v := url.Values{}
	switch {
	case strings.Contains(op, "write"):
		v.Set(g.pick([]string{"collection", "db", "bucket"}), g.name())
		v.Set("precision", g.pick([]string{"ns", "u", "ms", "s", "h", "m", "bogus", ""}))
	case strings.Contains(op, "query") && !strings.Contains(op, "grafana"):
		v.Set("q", g.query())
		v.Set("epoch", g.pick([]string{"ns", "ms", "s", "h", "x"}))
		v.Set("format", g.pick([]string{"json", "csv", "ndjson", "xml", ""}))
		if g.chance(0.3) {
			v.Set("timeout", g.pick([]string{"1ns", "-1s", "1000000h", "abc", "0"}))
		}
		if g.chance(0.3) {
			v.Set("levels", g.pick([]string{"raw", "auto", "1h", "zzz", ""}))
		}
	}
	s := v.Encode()
	if g.chance(0.3) { // odd parameters
		odd := []string{"=", "&&&", "q", "q=&q=", "%zz", "%ff%fe=%00", "a=" + strings.Repeat("b", 10000), ";", "collection=" + scratchPrefix + "0&collection=x", "db=%c3%28", "u=x&p=y", "x[]=1"}
		s += "&" + g.pick(odd)
	}
	return s
}

// next returns the next request.
func (g *gen) next() *rawReq {
	op := g.pick(g.ops)
	method, path, _ := strings.Cut(op, " ")
	path = strings.NewReplacer(
		"{name}", url.PathEscape(g.name()),
		"{file}", url.PathEscape(g.pick([]string{"app.js", "../main.go", "", "%2e%2e", "x.css"})),
		"{id}", url.PathEscape(g.pick([]string{"1", "0", "-1", strings.Repeat("9", 40), "abc"})),
		"{group}", url.PathEscape(g.pick([]string{"0", "1", "99", "-1", "x"})),
	).Replace(path)
	if g.chance(0.05) {
		method = g.pick([]string{"GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "BREW", "G\x00T"})
	}
	r := &rawReq{op: op, method: method, clen: -1}
	r.target = path
	if p := g.params(op); p != "" {
		r.target += "?" + p
	}
	r.headers = []string{"Host: " + g.host}
	// The body.
	var body []byte
	ctype := ""
	switch {
	case strings.Contains(op, "write"):
		if g.chance(0.7) {
			body, ctype = []byte(g.lines()), "text/plain"
		} else {
			body, ctype = []byte(g.jsonValue(0)), "application/json"
		}
	case op == "POST /api/v1/query" || op == "POST /query":
		if g.chance(0.5) {
			body, ctype = []byte("q="+url.QueryEscape(g.query())), "application/x-www-form-urlencoded"
		} else {
			body, ctype = []byte(g.query()), "text/plain"
		}
	case method != "GET" && method != "HEAD":
		body, ctype = []byte(g.jsonValue(0)), "application/json"
	}
	switch g.r.IntN(20) {
	case 0:
		body = g.bytes(g.r.IntN(4096))
	case 1:
		if len(body) > 0 {
			body = body[:g.r.IntN(len(body))]
		}
	case 2: // over max_body_bytes
		l := g.lines()
		body = bytes.Repeat([]byte(l), 1+(2<<20)/(1+len(l)))
		r.mayClose = true
	case 3:
		body = []byte(g.mutate(string(body)))
	}
	// Content-Type and Content-Encoding.
	if g.chance(0.15) {
		ctype = g.pick([]string{"", "application/json", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
			"text/plain; charset=latin1", "application/octet-stream", "\xff/\xfe", strings.Repeat("a", 3000)})
	}
	if ctype != "" {
		r.headers = append(r.headers, "Content-Type: "+ctype)
	}
	switch g.r.IntN(12) {
	case 0:
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write(body)
		zw.Close()
		body = buf.Bytes()
		r.headers = append(r.headers, "Content-Encoding: gzip")
	case 1:
		body = g.bomb
		r.headers = append(r.headers, "Content-Encoding: gzip")
	case 2:
		r.headers = append(r.headers, "Content-Encoding: "+g.pick([]string{"gzip", "br", "deflate", "gzip, gzip", "identity", "x\xff", "zstd"}))
	}
	// Headers.
	switch g.r.IntN(15) {
	case 0: // over max_header_bytes
		r.headers = append(r.headers, "X-Big: "+strings.Repeat("a", 40000))
		r.mayClose = true
	case 1:
		for i := range 200 {
			r.headers = append(r.headers, fmt.Sprintf("X-H%d: %s", i, strings.Repeat("b", 50)))
		}
	case 2: // malformed header lines
		r.headers = append(r.headers, g.pick([]string{"NoColon", ": empty", "Bad Name: x", "X: \x00\x01", "X-Utf8: \xff\xfe", "Content-Length: -1",
			"Content-Length: 1, 2", "Transfer-Encoding: chunked", "Transfer-Encoding: gzip, chunked", "Expect: 100-continue", "Host: second"}))
		r.mayClose = true
	case 3:
		r.headers[0] = "Host: " + g.pick([]string{"evil.example", "", "127.0.0.1", "[::1]:1", "localhost:" + strings.Repeat("9", 30)})
	case 4:
		r.headers = append(r.headers, "Authorization: "+g.pick([]string{"Bearer ", "Token x", "Basic !!!", "Basic " + strings.Repeat("A", 5000), "Bearer \xff"}))
	case 5:
		r.headers = append(r.headers, "Origin: http://evil.example", "Sec-Fetch-Site: cross-site")
	case 6:
		r.headers = append(r.headers, "Accept-Encoding: gzip", "Accept: "+g.pick([]string{"text/csv", "application/x-ndjson", "*/*", "\xff"}))
	}
	// Framing: a Content-Length that lies.
	if g.chance(0.01) && len(body) > 0 {
		r.clen = len(body) + 1 + g.r.IntN(100) // the server waits for the rest until body_timeout
	} else if g.chance(0.01) {
		r.clen = len(body) / 2
		r.mayClose = true
	}
	if g.chance(0.02) {
		r.target = g.pick([]string{"*", "//", "/api/v1/../../x", "/api/v1/query?" + string(g.bytes(20)), "http://evil.example/health", strings.Repeat("/a", 10000)})
		r.mayClose = true
	}
	r.body = body
	guard(r)
	if g.edit != nil {
		g.edit(r)
	}
	return r
}

// guard keeps the known collections out of every request that can change
// data: writes, DELETE statements, admin deletes and settings. It rewrites
// the known prefix, in any case, in the target and the (uncompressed)
// body; a request whose decoded target or body still names it is made a
// harmless GET /health.
func guard(r *rawReq) {
	lower := asciiLower(r.target + string(r.body))
	writes := strings.Contains(r.op, "write") || strings.Contains(r.op, "admin") || strings.Contains(lower, "delete") ||
		strings.Contains(lower, "drop") || r.method != "GET"
	if !writes {
		return
	}
	r.target = replaceFold(r.target, knownPrefix, scratchPrefix)
	r.body = []byte(replaceFold(string(r.body), knownPrefix, scratchPrefix))
	dec, _ := url.QueryUnescape(r.target)
	if strings.Contains(asciiLower(dec), knownPrefix) || strings.Contains(asciiLower(string(gunzipOrSelf(r.body))), knownPrefix) {
		*r = rawReq{op: "GET /health", method: "GET", target: "/health", headers: r.headers[:1], clen: -1}
	}
}

// replaceFold replaces old (lower case ASCII) in s, in any case, by repl.
func replaceFold(s, old, repl string) string {
	lower := asciiLower(s)
	var b strings.Builder
	at := 0
	for {
		i := strings.Index(lower[at:], old)
		if i < 0 {
			b.WriteString(s[at:])
			return b.String()
		}
		b.WriteString(s[at : at+i])
		b.WriteString(repl)
		at += i + len(old)
	}
}

// gunzipOrSelf returns b decompressed (at most 1 MiB) when it is gzip.
func gunzipOrSelf(b []byte) []byte {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return b
	}
	var out bytes.Buffer
	out.ReadFrom(io.LimitReader(zr, 1<<20))
	return out.Bytes()
}

// asciiLower lowers ASCII letters only, keeping every byte where it was
// (strings.ToLower turns invalid UTF-8 into longer replacement runes).
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
