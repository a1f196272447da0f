package coord

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/soltixdb/soltix/internal/etcdtest"
)

// logBuf collects a test's logs and prints them only when it fails.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func testLogger(t testing.TB) *slog.Logger {
	lb := &logBuf{}
	t.Cleanup(func() {
		if t.Failed() {
			lb.mu.Lock()
			t.Logf("logs:\n%s", lb.b.String())
			lb.mu.Unlock()
		}
	})
	return slog.New(slog.NewTextHandler(lb, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// testCtx is a test's overall bound: waits end with a failure, not a hang.
func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// open opens a Coord on srv with short leases, closed at cleanup.
func open(t testing.TB, srv *etcdtest.Server, cfg Config) *Coord {
	t.Helper()
	cfg.Endpoints = srv.Endpoints()
	if cfg.LeaseTTL == 0 {
		cfg.LeaseTTL = 2 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = testLogger(t)
	}
	c, err := Open(testCtx(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// register registers a node, closed at cleanup.
func register(t testing.TB, c *Coord, id string) *Registration {
	t.Helper()
	r, err := c.Register(testCtx(t), NodeInfo{ID: id, Addr: "http://" + id + ".test:7000"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// waitMap waits (bounded by ctx) until cond holds for v's map.
func waitMap(t testing.TB, ctx context.Context, v *View, what string, cond func(Map) bool) Map {
	t.Helper()
	for {
		ch := v.Changed()
		m := v.Map()
		if cond(m) {
			return m
		}
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v; map: %s", what, ctx.Err(), fmtMap(m))
		case <-ch:
		}
	}
}

func fmtMap(m Map) string {
	var b bytes.Buffer
	fmt.Fprintf(&b, "rev %d nodes %v groups:", m.Revision, m.Nodes)
	for _, g := range m.Groups {
		fmt.Fprintf(&b, " %d:%s@%d%v", g.ID, g.Primary, g.Epoch, g.Replicas)
	}
	return b.String()
}

func nodeUp(m Map, id string) bool {
	n, ok := m.Node(id)
	return ok && n.Up
}

func allAssigned(m Map) bool {
	for _, g := range m.Groups {
		if g.Primary == "" {
			return false
		}
	}
	return true
}
