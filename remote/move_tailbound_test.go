package remote

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/soltixdb/soltix/storage"
)

// TestTailAnswerIsBounded: a source answering a tail request with more
// bytes than a whole tail may hold fails the pull with a clear error
// instead of being read into memory without bound.
func TestTailAnswerIsBounded(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(headerTailNext, "0")
		w.Header().Set(headerTailEnd, "0")
		chunk := make([]byte, 64<<10)
		for range 64 { // 4 MiB
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(ln.Addr().String(), h)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	db, err := storage.Open(t.TempDir(), &storage.Options{NumGroups: 4, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	m := NewMoves(StorageGroups(db), nil, MoveOptions{TailMaxBytes: 1 << 10, Logger: quiet})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pl := &pull{source: "A", addr: "http://" + ln.Addr().String(), ctx: ctx}
	err = m.applyTail(ctx, 1, pl, 2, false)
	if err == nil || !strings.Contains(err.Error(), "answer longer than") {
		t.Fatalf("applyTail over a 4 MiB answer with a 1 KiB tail bound: %v", err)
	}
}
