package httpapi

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/soltixdb/soltix/model"
)

// blockingStore is a fakeStore whose Write blocks until released and
// counts the batches it holds at once: the decoded points of requests
// in flight.
type blockingStore struct {
	*fakeStore
	release chan struct{}
	mu      sync.Mutex
	held    int // batches inside Write now
	maxHeld int
}

func (b *blockingStore) Write(ctx context.Context, points []model.Point) error {
	b.mu.Lock()
	b.held++
	b.maxHeld = max(b.maxHeld, b.held)
	b.mu.Unlock()
	<-b.release
	b.mu.Lock()
	b.held--
	b.mu.Unlock()
	return b.fakeStore.Write(ctx, points)
}

func (b *blockingStore) counts() (held, maxHeld int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.held, b.maxHeld
}

// TestDecodedBodiesShareTheBudget is the attack of issue 11 item 11 one
// step further: bodies within the in-flight budget expand when decoded
// (a 60 MB line-protocol body held 380 MiB of points; four at once took
// the real binary to 2.5 GB with a 256 MiB budget). Decoding takes its
// estimated memory from the same budget, so with bodies whose points
// each need more than the budget, concurrent writes over both protocols
// decode one at a time, wait their turn rather than fail, and all land.
func TestDecodedBodiesShareTheBudget(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const budget = 4 << 20
	st := &blockingStore{fakeStore: &fakeStore{}, release: make(chan struct{})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := newServer(st, Options{Now: func() time.Time { return testNow }, Listen: ln.Addr().String(),
		MaxBodyBytes: 1 << 20, MaxInflightBodyBytes: budget})
	srv := NewServer(s.mux, ServerConfig{})
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	url := "http://" + ln.Addr().String()

	var lp, js strings.Builder
	for i := 0; lp.Len() < 900<<10; i++ {
		fmt.Fprintf(&lp, "c v=%d %d\n", i, i+1)
	}
	js.WriteString("[")
	for i := 0; js.Len() < 900<<10; i++ {
		if i > 0 {
			js.WriteString(",")
		}
		fmt.Fprintf(&js, `{"collection":"c","time":%d,"fields":{"v":%d}}`, i+1, i)
	}
	js.WriteString("]")
	reqs := []struct{ path, ctype, body string }{
		{"/api/v1/write", "text/plain", lp.String()},
		{"/write?db=x", "text/plain", lp.String()},
		{"/api/v1/write", "application/json", js.String()},
		{"/api/v1/write", "text/plain", lp.String()},
	}
	codes := make(chan string, len(reqs))
	for _, r := range reqs {
		go func() {
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url+r.path, strings.NewReader(r.body))
			req.Header.Set("Content-Type", r.ctype)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				codes <- err.Error()
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			codes <- fmt.Sprintf("%d %.200s", resp.StatusCode, b)
		}()
	}
	// Either every request has decoded its body at once (the defect), or
	// one holds its points and the others wait to decode.
	waitFor(ctx, t, "the writes to decode or queue", func() bool {
		held, _ := st.counts()
		return held == len(reqs) || held == 1 && s.decodesWaiting() == len(reqs)-1
	})
	if held, _ := st.counts(); held != 1 {
		t.Errorf("%d requests held decoded points at once, each estimated over the %d-byte budget; want 1", held, budget)
	}
	close(st.release)
	for range reqs {
		select {
		case c := <-codes:
			if !strings.HasPrefix(c, "204") {
				t.Errorf("write: got %s, want 204", c)
			}
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		}
	}
	if _, maxHeld := st.counts(); maxHeld != 1 {
		t.Errorf("at most %d requests held decoded points at once, want 1", maxHeld)
	}
	if n := st.writeCalls(); n != len(reqs) {
		t.Errorf("Write called %d times, want %d", n, len(reqs))
	}
}

// TestDecodeGate checks the gate's order and that a waiter that gives up
// neither keeps its place nor leaks bytes.
func TestDecodeGate(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	g := &decodeGate{max: 10}
	r1, err := g.acquire(ctx, 6)
	if err != nil {
		t.Fatal(err)
	}
	// 8 waits (6+8 > 10); 2 would fit but queues behind it.
	gone, giveUp := context.WithCancel(ctx)
	errs := make(chan error, 1)
	go func() { _, err := g.acquire(gone, 8); errs <- err }()
	waitFor(ctx, t, "the first waiter", func() bool { return g.waiting() == 1 })
	got2 := make(chan func(), 1)
	go func() {
		r, err := g.acquire(ctx, 2)
		if err != nil {
			t.Error(err)
		}
		got2 <- r
	}()
	waitFor(ctx, t, "the second waiter", func() bool { return g.waiting() == 2 })
	giveUp()
	if err := <-errs; err == nil {
		t.Fatal("a cancelled waiter was granted")
	}
	r2 := <-got2 // 6+2 fits once the 8 is gone
	// A request larger than the gate takes all of it, once alone.
	got3 := make(chan func(), 1)
	go func() {
		r, err := g.acquire(ctx, 1000)
		if err != nil {
			t.Error(err)
		}
		got3 <- r
	}()
	waitFor(ctx, t, "the large waiter", func() bool { return g.waiting() == 1 })
	r1()
	r2()
	r3 := <-got3
	g.mu.Lock()
	if g.used != 10 {
		t.Errorf("used %d with the large request in, want 10", g.used)
	}
	g.mu.Unlock()
	r3()
	if g.used != 0 || g.waiting() != 0 {
		t.Errorf("after every release used %d, waiting %d; want 0, 0", g.used, g.waiting())
	}
}

// TestGrafanaBodiesTakeTheDecodeGate: a Grafana request's JSON body is
// decoded into values that live until its handler returns (four 48 MB
// bodies of targets took the binary to 1.1 GB), so it takes its share of
// the decode gate like a write and waits while the gate is full.
func TestGrafanaBodiesTakeTheDecodeGate(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st := &blockingStore{fakeStore: &fakeStore{}, release: make(chan struct{})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := newServer(st, Options{Now: func() time.Time { return testNow }, Listen: ln.Addr().String(),
		MaxBodyBytes: 1 << 20, MaxInflightBodyBytes: 4 << 20})
	srv := NewServer(s.mux, ServerConfig{})
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	url := "http://" + ln.Addr().String()

	// A write estimated over the whole gate holds it while stored.
	var lp strings.Builder
	for i := 0; lp.Len() < 900<<10; i++ {
		fmt.Fprintf(&lp, "c v=%d %d\n", i, i+1)
	}
	writeDone := make(chan int, 1)
	go func() {
		resp, err := http.Post(url+"/api/v1/write", "text/plain", strings.NewReader(lp.String()))
		if err != nil {
			writeDone <- 0
			return
		}
		resp.Body.Close()
		writeDone <- resp.StatusCode
	}()
	waitFor(ctx, t, "the write to hold the gate", func() bool { held, _ := st.counts(); return held == 1 })

	body := `{"targets":[` + strings.Repeat(`{"target":"SELECT count(v) FROM c","refId":"A"},`, 100) + `{"target":"x","refId":"B"}]}`
	answered := make(chan string, 1)
	go func() {
		resp, err := http.Post(url+"/grafana/query", "application/json", strings.NewReader(body))
		if err != nil {
			answered <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		answered <- fmt.Sprintf("%d %.100s", resp.StatusCode, b)
	}()
	var early string
	waitFor(ctx, t, "the Grafana request to wait or be answered", func() bool {
		select {
		case early = <-answered:
			return true
		default:
			return s.decodesWaiting() == 1
		}
	})
	if early != "" {
		t.Errorf("Grafana request decoded while the gate was full: answered %s, want it to wait", early)
	}
	close(st.release)
	if code := <-writeDone; code != http.StatusNoContent {
		t.Errorf("write: %d, want 204", code)
	}
	if early == "" {
		select {
		case a := <-answered:
			if strings.HasPrefix(a, "503") || !strings.HasPrefix(a, "2") && !strings.HasPrefix(a, "4") {
				t.Errorf("Grafana request after its turn: %s", a)
			}
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		}
	}
	waitFor(ctx, t, "the gate to be given back", func() bool {
		s.decodes.mu.Lock()
		defer s.decodes.mu.Unlock()
		return s.decodes.used == 0
	})
}
