package s3test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// Fault is what a Proxy does to the requests it passes on.
type Fault int

// The faults. Object GETs are GETs whose path names a key (/bucket/key,
// path-style); uploads are PUTs with a body (PutObject, UploadPart).
const (
	// Healthy passes every request through unchanged.
	Healthy Fault = iota
	// Fail500 answers every request with 500 InternalError without passing
	// it on.
	Fail500
	// Drop closes every request's connection without an answer.
	Drop
	// Stall holds every request without an answer until the client gives
	// up (or the proxy closes), then closes the connection.
	Stall
	// TruncateGet passes object GETs on but sends only the first half of
	// the body (at least one byte short) before closing the connection.
	TruncateGet
	// CorruptGet passes object GETs on with one byte in the middle of the
	// body inverted; the length stays right.
	CorruptGet
	// CutUpload passes uploads on with only the first half of the body,
	// then aborts the request to the server and closes the client's
	// connection without an answer.
	CutUpload
)

var faultNames = [...]string{"healthy", "500", "drop", "stall", "truncate-get", "corrupt-get", "cut-upload"}

func (f Fault) String() string {
	if f >= 0 && int(f) < len(faultNames) {
		return faultNames[f]
	}
	return fmt.Sprintf("fault(%d)", int(f))
}

// Proxy is an HTTP reverse proxy on a free 127.0.0.1 port that injects a
// Fault, switchable at run time. It keeps the Host header, so signed
// requests made to the proxy verify at the server. Its methods are safe for
// concurrent use.
type Proxy struct {
	srv    *http.Server
	ln     net.Listener
	rp     *httputil.ReverseProxy
	closed chan struct{}

	mu    sync.Mutex
	fault Fault
	left  int // faults left before Healthy; < 0: until changed
	hook  func(*http.Request)

	requests atomic.Int64
	faulted  atomic.Int64
}

// StartProxy runs a Proxy to target (a server's endpoint URL) for the test
// and closes it when the test ends.
func StartProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	p, err := NewProxy(target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

// NewProxy runs a Proxy to target; the caller closes it.
func NewProxy(target string) (*Proxy, error) {
	u, err := url.Parse(target)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("proxy target %q: not a URL", target)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("proxy listen: %w", err)
	}
	p := &Proxy{ln: ln, closed: make(chan struct{})}
	p.rp = &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(u)
			r.Out.Host = r.In.Host // the signature covers Host
		},
		ModifyResponse: p.modify,
		// Flush each write at once, so a truncated body really reaches
		// the client as headers and part of the body before the hang-up.
		FlushInterval: -1,
		ErrorLog:      quiet,
	}
	p.srv = &http.Server{Handler: http.HandlerFunc(p.serve), ErrorLog: quiet}
	go p.srv.Serve(ln) //nolint:errcheck // ends with Close
	return p, nil
}

// URL is the proxy's endpoint, to give clients instead of the server's.
func (p *Proxy) URL() string { return "http://" + p.ln.Addr().String() }

// Set makes the proxy apply f to every request it applies to, until changed.
func (p *Proxy) Set(f Fault) { p.SetCount(f, -1) }

// SetCount applies f to the next n requests it applies to, then turns
// Healthy; n < 0 means until changed.
func (p *Proxy) SetCount(f Fault, n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.fault, p.left = f, n
	if n == 0 {
		p.fault = Healthy
	}
}

// Fault returns the fault in force.
func (p *Proxy) Fault() Fault {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.fault
}

// OnRequest sets a function called with each request before the fault is
// applied (nil for none); it must not read the body. Tests use it to act
// at a chosen request, e.g. stop the server when a given part arrives.
func (p *Proxy) OnRequest(f func(*http.Request)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.hook = f
}

// Requests returns how many requests reached the proxy.
func (p *Proxy) Requests() int64 { return p.requests.Load() }

// Faulted returns how many requests a fault was applied to.
func (p *Proxy) Faulted() int64 { return p.faulted.Load() }

// Close stops the proxy, releasing stalled requests.
func (p *Proxy) Close() {
	select {
	case <-p.closed:
		return
	default:
		close(p.closed)
	}
	p.srv.Close()
}

// take returns the fault to apply to r, consuming one of a counted fault.
func (p *Proxy) take(r *http.Request) Fault {
	p.mu.Lock()
	defer p.mu.Unlock()
	f := p.fault
	if f == Healthy || !applies(f, r) {
		return Healthy
	}
	if p.left > 0 {
		p.left--
		if p.left == 0 {
			p.fault = Healthy
		}
	}
	return f
}

func applies(f Fault, r *http.Request) bool {
	switch f {
	case TruncateGet, CorruptGet:
		return isObjectGet(r)
	case CutUpload:
		return r.Method == http.MethodPut && r.ContentLength != 0
	}
	return true
}

// isObjectGet tells a GET of an object (/bucket/key) from one of a bucket
// (a listing).
func isObjectGet(r *http.Request) bool {
	if r.Method != http.MethodGet {
		return false
	}
	_, key, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	return key != ""
}

// faultKey marks a request whose response a fault changes.
type faultKey struct{}

func contextWithFault(r *http.Request, f Fault) context.Context {
	return context.WithValue(r.Context(), faultKey{}, f)
}

// quiet drops the proxy's own log lines (every injected fault would log
// one); the tests assert on what clients see.
var quiet = log.New(io.Discard, "", 0)

func (p *Proxy) serve(w http.ResponseWriter, r *http.Request) {
	p.requests.Add(1)
	p.mu.Lock()
	hook := p.hook
	p.mu.Unlock()
	if hook != nil {
		hook(r)
	}
	f := p.take(r)
	if f != Healthy {
		p.faulted.Add(1)
	}
	switch f {
	case Fail500:
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusInternalServerError)
		io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>InternalError</Code><Message>injected by s3test.Proxy</Message></Error>`)
		return
	case Drop:
		hangUp(w)
		return
	case Stall:
		select {
		case <-r.Context().Done():
		case <-p.closed:
		}
		hangUp(w)
		return
	case CutUpload:
		p.cutUpload(w, r)
		return
	case TruncateGet, CorruptGet:
		r = r.WithContext(contextWithFault(r, f))
	}
	p.rp.ServeHTTP(w, r)
}

// hangUp closes the client's connection without an answer.
func hangUp(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if c, _, err := hj.Hijack(); err == nil {
			c.Close()
			return
		}
	}
	panic(http.ErrAbortHandler)
}

// cutUpload sends the server half of the body, then aborts.
func (p *Proxy) cutUpload(w http.ResponseWriter, r *http.Request) {
	half := r.ContentLength / 2
	if r.ContentLength < 0 {
		half = 1 << 20
	}
	body := io.MultiReader(io.LimitReader(r.Body, half), errReader{errors.New("s3test: upload cut")})
	out := r.Clone(r.Context())
	out.Body = io.NopCloser(body)
	// The proxy's transport aborts the request when the body fails.
	p.rp.ServeHTTP(discardResponse{}, out)
	hangUp(w)
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// discardResponse swallows what the server answers a cut upload.
type discardResponse struct{}

func (discardResponse) Header() http.Header         { return http.Header{} }
func (discardResponse) Write(b []byte) (int, error) { return len(b), nil }
func (discardResponse) WriteHeader(int)             {}

// modify applies TruncateGet and CorruptGet to a successful object GET's
// body.
func (p *Proxy) modify(resp *http.Response) error {
	f, _ := resp.Request.Context().Value(faultKey{}).(Fault)
	if f == Healthy || resp.StatusCode/100 != 2 || resp.ContentLength <= 0 {
		return nil
	}
	switch f {
	case TruncateGet:
		keep := resp.ContentLength / 2
		resp.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(io.LimitReader(resp.Body, keep), errReader{errors.New("s3test: body truncated")}), resp.Body}
	case CorruptGet:
		resp.Body = &corrupter{rc: resp.Body, at: resp.ContentLength / 2}
	}
	return nil
}

// corrupter inverts the byte at offset at.
type corrupter struct {
	rc  io.ReadCloser
	at  int64
	off int64
}

func (c *corrupter) Read(b []byte) (int, error) {
	n, err := c.rc.Read(b)
	if c.at >= c.off && c.at < c.off+int64(n) {
		b[c.at-c.off] ^= 0xff
	}
	c.off += int64(n)
	return n, err
}

func (c *corrupter) Close() error { return c.rc.Close() }
