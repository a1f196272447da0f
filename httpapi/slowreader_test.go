package httpapi

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/storage"
	"github.com/soltixdb/soltix/storage/wal"
)

// TestQuerySlowReader checks that a client which asks for a large answer
// and then stops reading it does not hold its handler (and the query's
// memory) forever: every write must make progress within the query
// deadline, for the streamed formats, JSON and Grafana.
func TestQuerySlowReader(t *testing.T) {
	db, err := storage.Open(t.TempDir(), &storage.Options{NumGroups: 1, FlushInterval: -1, Sync: wal.SyncNever,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// 3000 rows of 8 KiB strings: about 24 MB of answer, more than the
	// socket buffers of a loopback connection hold.
	long := strings.Repeat("x", 8<<10)
	var pts []model.Point
	for i := range 3000 {
		pts = append(pts, model.Point{Collection: "c", Time: int64(i) * int64(time.Second),
			Fields: []model.Field{{Key: "s", Value: model.String(long)}}})
	}
	if err := db.Write(context.Background(), pts); err != nil {
		t.Fatal(err)
	}
	s := newServer(db, Options{QueryTimeout: 300 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	var wg sync.WaitGroup
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		wg.Add(1)
		defer wg.Done()
		s.mux.ServeHTTP(w, r)
	}))
	defer srv.Close()
	gfBody := gfQueryBody("1970-01-01T00:00:00Z", "1970-01-02T00:00:00Z", 1000, 1000, gfTargets(1, "SELECT s FROM c"), "", "")
	for _, tc := range []struct{ name, req string }{
		{"ndjson", "GET " + queryURL("SELECT s FROM c", "format", "ndjson") + " HTTP/1.1\r\nHost: " + srv.Listener.Addr().String() + "\r\n\r\n"},
		{"csv", "GET " + queryURL("SELECT s FROM c", "format", "csv") + " HTTP/1.1\r\nHost: " + srv.Listener.Addr().String() + "\r\n\r\n"},
		{"json", "GET " + queryURL("SELECT s FROM c") + " HTTP/1.1\r\nHost: " + srv.Listener.Addr().String() + "\r\n\r\n"},
		{"grafana", fmt.Sprintf("POST /grafana/query HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
			srv.Listener.Addr().String(), len(gfBody), gfBody)},
	} {
		conn, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		_ = conn.(*net.TCPConn).SetReadBuffer(4 << 10)
		if _, err := io.WriteString(conn, tc.req); err != nil {
			t.Fatal(err)
		}
		// Read the status line, then stop reading.
		line, err := bufio.NewReaderSize(conn, 64).ReadString('\n')
		if err != nil || !strings.Contains(line, " 200 ") {
			t.Fatalf("%s: status line %q, %v", tc.name, line, err)
		}
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Errorf("%s: the handler still writes to a client that stopped reading 30 s ago", tc.name)
		}
		conn.Close()
		<-done
	}
}
