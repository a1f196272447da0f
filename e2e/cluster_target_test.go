package e2e

import (
	"encoding/json"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/soltixdb/soltix/storage"
)

// TestClusterDifferential is TestDifferential against a cluster of three
// storage nodes reached through a router: every write goes to the router
// and to a single node (soltix serve's engine) with the same options, and
// every answer of the router must match both the oracle and the single
// node's answer, with everything in memory, after flushes (the router
// fans the admin flush out), compactions and restarts of every process
// (storage nodes one by one, the router, etcd).
func TestClusterDifferential(t *testing.T) {
	differentialSeeds(t, twinTarget)
}

// TestClusterRollups is TestRollupsThroughHTTP against a cluster of three
// storage nodes reached through a router; its restart restarts every
// process.
func TestClusterRollups(t *testing.T) {
	runRollups(t, clusterTargetOf)
}

// clusterTarget is a cluster reached through its first router.
type clusterTarget struct {
	endpoint
	c *cluster
}

func (ct *clusterTarget) url() string { return ct.c.url() }

// restart restarts every process of the cluster (cluster.restartAll).
func (ct *clusterTarget) restart() { ct.c.restartAll() }

// clusterTargetOf starts a cluster of three storage nodes with the groups,
// partition and block size of opts, every process's clock at now.
func clusterTargetOf(t *testing.T, opts storage.Options, now time.Time) target {
	t.Helper()
	c := startClusterWith(t, clusterOptions{groups: opts.NumGroups, partition: opts.PartitionDuration, blockSize: opts.BlockSize, now: now})
	ct := &clusterTarget{c: c}
	ct.endpoint = endpoint{t: t, base: c.url}
	return ct
}

// twin is a cluster and a single node given the same requests; its
// answers are the cluster's, checked against the single node's.
type twin struct {
	t       *testing.T
	cluster target
	single  target
}

// twinTarget starts a cluster (clusterTargetOf) and a single node
// (serveTarget) with the same options.
func twinTarget(t *testing.T, opts storage.Options, now time.Time) target {
	t.Helper()
	return &twin{t: t, cluster: clusterTargetOf(t, opts, now), single: serveTarget(t, opts, now)}
}

func (w *twin) url() string { return w.cluster.url() }

func (w *twin) write(b batch) {
	w.cluster.write(b)
	w.single.write(b)
}

func (w *twin) flush() {
	w.cluster.flush()
	w.single.flush()
}

func (w *twin) compact() {
	w.cluster.compact()
	w.single.compact()
}

func (w *twin) restart() {
	w.cluster.restart()
	w.single.restart()
}

// query returns the cluster's answer, or an error when it differs from
// the single node's: the same status and message for an error, the same
// columns and rows (floats within a relative 1e-9, as the oracle compares
// them: the router merges partial sums in another order) for an answer.
func (w *twin) query(q string) (*queryAnswer, error) {
	got, err := w.cluster.query(q)
	want, werr := w.single.query(q)
	switch {
	case err != nil && werr != nil:
		if err.Error() != werr.Error() {
			return nil, fmt.Errorf("router and single node fail differently:\n  router: %v\n  single: %v", err, werr)
		}
		return nil, err
	case err != nil:
		return nil, fmt.Errorf("router: %w (the single node answers)", err)
	case werr != nil:
		return nil, fmt.Errorf("the router answers, the single node fails: %v", werr)
	}
	if diff := diffTable(got, answerTable(want)); diff != "" {
		return nil, fmt.Errorf("router and single node differ: %s", diff)
	}
	return got, nil
}

// answerTable turns a server's answer into the table another answer must
// match: numbers within a relative 1e-9 (integers beyond 2^53 exactly).
func answerTable(a *queryAnswer) table {
	tb := table{columns: a.Columns, rows: [][]cell{}}
	for _, r := range a.Rows {
		row := make([]cell, len(r))
		for i, v := range r {
			switch v := v.(type) {
			case nil:
				row[i] = nullCell()
			case string:
				row[i] = exactCell(sv(v))
			case bool:
				row[i] = exactCell(bv(v))
			case json.Number:
				if n, err := strconv.ParseInt(string(v), 10, 64); err == nil && (n >= 1<<53 || n <= -(1<<53)) {
					row[i] = intCell(n)
				} else if f, err := v.Float64(); err == nil {
					row[i] = approxCell(f)
				} else {
					row[i] = exactCell(sv(string(v)))
				}
			default:
				row[i] = exactCell(sv(fmt.Sprint(v)))
			}
		}
		tb.rows = append(tb.rows, row)
	}
	return tb
}
