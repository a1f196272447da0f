package e2e

import (
	"fmt"
	"math/rand/v2"
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

// crashCycles is how many times TestKillNineLosesNoAcknowledgedWrite kills
// the server; SOLTIX_CRASH_CYCLES overrides it for longer runs.
func crashCycles(t *testing.T) int {
	if s := os.Getenv("SOLTIX_CRASH_CYCLES"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("SOLTIX_CRASH_CYCLES=%q: want a positive integer", s)
		}
		return n
	}
	if testing.Short() {
		return 4
	}
	return 20
}

// pointState is what the client knows about one (device, time): the value
// of the last acknowledged write, and the values of writes whose answer
// never came (the server died), any of which may have landed after it.
type pointState struct {
	acked   int64
	hasAck  bool
	pending []int64
}

// TestKillNineLosesNoAcknowledgedWrite drives the real binary: writers
// send batches of new points and overwrites of old ones while the server
// flushes and compacts in the background (every 200 ms, compacting at two
// files) and on request, and the server is killed with SIGKILL at a random
// moment, again and again. After every restart each acknowledged point
// must be present exactly once, with the last acknowledged value or the
// value of a later write whose answer was lost. The last cycle also tears
// the WAL's tail by hand.
func TestKillNineLosesNoAcknowledgedWrite(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "soltix.yaml")
	if err := os.WriteFile(cfg, []byte("storage:\n  flush_interval: 200ms\n  compact_files: 2\n  partition: 1h\nlog:\n  level: warn\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	const writers = 3
	state := make([]map[int64]*pointState, writers) // per writer (device)
	for w := range state {
		state[w] = make(map[int64]*pointState)
	}
	next := make([]int64, writers) // next new timestamp per writer
	r := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	seed := r.Uint64()
	t.Logf("seed %d", seed)
	cycles := crashCycles(t)
	for cycle := range cycles {
		s := startBinary(t, data, "--config", cfg)
		verifyPoints(t, s, state, fmt.Sprintf("cycle %d start", cycle))

		stopc := make(chan struct{})
		var wg sync.WaitGroup
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				wr := rand.New(rand.NewPCG(seed, uint64(cycle*writers+w)))
				dev := fmt.Sprintf("w%d", w)
				for n := 0; ; n++ {
					select {
					case <-stopc:
						return
					default:
					}
					var b strings.Builder
					batch := map[int64]int64{}
					// New points, spread over several hours so that
					// several partitions and files are involved.
					for range 40 {
						ts := next[w] * int64(7*time.Second)
						next[w]++
						batch[ts] = int64(cycle)*1_000_000 + int64(n)*100 + int64(len(batch))
					}
					// Overwrites of earlier points.
					if len(state[w]) > 0 {
						for range 5 {
							ts := wr.Int64N(next[w]) * int64(7*time.Second)
							batch[ts] = -(int64(cycle)*1_000_000 + int64(n)*100 + int64(len(batch)))
						}
					}
					for ts, v := range batch {
						fmt.Fprintf(&b, "crash,device_id=%s v=%di %d\n", dev, v, ts)
						st := state[w][ts]
						if st == nil {
							st = &pointState{}
							state[w][ts] = st
						}
						st.pending = append(st.pending, v)
					}
					code, err := s.write(b.String())
					if err != nil || code != http.StatusNoContent {
						return // the server is gone: the batch stays pending
					}
					for ts, v := range batch {
						st := state[w][ts]
						st.acked, st.hasAck, st.pending = v, true, nil
					}
				}
			}()
		}
		time.Sleep(time.Duration(100+r.IntN(400)) * time.Millisecond)
		switch r.IntN(3) {
		case 0:
			go http.Post(s.url+"/api/v1/admin/flush", "", nil)
			time.Sleep(time.Duration(r.IntN(20)) * time.Millisecond)
		case 1:
			go http.Post(s.url+"/api/v1/admin/compact", "", nil)
			time.Sleep(time.Duration(r.IntN(20)) * time.Millisecond)
		}
		s.kill(t)
		close(stopc)
		wg.Wait()
	}

	// Tear the tail of the newest WAL segment: a record header promising
	// more bytes than follow, as a crash in the middle of a write leaves.
	segs, _ := filepath.Glob(filepath.Join(data, "wal", "*.wal"))
	if len(segs) == 0 {
		t.Fatal("no WAL segment found")
	}
	sort.Strings(segs)
	f, err := os.OpenFile(segs[len(segs)-1], os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte{0xff, 0x00, 0x00, 0x00, 0xde, 0xad, 0xbe, 0xef, 1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	f.Close()

	s := startBinary(t, data, "--config", cfg)
	verifyPoints(t, s, state, "after torn tail")
	if logs := strings.ToLower(s.logs.String()); !strings.Contains(logs, "torn") {
		t.Errorf("start-up after a torn WAL tail logged nothing about it; logs:\n%s", s.logs)
	}
	if code, err := s.write("crash,device_id=after v=1i 1\n"); err != nil || code != http.StatusNoContent {
		t.Fatalf("write after repair: %d %v", code, err)
	}
	s.stop(t)
	s = startBinary(t, data, "--config", cfg)
	verifyPoints(t, s, state, "after clean restart")
	s.stop(t)
}

// verifyPoints checks every point the writers know of: present exactly
// once (no repeated time) with an acceptable value.
func verifyPoints(t *testing.T, s *binServer, state []map[int64]*pointState, stage string) {
	t.Helper()
	acked := 0
	for w, points := range state {
		if len(points) == 0 {
			continue // nothing written yet: the collection may not exist
		}
		dev := fmt.Sprintf("w%d", w)
		res := s.query(t, fmt.Sprintf("SELECT v FROM crash WHERE device_id = '%s'", dev))
		got := make(map[int64]int64, len(res.Rows))
		for _, row := range res.Rows {
			ts, err1 := strconv.ParseInt(fmt.Sprint(row[0]), 10, 64)
			v, err2 := strconv.ParseInt(fmt.Sprint(row[1]), 10, 64)
			if err1 != nil || err2 != nil {
				t.Fatalf("%s: bad row %v", stage, row)
			}
			if _, dup := got[ts]; dup {
				t.Fatalf("%s: device %s has time %d twice", stage, dev, ts)
			}
			got[ts] = v
		}
		for ts, st := range points {
			v, ok := got[ts]
			if !st.hasAck {
				if ok && !hasValue(st.pending, v) {
					t.Fatalf("%s: device %s time %d = %d, which was never written (pending %v)", stage, dev, ts, v, st.pending)
				}
				continue
			}
			acked++
			if !ok {
				t.Fatalf("%s: device %s time %d: acknowledged value %d is missing", stage, dev, ts, st.acked)
			}
			if v != st.acked && !hasValue(st.pending, v) {
				t.Fatalf("%s: device %s time %d = %d, want the acknowledged %d (or one of the unanswered %v)", stage, dev, ts, v, st.acked, st.pending)
			}
		}
		for ts := range got {
			if points[ts] == nil {
				t.Fatalf("%s: device %s has a point at %d that was never written", stage, dev, ts)
			}
		}
		// Rollups, whatever state the kill left them in, answer what the
		// raw data does.
		q := fmt.Sprintf("SELECT count(v), sum(v), min(v), max(v), first(v), last(v) FROM crash WHERE device_id = '%s' GROUP BY 1h", dev)
		roll, raw := s.query(t, q), s.queryParams(t, q, "&levels=raw")
		if a, b := fmt.Sprint(roll.Rows), fmt.Sprint(raw.Rows); a != b {
			t.Fatalf("%s: device %s: hourly aggregates with rollups differ from raw data:\n rollups %s\n raw     %s", stage, dev, a, b)
		}
		total := 0
		for _, row := range raw.Rows {
			n, _ := strconv.Atoi(fmt.Sprint(row[1]))
			total += n
		}
		if total != len(got) {
			t.Fatalf("%s: device %s: hourly counts add up to %d, want %d", stage, dev, total, len(got))
		}
	}
	t.Logf("%s: all %d acknowledged points present once with their values", stage, acked)
}

func hasValue(vs []int64, v int64) bool {
	for _, x := range vs {
		if x == v {
			return true
		}
	}
	return false
}
