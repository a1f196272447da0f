package httpapi

import (
	"bytes"
	"context"
	"net/http"
	"sync"
	"unsafe"

	"github.com/soltixdb/soltix/model"
)

// A body within the in-flight budget still expands when decoded: the
// points of a line-protocol body take six to ten times its bytes (a 60 MB
// body of one-field points held 380 MiB), so a few bodies at the body
// limit, each within the budget, could take the machine's memory. Before
// decoding, a write takes an estimate of its decoded size (decodeEstimate)
// from a decodeGate as large as the body budget and keeps it until its
// points are stored. A write whose turn has not come waits for it, in
// arrival order, rather than failing (its body is already in and counted);
// one estimated over the whole gate takes the whole gate, so it decodes
// alone. Small writes, the common case, never wait for each other. The
// JSON bodies of the Grafana endpoints take their share the same way
// (holdDecode), until their handler returns.

// decodeGate is a weighted semaphore of bytes with first-come,
// first-served waiting. It is safe for concurrent use.
type decodeGate struct {
	max     int64 // <= 0: no limit
	mu      sync.Mutex
	used    int64
	waiters []*gateWaiter
}

type gateWaiter struct {
	n     int64
	ready chan struct{} // closed when granted
}

// acquire takes n bytes (at most max), waiting for them in order, and
// returns the function that gives them back. It fails only when ctx ends
// first.
func (g *decodeGate) acquire(ctx context.Context, n int64) (func(), error) {
	if g.max <= 0 {
		return func() {}, nil
	}
	n = min(max(n, 1), g.max)
	release := func() { g.release(n) }
	g.mu.Lock()
	if len(g.waiters) == 0 && g.used+n <= g.max {
		g.used += n
		g.mu.Unlock()
		return release, nil
	}
	w := &gateWaiter{n: n, ready: make(chan struct{})}
	g.waiters = append(g.waiters, w)
	g.mu.Unlock()
	select {
	case <-w.ready:
		return release, nil
	case <-ctx.Done():
		g.mu.Lock()
		select {
		case <-w.ready:
			// Granted meanwhile: give it back.
			g.mu.Unlock()
			g.release(n)
		default:
			for i, x := range g.waiters {
				if x == w {
					g.waiters = append(g.waiters[:i], g.waiters[i+1:]...)
					break
				}
			}
			// The head may fit now that w no longer blocks it.
			g.grantLocked()
			g.mu.Unlock()
		}
		return nil, ctx.Err()
	}
}

func (g *decodeGate) release(n int64) {
	g.mu.Lock()
	g.used -= n
	g.grantLocked()
	g.mu.Unlock()
}

// grantLocked grants waiters in order while they fit.
func (g *decodeGate) grantLocked() {
	for len(g.waiters) > 0 && g.used+g.waiters[0].n <= g.max {
		w := g.waiters[0]
		g.waiters = g.waiters[1:]
		g.used += w.n
		close(w.ready)
	}
}

// waiting returns the number of requests waiting for their turn.
func (g *decodeGate) waiting() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.waiters)
}

// holdDecode takes n bytes of the decode gate for r until its handler
// returns (the request's body hold gives them back). A request without a
// guarded body decodes without the gate.
func (s *server) holdDecode(r *http.Request, n int64) error {
	h := bodyHoldOf(r)
	if h == nil {
		return nil
	}
	release, err := s.decodes.acquire(r.Context(), n)
	if err != nil {
		return err
	}
	h.mu.Lock()
	h.after = append(h.after, release)
	h.mu.Unlock()
	return nil
}

// decodesWaiting returns how many requests wait for their turn to decode
// a body.
func (s *server) decodesWaiting() int { return s.decodes.waiting() }

// Sizes of what decoding makes per point, field and tag.
const (
	pointBytes = int64(unsafe.Sizeof(model.Point{}))
	fieldBytes = int64(unsafe.Sizeof(model.Field{}))
	tagBytes   = int64(unsafe.Sizeof(model.Tag{}))
	// jsonValueBytes bounds what the JSON parser and the points take per
	// member or element of a JSON body.
	jsonValueBytes = 128
)

// decodeEstimate returns an upper estimate of the memory the decoded form
// of body takes: for line protocol, a point per line (twice, as the slice
// grows), a field per '=', a tag per ',' and a copy of the text; for JSON,
// jsonValueBytes per ':' or ',' and a copy of the text.
func decodeEstimate(body []byte, json bool) int64 {
	n := int64(len(body))
	if json {
		return n + (int64(bytes.Count(body, []byte{':'}))+int64(bytes.Count(body, []byte{','}))+1)*jsonValueBytes
	}
	lines := int64(bytes.Count(body, []byte{'\n'})) + 1
	return n + lines*(2*pointBytes+8) +
		int64(bytes.Count(body, []byte{'='}))*fieldBytes +
		int64(bytes.Count(body, []byte{','}))*tagBytes
}
