package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/soltixdb/soltix/storage"
	"github.com/soltixdb/soltix/storage/vfs"
	"github.com/soltixdb/soltix/storage/vfs/errorfs"
)

// TestDiskFull is Done-when 5 of issue 15, through the storage's fault
// seam: once every file write fails with ENOSPC, writes answer 507 with a
// JSON error saying the disk is full, flushes, compactions and rollup
// passes fail without harm, queries keep answering; once space is freed
// the same process takes writes again, and every acknowledged point is
// there, also after a restart. The table varies how the disk fills: with
// memory only, with files, and part way through a WAL batch.
func TestDiskFull(t *testing.T) {
	for _, tc := range []struct {
		name  string
		flush bool // flush before the disk fills, so files exist
		rule  errorfs.Rule
	}{
		{"memory only, writes store nothing", false, errorfs.Rule{Op: errorfs.OpWrite, Err: syscall.ENOSPC}},
		{"files, short writes", true, errorfs.Rule{Op: errorfs.OpWrite, Err: syscall.ENOSPC, Short: true}},
		{"fills mid-batch", true, errorfs.Rule{Op: errorfs.OpWrite, Err: syscall.ENOSPC, Short: true, AfterBytes: 3000}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := errorfs.New(vfs.Default)
			srv := startLiveServer(t, t.TempDir(), storage.Options{NumGroups: 4, FS: fs, WriteStallTimeout: -1}, time.Now())
			acked := map[int]bool{}
			next := 0
			// write sends one batch of 20 points and returns the status.
			write := func() (int, string) {
				var sb strings.Builder
				for i := next; i < next+20; i++ {
					fmt.Fprintf(&sb, "full,device_id=d%d v=%di %d\n", i%7, i, int64(1_700_000_000+i)*int64(time.Second))
				}
				code, body := srv.post("/api/v1/write?precision=ns", "text/plain", []byte(sb.String()))
				if code == http.StatusNoContent {
					for i := next; i < next+20; i++ {
						acked[i] = true
					}
				}
				next += 20
				return code, string(body)
			}
			for range 10 {
				if code, body := write(); code != http.StatusNoContent {
					t.Fatalf("write before the disk fills: %d %s", code, body)
				}
			}
			if tc.flush {
				srv.flush()
			}
			fs.Inject(tc.rule)
			refused := 0
			for range 10 {
				code, body := write()
				switch code {
				case http.StatusNoContent:
				case http.StatusInsufficientStorage:
					refused++
					var e struct{ Error string }
					if err := json.Unmarshal([]byte(body), &e); err != nil || !strings.Contains(e.Error, "disk full") {
						t.Errorf("507 body %s: want a JSON error saying the disk is full", body)
					}
				default:
					t.Fatalf("write on a full disk: %d %s, want 507", code, body)
				}
			}
			if refused == 0 {
				t.Fatal("no write was refused on a full disk")
			}
			// Flush, compaction (with rollups) fail without harm.
			for _, path := range []string{"/api/v1/admin/flush", "/api/v1/admin/compact"} {
				if code, body := srv.post(path, "", nil); code == http.StatusNoContent {
					t.Logf("%s succeeded on a full disk (nothing to write)", path)
				} else if code/100 != 5 {
					t.Errorf("%s on a full disk: %d %s", path, code, body)
				}
			}
			checkFull(t, srv, acked, "on a full disk")
			code, body := srv.get("/metrics")
			if code != http.StatusOK || !strings.Contains(body, "soltix_storage_disk_full_total") || strings.Contains(body, "soltix_storage_disk_full_total 0\n") {
				t.Errorf("/metrics does not count the full disk: %d", code)
			}
			if code, body := srv.get("/health"); code != http.StatusOK {
				t.Errorf("/health on a full disk: %d %s, want 200 (the node is alive)", code, body)
			}

			fs.Clear() // space freed: no restart
			for range 5 {
				if code, body := write(); code != http.StatusNoContent {
					t.Fatalf("write after space was freed: %d %s", code, body)
				}
			}
			srv.flush()
			srv.compact()
			checkFull(t, srv, acked, "after space was freed")
			srv.restart()
			checkFull(t, srv, acked, "after a restart")
		})
	}
}

// checkFull checks that collection full holds exactly the acknowledged
// points, or acknowledged points and points of refused writes whose
// batch was cut (none may appear: a refused batch is not stored).
func checkFull(t *testing.T, srv *liveServer, acked map[int]bool, when string) {
	t.Helper()
	ans, err := srv.query("SELECT v FROM full")
	if err != nil {
		t.Fatalf("query %s: %v", when, err)
	}
	got := map[int]bool{}
	for _, r := range ans.Rows {
		var v int
		fmt.Sscan(fmt.Sprint(r[1]), &v)
		got[v] = true
	}
	for i := range acked {
		if !got[i] {
			t.Fatalf("%s: acknowledged point %d missing (%d of %d present)", when, i, len(got), len(acked))
		}
	}
	for i := range got {
		if !acked[i] {
			t.Errorf("%s: point %d of a refused write is stored", when, i)
		}
	}
}

// get sends a GET and returns the status and body.
func (s endpoint) get(path string) (int, string) {
	s.t.Helper()
	resp, err := http.Get(s.base() + path)
	if err != nil {
		s.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	var sb strings.Builder
	if _, err := io.Copy(&sb, resp.Body); err != nil {
		s.t.Fatalf("GET %s: read body: %v", path, err)
	}
	return resp.StatusCode, sb.String()
}
