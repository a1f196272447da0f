package httpapi

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestH2StreamsCountAgainstTheRequestLimit: one h2c connection carries up
// to 250 streams, so http.max_connections alone let 4096 connections hold
// about a million stalled requests (5,000 stalled streams took the binary
// from 11 MB to 105 MB resident over 20 connections). Requests being
// handled are bounded as a whole: streams beyond the limit answer 503
// with Retry-After, and once the stalled ones go, requests are served
// again.
func TestH2StreamsCountAgainstTheRequestLimit(t *testing.T) {
	const (
		limit   = 40
		streams = 100
	)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	l := startLive(t, Options{BodyTimeout: time.Minute}, ServerConfig{MaxRequests: limit})
	tr := &http.Transport{Protocols: new(http.Protocols)}
	tr.Protocols.SetUnencryptedHTTP2(true)
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}

	var writers []*io.PipeWriter
	var wg sync.WaitGroup
	var mu sync.Mutex
	refused := 0
	var other []string
	for i := range streams {
		pr, pw := io.Pipe()
		writers = append(writers, pw)
		path := []string{"/api/v1/query", "/api/v1/write", "/query"}[i%3]
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, l.url+path, pr)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := client.Do(req)
			if err != nil {
				return // cut when the test ends
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			mu.Lock()
			defer mu.Unlock()
			if resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") != "" && strings.Contains(string(b), "http.max_connections") {
				refused++
			} else {
				other = append(other, fmt.Sprintf("%d %.100s", resp.StatusCode, b))
			}
		}()
		go func() { _, _ = pw.Write([]byte("q")) }()
	}
	waitFor(ctx, t, "every stream to be held or refused", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return l.bodies.Load()+int64(refused) >= streams
	})
	if n := l.bodies.Load(); n > limit {
		t.Errorf("%d stalled streams held by handlers, want at most %d", n, limit)
	}
	mu.Lock()
	if refused != streams-limit || len(other) > 0 {
		t.Errorf("%d streams refused with 503 naming http.max_connections, want %d; other answers %v", refused, streams-limit, other)
	}
	mu.Unlock()
	for _, pw := range writers {
		pw.CloseWithError(io.ErrUnexpectedEOF)
	}
	waitFor(ctx, t, "the stalled requests to end", func() bool {
		resp, err := http.Get(l.url + "/health")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	cancel()
	wg.Wait()
}
