package e2e

import (
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// The passes of the robustness test beyond TestRobustHostileRequests'
// HTTP/1.1 one: the same hostile requests over h2c, and over HTTP/1.1
// with tokens on and no token that may write, with the connections
// exhausted meanwhile. Each runs the seeds of testdata/robust-seeds.txt.
const robustMoreN = 500 // requests per seed and pass

// h2cClient is Go's client speaking HTTP/2 without TLS (prior knowledge),
// every request a stream of one connection.
func h2cClient() *http.Client {
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	return &http.Client{Transport: &http.Transport{Protocols: &p}, Timeout: robustAnswerDue}
}

// errClientRefused marks a request Go's client will not send (a header
// or method HTTP/2 cannot carry): not the server's doing.
var errClientRefused = errors.New("the client cannot send this request")

// httpRequest turns a raw request into one for Go's client, leaving out
// what HTTP/2 carries otherwise (Connection, Content-Length,
// Transfer-Encoding) and refusing what it cannot carry at all.
func (r *rawReq) httpRequest(base string) (*http.Request, error) {
	if !validToken(r.method) || !strings.HasPrefix(r.target, "/") || strings.HasPrefix(r.target, "//") {
		return nil, errClientRefused
	}
	u, err := url.Parse(base + r.target)
	if err != nil {
		return nil, errClientRefused
	}
	req, err := http.NewRequest(r.method, u.String(), bytes.NewReader(r.body))
	if err != nil {
		return nil, errClientRefused
	}
	for _, h := range r.headers {
		name, v, ok := strings.Cut(h, ":")
		v = strings.TrimSpace(v)
		if !ok || !validToken(name) || !validValue(v) {
			return nil, errClientRefused
		}
		switch strings.ToLower(name) {
		case "host":
			if v == "" || !validValue(v) || strings.ContainsAny(v, " /") {
				return nil, errClientRefused
			}
			req.Host = v
		case "connection", "content-length", "transfer-encoding", "expect", "keep-alive", "upgrade", "te":
		default:
			req.Header.Add(name, v)
		}
	}
	return req, nil
}

func validToken(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

func validValue(s string) bool {
	for _, c := range []byte(s) {
		if c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// TestRobustH2C sends TestRobustHostileRequests' hostile requests over
// h2c, many streams of one connection at a time, then a burst of 600
// concurrent streams (over http.max_connections, which counts h2c
// streams), and checks as the HTTP/1.1 pass does: no crash, every stream
// answered in bounded time, no undocumented 5xx, /health after every
// batch, and the known collections answering byte-identically before and
// after.
func TestRobustH2C(t *testing.T) {
	seeds := robustSeeds(t)
	ops, corpus := specOps(t), corpusLines(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "soltix.yaml")
	if err := os.WriteFile(cfg, []byte(strings.Replace(robustConfig, "http:\n", "http:\n  max_connections: 256\n", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	s := startBinary(t, filepath.Join(dir, "data"), "--config", cfg, "--wal-sync", "never")
	u, _ := url.Parse(s.url)
	writeKnown(t, s)
	before := knownAnswers(t, s.url)

	c := h2cClient()
	var (
		mu      sync.Mutex
		refused int
		errs    = map[string]int{}
		protos  = map[string]int{}
	)
	rb := &robustRun{t: t, s: s, addr: u.Host, statuses: map[int]int{}, documented: specServerErrors(t)}
	rb.send = func(r *rawReq, deadline time.Time) (int, error) {
		req, err := r.httpRequest(s.url)
		if err != nil {
			mu.Lock()
			refused++
			mu.Unlock()
			return sendRaw(u.Host, r, deadline) // HTTP/1.1 then, as the first pass
		}
		resp, err := c.Do(req)
		if err != nil {
			switch msg := err.Error(); {
			case isTimeout(err):
				return 0, err
			case strings.Contains(msg, "header list larger than peer's advertised limit"):
				// Go's client keeps to the server's limit: send it as the first pass does.
				mu.Lock()
				refused++
				mu.Unlock()
				return sendRaw(u.Host, r, deadline)
			case strings.Contains(msg, "INTERNAL_ERROR"):
				// The server failed (a handler's panic resets its stream).
				r.mayClose = false
			default:
				// The server reset the stream, or the connection after a
				// connection-level error of a request sharing it: a header
				// over http.max_header_bytes sent before the server's
				// SETTINGS arrived ends the connection with GOAWAY
				// COMPRESSION_ERROR (net/http's HPACK limit), and every
				// stream on it with it. An answer to hostile framing.
				r.mayClose = true
			}
			mu.Lock()
			errs[firstWords(err.Error())]++
			mu.Unlock()
			return 0, err
		}
		defer resp.Body.Close()
		if _, err := io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<20)); err != nil && isTimeout(err) {
			return 0, err
		}
		mu.Lock()
		protos[resp.Proto]++
		mu.Unlock()
		return resp.StatusCode, nil
	}
	var bomb bytes.Buffer
	for _, seed := range seeds {
		g := newGen(seed^0x42c, u.Host, ops, corpus, gzipBomb(&bomb))
		for i := 0; i < robustMoreN; i += robustBatch {
			rb.batch(g, seed, i, min(robustBatch, robustMoreN-i))
		}
	}
	if protos["HTTP/2.0"] < robustMoreN/2 {
		t.Fatalf("answers by protocol %v: most requests must go over h2c", protos)
	}

	// A burst of streams, more than max_connections: Go's client opens
	// more connections once one has the server's 250 streams.
	statuses := map[int]int{}
	var wg sync.WaitGroup
	for i := range 600 {
		wg.Go(func() {
			q := fmt.Sprintf("SELECT count(v) FROM %s WHERE time > %d", knownNames[0], i)
			resp, err := c.Get(s.url + "/api/v1/query?q=" + url.QueryEscape(q))
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				switch msg := err.Error(); {
				case isTimeout(err):
					t.Errorf("burst stream %d: no answer within %s", i, robustAnswerDue)
				case strings.Contains(msg, "frame too large"):
					// A new connection past http.max_connections: the
					// listener's refusal is HTTP/1.1 (conns.go), which an
					// h2c client with prior knowledge cannot read.
				case strings.Contains(msg, "INTERNAL_ERROR") || !strings.Contains(msg, "GOAWAY"):
					t.Errorf("burst stream %d: %v", i, err)
				}
				errs[firstWords(err.Error())]++
				return
			}
			io.Copy(io.Discard, resp.Body) //nolint:errcheck // the status is what counts
			resp.Body.Close()
			statuses[resp.StatusCode]++
		})
	}
	wg.Wait()
	if statuses[http.StatusOK] == 0 || len(statuses) > 2 || len(statuses) == 2 && statuses[http.StatusServiceUnavailable] == 0 {
		t.Errorf("burst of 600 streams: answers %v, want 200s and at most 503s", statuses)
	}
	rb.alive()
	t.Logf("h2c: answers %v, burst %v, client errors %v, sent over HTTP/1.1 (not expressible in HTTP/2) %d, by protocol %v",
		rb.statuses, statuses, errs, refused, protos)
	if after := knownAnswers(t, s.url); !mapsEqual(before, after) {
		t.Fatalf("the known collections answer differently after the h2c pass:\n%s", mapsDiff(before, after))
	}
	s.stop(t)
}

// firstWords shortens an error for the tally.
func firstWords(s string) string {
	if i := strings.Index(s, "\": "); i >= 0 {
		s = s[i+3:]
	}
	return s[:min(len(s), 60)]
}

// gzipBomb is the 64 MiB gzip bomb of the first pass, made once per buffer.
func gzipBomb(b *bytes.Buffer) []byte {
	if b.Len() == 0 {
		zw := gzip.NewWriter(b)
		zw.Write(make([]byte, 64<<20)) //nolint:errcheck // a buffer
		zw.Close()
	}
	return b.Bytes()
}

// robustToken is a random token.
func robustToken(t *testing.T, prefix string) string {
	t.Helper()
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return prefix + hex.EncodeToString(b)
}

func robustDigest(tok string) string {
	d := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(d[:])
}

// TestRobustTokens runs the hostile requests with tokens on, every one
// carrying credentials that do not allow a write: none, random bytes,
// truncated and altered tokens, the right token under a wrong scheme, a
// read-only token in each accepted form (Bearer, Token, Basic, ?p=), and a
// token that may write only a collection never written; a quarter of the
// requests are well-formed writes and settings changes. Meanwhile the
// connections are exhausted (http.max_connections) by clients that send
// nothing. It checks the first pass's invariants, that no write or admin
// route answers 2xx, that /health answers after the exhaustion, and that the
// stored data did not change at all: the known collections' answers and
// the list of collections, before and after, and after a restart.
func TestRobustTokens(t *testing.T) {
	seeds := robustSeeds(t)
	ops, corpus := specOps(t), corpusLines(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	plain := filepath.Join(dir, "plain.yaml")
	if err := os.WriteFile(plain, []byte(robustConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	// The data is written with authentication off, then the node runs
	// with tokens.
	s := startBinary(t, data, "--config", plain, "--wal-sync", "never")
	writeKnown(t, s)
	s.stop(t)

	admin, writer, reader, limited := robustToken(t, "adm-"), robustToken(t, "wr-"), robustToken(t, "rd-"), robustToken(t, "lim-")
	const maxConns = 48
	authCfg := strings.Replace(robustConfig, "http:\n", fmt.Sprintf("http:\n  max_connections: %d\n", maxConns), 1) + fmt.Sprintf(`auth:
  tokens:
    - {name: admin, sha256: %s, scopes: [admin]}
    - {name: writer, sha256: %s, scopes: [write]}
    - {name: reader, sha256: %s, scopes: [read]}
    - {name: limited, sha256: %s, scopes: [read, write], collections: [never_written_q]}
`, robustDigest(admin), robustDigest(writer), robustDigest(reader), robustDigest(limited))
	cfg := filepath.Join(dir, "auth.yaml")
	if err := os.WriteFile(cfg, []byte(authCfg), 0o644); err != nil {
		t.Fatal(err)
	}
	s = startBinary(t, data, "--config", cfg, "--wal-sync", "never")
	u, _ := url.Parse(s.url)
	bearer := "Bearer " + admin
	state := func(phase string) map[string]string {
		t.Helper()
		m := knownAnswersAuth(t, s.url, bearer)
		for _, path := range []string{"/api/v1/admin/collections", "/api/v1/query?q=SHOW+COLLECTIONS"} {
			req, _ := http.NewRequest(http.MethodGet, s.url+path, nil)
			req.Header.Set("Authorization", bearer)
			resp, err := (&http.Client{Timeout: robustAnswerDue}).Do(req)
			if err != nil {
				t.Fatalf("%s: GET %s: %v", phase, path, err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("%s: GET %s: %d %s", phase, path, resp.StatusCode, b)
			}
			m[path] = string(b)
		}
		return m
	}
	before := state("before")

	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	// What requests carry as Authorization, none allowing a write. Named
	// for the tally: the log never shows a token.
	auths := []struct{ name, value string }{
		{"none", ""},
		{"read Bearer", "Bearer " + reader},
		{"read Token", "Token " + reader},
		{"read Basic", "Basic " + b64("telegraf:"+reader)},
		{"admin truncated", "Bearer " + admin[:len(admin)-1]},
		{"admin extended", "Bearer " + admin + "x"},
		{"admin upper case", "Bearer " + strings.ToUpper(admin)},
		{"writer truncated", "Token " + writer[:10]},
		{"admin, scheme Digest", "Digest " + admin},
		{"admin, no space", "Bearer" + admin},
		{"admin, Basic without user", "Basic " + b64(admin)},
		{"writer, Basic as user", "Basic " + b64(writer+":")},
		{"admin, Basic not base64", "Basic " + admin},
		{"limited to another collection", "Bearer " + limited},
		{"huge", "Bearer " + strings.Repeat("A", 9000)},
		{"binary", "Bearer \xff\xfe" + admin},
		{"admin, no scheme", admin},
	}
	authCount := map[string]int{}
	edit := func(g *gen) func(*rawReq) {
		return func(r *rawReq) {
			hs := r.headers[:0]
			for _, h := range r.headers {
				if name, _, _ := strings.Cut(h, ":"); !strings.EqualFold(strings.TrimSpace(name), "Authorization") {
					hs = append(hs, h)
				}
			}
			r.headers = hs
			if g.chance(0.25) {
				// A well-formed change, so that a credential wrongly
				// accepted would change the data.
				host := r.headers[0]
				switch g.r.IntN(4) {
				case 0:
					*r = rawReq{op: "POST /api/v1/write", method: "POST", target: "/api/v1/write", body: []byte(scratchPrefix + "0,host=h v=1 1\n")}
				case 1:
					*r = rawReq{op: "POST /write", method: "POST", target: "/write?db=" + scratchPrefix + "1", body: []byte(scratchPrefix + "1,host=h v=1 1\n")}
				case 2:
					*r = rawReq{op: "POST /api/v2/write", method: "POST", target: "/api/v2/write?bucket=" + scratchPrefix + "2", body: []byte(scratchPrefix + "2,host=h v=1 1\n")}
				default:
					*r = rawReq{op: "PUT /api/v1/admin/collections/{name}", method: "PUT", target: "/api/v1/admin/collections/" + scratchPrefix + "3",
						body: []byte(`{"rollups": false}`), headers: []string{"Content-Type: application/json"}}
				}
				r.headers, r.clen = append([]string{host}, r.headers...), -1
			}
			pick := auths[g.r.IntN(len(auths))]
			a, name := pick.value, pick.name
			if a == "" && g.chance(0.5) && (r.op == "POST /write" || r.op == "GET /query" || r.op == "POST /query") {
				// InfluxDB's credentials in the query string.
				sep := "?"
				if strings.Contains(r.target, "?") {
					sep = "&"
				}
				r.target += sep + g.pick([]string{"u=x&p=" + reader, "p=" + admin[:8], "p=" + url.QueryEscape(limited), "u=admin&p=" + writer + "0"})
				name = "?p="
			} else if a != "" {
				r.headers = append(r.headers, "Authorization: "+a)
			}
			authCount[name]++
		}
	}
	writeRoute := map[string]bool{"POST /write": true, "POST /api/v1/write": true, "POST /api/v2/write": true}
	rb := &robustRun{t: t, s: s, addr: u.Host, statuses: map[int]int{}, documented: specServerErrors(t), tokenHeader: bearer,
		check: func(r *rawReq, status int) string {
			if (writeRoute[r.op] || strings.Contains(r.op, "/admin/")) && status/100 == 2 {
				return fmt.Sprintf("%s answered %d without a token that may do it", r.op, status)
			}
			return ""
		}}
	var bomb bytes.Buffer
	for _, seed := range seeds {
		g := newGen(seed^0x70c, u.Host, ops, corpus, gzipBomb(&bomb))
		g.edit = edit(g)
		for i := 0; i < robustMoreN; i += robustBatch {
			if i == robustMoreN/2 {
				// Exhaust the connections while a batch runs: they
				// send nothing and read_header_timeout cuts them.
				idle := openIdle(t, u.Host, maxConns)
				rb.batch(g, seed, i, robustBatch)
				waitClosed(t, idle)
				continue
			}
			rb.batch(g, seed, i, min(robustBatch, robustMoreN-i))
		}
	}
	rb.alive()
	t.Logf("tokens: answers %v; closed without an answer %d; credentials sent %v", rb.statuses, rb.closed, authCount)
	if rb.statuses[http.StatusUnauthorized] == 0 || rb.statuses[http.StatusForbidden] == 0 {
		t.Errorf("answers %v: want both 401s and 403s", rb.statuses)
	}
	if after := state("after"); !mapsEqual(before, after) {
		t.Fatalf("the stored data changed under requests without a token that may write:\n%s", mapsDiff(before, after))
	}
	s.stop(t)
	s = startBinary(t, data, "--config", cfg, "--wal-sync", "never")
	if after := state("restarted"); !mapsEqual(before, after) {
		t.Fatalf("the stored data changed after a restart:\n%s", mapsDiff(before, after))
	}
	// The comparison sees a write that a token allows.
	req, _ := http.NewRequest(http.MethodPost, s.url+"/api/v1/write", strings.NewReader(scratchPrefix+"0,host=h v=1 1\n"))
	req.Header.Set("Authorization", "Bearer "+writer)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("write with the writer token: %v %v", resp, err)
	}
	resp.Body.Close()
	if after := state("written"); mapsEqual(before, after) {
		t.Fatal("the comparison missed a new collection")
	}
	s.stop(t)
}
