package e2e

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestKillNineLosesNoAcknowledgedWrite drives the real binary: writers
// send batches while the server is killed with SIGKILL at an arbitrary
// moment (some cycles right after a flush was requested), then the server
// restarts and every batch that got a 204 must be there with its value.
// The last cycle also tears the WAL's tail by hand before restarting.
func TestKillNineLosesNoAcknowledgedWrite(t *testing.T) {
	dir := t.TempDir()
	const writers = 3
	acked := make(map[string]map[int64]int64) // device -> time -> value
	var mu sync.Mutex
	next := make([]int64, writers) // next timestamp per writer

	cycles := 4
	for cycle := range cycles {
		s := startBinary(t, dir)
		// Everything acknowledged so far survived the previous crash.
		verifyAckedPoints(t, s, acked, fmt.Sprintf("cycle %d start", cycle))

		stopc := make(chan struct{})
		var wg sync.WaitGroup
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				dev := fmt.Sprintf("w%d", w)
				for {
					select {
					case <-stopc:
						return
					default:
					}
					var b strings.Builder
					start := next[w]
					const batch = 50
					for i := range int64(batch) {
						ts := start + i
						fmt.Fprintf(&b, "crash,device_id=%s v=%di,c=%di %d\n", dev, ts*7+int64(cycle), cycle, ts)
					}
					next[w] = start + batch
					code, err := s.write(b.String())
					if err != nil || code != http.StatusNoContent {
						return // the server is gone
					}
					mu.Lock()
					if acked[dev] == nil {
						acked[dev] = make(map[int64]int64)
					}
					for i := range int64(batch) {
						acked[dev][start+i] = (start+i)*7 + int64(cycle)
					}
					mu.Unlock()
				}
			}()
		}
		time.Sleep(time.Duration(150+cycle*120) * time.Millisecond)
		if cycle%2 == 1 {
			// Kill while a flush is running (or just finished).
			go http.Post(s.url+"/api/v1/admin/flush", "", nil)
			time.Sleep(time.Duration(5*cycle) * time.Millisecond)
		}
		s.kill(t)
		close(stopc)
		wg.Wait()
		if len(acked) == 0 {
			t.Fatalf("cycle %d: no write was acknowledged; logs:\n%s", cycle, s.logs)
		}
	}

	// Tear the tail of the newest WAL segment: a record header promising
	// more bytes than follow, as a crash in the middle of a write leaves.
	segs, _ := filepath.Glob(filepath.Join(dir, "wal", "*.wal"))
	if len(segs) == 0 {
		t.Fatal("no WAL segment found")
	}
	sort.Strings(segs)
	last := segs[len(segs)-1]
	f, err := os.OpenFile(last, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte{0xff, 0x00, 0x00, 0x00, 0xde, 0xad, 0xbe, 0xef, 1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	f.Close()

	s := startBinary(t, dir)
	verifyAckedPoints(t, s, acked, "after torn tail")
	if !strings.Contains(strings.ToLower(s.logs.String()), "torn") && !strings.Contains(strings.ToLower(s.logs.String()), "truncat") {
		t.Errorf("start-up after a torn WAL tail logged nothing about it; logs:\n%s", s.logs)
	}
	// The server still takes writes after the repair, and stops cleanly.
	if code, err := s.write("crash,device_id=after v=1i,c=9i 1\n"); err != nil || code != http.StatusNoContent {
		t.Fatalf("write after repair: %d %v", code, err)
	}
	s.stop(t)
	s = startBinary(t, dir)
	verifyAckedPoints(t, s, acked, "after clean restart")
	s.stop(t)
}

// verifyAckedPoints checks that every acknowledged point is present with its
// value.
func verifyAckedPoints(t *testing.T, s *binServer, acked map[string]map[int64]int64, stage string) {
	t.Helper()
	total := 0
	for dev, want := range acked {
		res := s.query(t, fmt.Sprintf("SELECT v FROM crash WHERE device_id = '%s'", dev))
		got := make(map[int64]int64, len(res.Rows))
		for _, row := range res.Rows {
			ts, err1 := strconv.ParseInt(fmt.Sprint(row[0]), 10, 64)
			v, err2 := strconv.ParseInt(fmt.Sprint(row[1]), 10, 64)
			if err1 != nil || err2 != nil {
				t.Fatalf("%s: bad row %v", stage, row)
			}
			got[ts] = v
		}
		for ts, v := range want {
			if gv, ok := got[ts]; !ok || gv != v {
				t.Fatalf("%s: device %s time %d: got %d (present %v), want %d; %d of %d acknowledged points present",
					stage, dev, ts, gv, ok, v, countAckedPresent(got, want), len(want))
			}
		}
		total += len(want)
	}
	t.Logf("%s: all %d acknowledged points present", stage, total)
}

func countAckedPresent(got map[int64]int64, want map[int64]int64) int {
	n := 0
	for ts := range want {
		if _, ok := got[ts]; ok {
			n++
		}
	}
	return n
}
