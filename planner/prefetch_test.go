package planner

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/query"
)

// concurrentSource is a rollupSource whose ReadParts may be called from
// several goroutines (one at a time inside, in whatever order they come),
// so that the planner reads ahead (prefetch.go). Each call yields first, to
// shuffle the order of the reads; failAt, when set, makes the call of that
// number (from 1) fail.
type concurrentSource struct {
	*rollupSource
	mu     sync.Mutex
	calls  atomic.Int64
	failAt int64
	// ahead counts the calls made with a cancellable context: the
	// reading goroutines' (the tests give queries none of their own).
	ahead atomic.Int64
}

func (c *concurrentSource) ConcurrentReads() bool { return true }

var errRead = errors.New("read failed")

func (c *concurrentSource) ReadParts(ctx context.Context, coll string, tags model.Tags, field string, from, to int64, whole func(lo, hi int64) bool, level model.Level) ([]Part, error) {
	n := c.calls.Add(1)
	if ctx.Done() != nil {
		c.ahead.Add(1)
	}
	runtime.Gosched()
	if c.failAt > 0 && n == c.failAt {
		return nil, errRead
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.rollupSource.ReadParts(ctx, coll, tags, field, from, to, whole, level)
}

// withPrefetchWorkers sets prefetchWorkers for the test.
func withPrefetchWorkers(t *testing.T, n int) {
	t.Helper()
	old := prefetchWorkers
	prefetchWorkers = func() int { return n }
	t.Cleanup(func() { prefetchWorkers = old })
}

// TestPrefetchSameAnswers checks that reading ahead on several goroutines
// gives exactly (bit for bit, stats included) the answers of reading
// series by series, for random aggregates, groupings and ranges over
// rollups, dirty buckets and block statistics.
func TestPrefetchSameAnswers(t *testing.T) {
	withPrefetchWorkers(t, 4)
	items := []string{
		"count(f), sum(f), avg(f), min(f), max(f), first(f), last(f), spread(f)",
		"sum(i), avg(i), max(u), min(f), avg(f), first(i), last(u)",
		"avg(f), stddev(f), percentile(i, 90), sum(u)",
		"mean(f), max(i)",
	}
	intervals := []string{"", "1m", "1h", "1d", "1M", "6h"}
	lo, hi := ns("2024-01-01"), ns("2026-07-01")
	rng := rand.New(rand.NewPCG(5, 6))
	for seed := range uint64(2) {
		data, _ := rollupData(seed)
		serial := newRollupSource(data, 1+rng.IntN(8), math.MinInt64)
		for range 3 * seed {
			col := data.colls["r"].series[rng.IntN(3)].cols["f"]
			serial.dirty(col.Times[rng.IntN(col.Len())])
		}
		ahead := &concurrentSource{rollupSource: serial}
		for range 60 {
			iv := intervals[rng.IntN(len(intervals))]
			from := lo + rng.Int64N(hi-lo)
			length := rng.Int64N(200 * day)
			if iv == "1m" {
				length = rng.Int64N(2 * day)
			}
			q := fmt.Sprintf("SELECT %s FROM r WHERE time >= %d AND time < %d", items[rng.IntN(len(items))], from, from+length)
			var group []string
			if iv != "" {
				group = append(group, iv)
			}
			if rng.IntN(2) == 0 {
				group = append(group, "host")
			}
			if len(group) > 0 {
				q += " GROUP BY " + strings.Join(group, ", ")
			}
			if iv != "" {
				q += " FILL(none)"
			}
			want, err := executeWith(serial, q, Options{})
			if err != nil {
				t.Fatalf("%s (serial): %v", q, err)
			}
			before := ahead.calls.Load()
			got, err := executeWith(ahead, q, Options{})
			if err != nil {
				t.Fatalf("%s (ahead): %v", q, err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("seed %d: %s:\ngot  %v %+v\nwant %v %+v", seed, q, got.Rows, got.Stats, want.Rows, want.Stats)
			}
			if ahead.calls.Load() == before {
				t.Errorf("%s: no ReadParts through the concurrent source", q)
			}
		}
		if ahead.ahead.Load() == 0 {
			t.Errorf("seed %d: no read was made ahead", seed)
		}
	}
}

// TestPrefetchErrors checks that a failed read, a cancelled query and the
// points budget end a query that reads ahead with the error reading
// series by series gives, and that no reading goroutine is left behind.
func TestPrefetchErrors(t *testing.T) {
	withPrefetchWorkers(t, 3)
	data, _ := rollupData(1)
	src := newRollupSource(data, 3, math.MinInt64)
	const q = "SELECT max(f), sum(i), avg(u) FROM r WHERE time >= '2025-01-01T00:17:00Z' AND time < '2025-03-01T05:00:00Z' GROUP BY 1h, host"
	base := runtime.NumGoroutine()
	for failAt := int64(1); failAt <= 9; failAt++ {
		_, err := executeWith(&concurrentSource{rollupSource: src, failAt: failAt}, q, Options{})
		if !errors.Is(err, errRead) {
			t.Errorf("read %d failing: got %v, want %v", failAt, err, errRead)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	stmt, err := query.Parse(q)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ExecuteWith(ctx, &concurrentSource{rollupSource: src}, stmt, Options{Now: testNow}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: got %v, want %v", err, context.Canceled)
	}
	_, want := executeWith(src, q, Options{MaxPoints: 50})
	_, got := executeWith(&concurrentSource{rollupSource: src}, q, Options{MaxPoints: 50})
	if want == nil || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("points budget: got %v, want %v", got, want)
	}
	// Execute waits for its reading goroutines before it returns.
	if n := runtime.NumGoroutine(); n > base {
		t.Errorf("%d goroutines after the queries, %d before", n, base)
	}
}
