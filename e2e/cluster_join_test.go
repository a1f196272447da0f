package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/soltixdb/soltix/internal/natstest"
)

// TestClusterJoinUnderLoad adds a fourth storage node to a cluster of
// three while a client writes batches without pause (retrying a batch
// answered 503, which is safe) and another queries without pause. The
// groups rendezvous hashing gives the new node move to it. Every query
// over the batches acknowledged before it started answers the exact count,
// or a 503 naming the groups (during a switch), never another number; at
// the end every acknowledged point is there, once.
func TestClusterJoinUnderLoad(t *testing.T) {
	joinUnderLoad(t, startCluster(t, 3))
}

// TestClusterJoinReplicated is TestClusterJoinUnderLoad with replication
// (a nats-server, a replication factor of 2): the groups that move carry
// their replication position, and their new primaries lead them.
func TestClusterJoinReplicated(t *testing.T) {
	nats := natstest.Start(t)
	c := startClusterWith(t, clusterOptions{nodes: 3, nats: nats.URL(), replication: 2})
	joinUnderLoad(t, c)
	// Every replica follows its primary to the end of the stream, and
	// none had to copy its group: the moved groups' new primaries went on
	// from the position their copy held, and their replicas from theirs.
	byID := map[string]*clusterProc{}
	for i, p := range c.nodes {
		byID[fmt.Sprintf("s%d", i+1)] = p
	}
	waitReplicasCaughtUp(t, c, byID, len(c.groupCopies()))
	copies := 0.0
	for _, p := range c.nodes {
		copies += metricValue(t, p, "soltix_replication_copies_total")
	}
	if copies != 0 {
		t.Errorf("%v group copies for replicas during the join, want none", copies)
	}
}

func joinUnderLoad(t *testing.T, c *cluster) {
	const devices = 40
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	batch := func(k int) string {
		var b strings.Builder
		for d := range devices {
			fmt.Fprintf(&b, "m,device_id=d%d v=%d %d\n", d, k, base.Add(time.Duration(k)*time.Second).UnixNano())
		}
		return b.String()
	}
	var acked atomic.Int64 // batches 0..acked-1 are acknowledged
	var retries, unavailable, answered atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	wg.Go(func() { // the writer
		for k := 0; ctx.Err() == nil; k++ {
			for {
				code, body := postBody(c.url()+"/api/v1/write?precision=ns", "text/plain", batch(k))
				if code == http.StatusNoContent {
					acked.Store(int64(k + 1))
					break
				}
				if code != http.StatusServiceUnavailable || !strings.Contains(body, "group") {
					errs <- fmt.Errorf("write of batch %d: %d %s, want 204 or a 503 naming groups", k, code, body)
					return
				}
				retries.Add(1)
				time.Sleep(20 * time.Millisecond)
			}
		}
	})
	wg.Go(func() { // the reader
		for ctx.Err() == nil {
			k := acked.Load()
			if k == 0 {
				time.Sleep(5 * time.Millisecond)
				continue
			}
			last := base.Add(time.Duration(k-1) * time.Second).Format(time.RFC3339Nano)
			q := "SELECT count(v) FROM m WHERE time <= '" + last + "'"
			code, body, _ := getQuery(c.url(), q)
			switch {
			case code == http.StatusServiceUnavailable && strings.Contains(body, "group"):
				unavailable.Add(1)
			case code != http.StatusOK:
				errs <- fmt.Errorf("%s: %d %s", q, code, body)
				return
			case !strings.Contains(body, fmt.Sprintf(`,%d]]`, k*devices)):
				errs <- fmt.Errorf("%s after %d batches acknowledged: %s, want count %d", q, k, body, k*devices)
				return
			default:
				answered.Add(1)
			}
		}
	})
	// Some load before the join.
	for acked.Load() < 20 {
		time.Sleep(10 * time.Millisecond)
	}
	n := c.addNode()
	held := c.waitGroupsOn(strings.TrimPrefix(n.name, "storage "))
	// Some load after the moves.
	after := acked.Load() + 20
	for acked.Load() < after {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	k := acked.Load()
	t.Logf("%s took %d groups; %d batches of %d points acknowledged (%d retries after 503), %d queries answered, %d answered 503",
		n.name, held, k, devices, retries.Load(), answered.Load(), unavailable.Load())
	if code, body, _ := getQuery(c.url(), "SELECT count(v) FROM m"); code != http.StatusOK || !strings.Contains(body, fmt.Sprintf(`,%d]]`, k*devices)) {
		t.Errorf("after the join: SELECT count(v) FROM m: %d %s, want every acknowledged point once (%d)", code, body, k*devices)
	}
	if answered.Load() == 0 {
		t.Errorf("no query was answered during the test")
	}
}
