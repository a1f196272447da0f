package e2e

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/soltixdb/soltix/internal/natstest"
	"github.com/soltixdb/soltix/storage"
)

// TestReplicaDifferential is TestDifferential against a replicated cluster
// (three storage nodes, a replication factor of 2, a real nats-server)
// read through a router: once every replica has applied what its primary
// published, each query's answer from the primaries must match the
// oracle, and the same query with consistency=any, asked twice so that
// every group is read once from each of its copies, must answer exactly
// the same — with everything in memory, after flushes, compactions and
// restarts of every process.
func TestReplicaDifferential(t *testing.T) {
	differentialSeeds(t, replicaTargetOf)
}

// replicaTarget is a replicated cluster whose queries are checked on
// every copy of their groups.
type replicaTarget struct {
	clusterTarget
	t      *testing.T
	byID   map[string]*clusterProc
	groups int
	// dirty is set by writes, flushes, compactions and restarts: the
	// replicas are waited for before the next query.
	dirty bool
	// replicaReads counts the replica sessions the nodes served since they
	// last started, summed when they restart and at the end.
	replicaReads float64
}

func replicaTargetOf(t *testing.T, opts storage.Options, now time.Time) target {
	t.Helper()
	nats := natstest.Start(t)
	c := startClusterWith(t, clusterOptions{nodes: 3, groups: opts.NumGroups, partition: opts.PartitionDuration,
		blockSize: opts.BlockSize, now: now, nats: nats.URL(), replication: 2})
	rt := &replicaTarget{clusterTarget: clusterTarget{c: c}, t: t, groups: len(c.groupCopies()), byID: map[string]*clusterProc{}}
	rt.endpoint = endpoint{t: t, base: c.url}
	for i, p := range c.nodes {
		rt.byID[fmt.Sprintf("s%d", i+1)] = p
	}
	t.Cleanup(func() {
		if !t.Failed() && rt.countReplicaReads() == 0 {
			t.Error("no query was answered by a replica")
		}
	})
	return rt
}

func (rt *replicaTarget) countReplicaReads() float64 {
	for _, p := range rt.c.nodes {
		rt.replicaReads += metricValue(rt.t, p, "soltix_node_replica_reads_total")
	}
	return rt.replicaReads
}

func (rt *replicaTarget) write(b batch) {
	rt.clusterTarget.write(b)
	rt.dirty = true
}

func (rt *replicaTarget) flush() {
	rt.clusterTarget.flush()
	rt.dirty = true
}

func (rt *replicaTarget) compact() {
	rt.clusterTarget.compact()
	rt.dirty = true
}

func (rt *replicaTarget) restart() {
	rt.countReplicaReads()
	rt.clusterTarget.restart()
	rt.dirty = true
}

// query returns the primaries' answer, once every replica has applied what
// its primary published.
func (rt *replicaTarget) query(q string) (*queryAnswer, error) {
	if rt.dirty {
		waitReplicasCaughtUp(rt.t, rt.c, rt.byID, rt.groups)
		rt.dirty = false
	}
	return rt.clusterTarget.query(q)
}

// others implements otherReads: q with consistency=any, twice, so that
// every group is read once from each of its two copies (the router turns
// from one copy to the next with each query). Its answers are checked
// against the oracle as the primaries' are (not against the primaries'
// answer: floats summed in another order may differ in the last bits).
func (rt *replicaTarget) others(q string) ([]string, []*queryAnswer, error) {
	var names []string
	var answers []*queryAnswer
	for i := range 2 {
		a, err := rt.queryWith(q, url.Values{"consistency": {"any"}})
		if err != nil {
			return nil, nil, fmt.Errorf("consistency=any (read %d): %v\n%s", i, err, rt.replication())
		}
		names = append(names, fmt.Sprintf("consistency=any (read %d)", i))
		answers = append(answers, a)
	}
	return names, answers, nil
}

// replication is every node's GET /internal/v1/replication, for a failure
// message.
func (rt *replicaTarget) replication() string {
	var b []byte
	for id, p := range rt.byID {
		resp, err := http.Get(p.url() + "/internal/v1/replication")
		if err != nil {
			b = fmt.Appendf(b, "%s: %v\n", id, err)
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		b = fmt.Appendf(b, "%s: %s\n", id, body)
	}
	return string(b)
}
