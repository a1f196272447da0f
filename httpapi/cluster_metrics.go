package httpapi

import (
	"bytes"
	"cmp"
	"context"
	"maps"
	"net/http"
	"slices"
)

// The soltix_cluster_* families of GET /metrics, written on a router only
// (Options.Cluster or Options.ClusterMetrics set): the router's counters
// per storage node, with a node label, and gauges of the nodes and groups
// by state.

// clusterCounters are the per-node counter families, in the order written.
var clusterCounters = []struct {
	name, help string
	value      func(NodeMetrics) uint64
}{
	{"soltix_cluster_fragments_total", "Query fragments the router sent to a storage node, by node id.",
		func(m NodeMetrics) uint64 { return m.Fragments }},
	{"soltix_cluster_aggregates_total", "Query fragments a storage node aggregated itself for the router (aggregates per bucket instead of values), by node id.",
		func(m NodeMetrics) uint64 { return m.Aggregates }},
	{"soltix_cluster_write_requests_total", "Write requests the router sent to a storage node, by node id.",
		func(m NodeMetrics) uint64 { return m.WriteRequests }},
	{"soltix_cluster_bytes_sent_total", "Request bytes the router sent to a storage node, by node id.",
		func(m NodeMetrics) uint64 { return m.BytesSent }},
	{"soltix_cluster_bytes_received_total", "Answer bytes the router received from a storage node, by node id.",
		func(m NodeMetrics) uint64 { return m.BytesReceived }},
	{"soltix_cluster_errors_total", "Requests from the router to a storage node that failed, by node id.",
		func(m NodeMetrics) uint64 { return m.Errors }},
}

// writeClusterMetrics writes the soltix_cluster_* families; nothing on a
// single node.
func (s *server) writeClusterMetrics(ctx context.Context, b *bytes.Buffer) {
	p := promWriter{b}
	if s.opts.ClusterMetrics != nil {
		nodes := mergeNodeMetrics(s.opts.ClusterMetrics())
		for _, c := range clusterCounters {
			p.family(c.name, "counter", c.help)
			for _, m := range nodes {
				p.sample(c.name, `node="`+escapeLabel(m.Node)+`"`, float64(c.value(m)))
			}
		}
	}
	if s.opts.Cluster == nil {
		return
	}
	st, code, msg := s.clusterStatus(ctx)
	if code != http.StatusOK {
		// The families are left out rather than written as zeros, which
		// would read as "no node up".
		s.log.WarnContext(ctx, "metrics: "+msg)
		return
	}
	p.family("soltix_cluster_node_up", "gauge", "1 when a storage node's registration in etcd is alive, else 0, by node id.")
	nodes := map[string]int{NodeUp: 0, NodeDown: 0}
	for _, n := range st.Nodes {
		up := 0.0
		if n.State == NodeUp {
			up = 1
		}
		p.sample("soltix_cluster_node_up", `node="`+escapeLabel(n.ID)+`"`, up)
		nodes[n.State]++
	}
	p.family("soltix_cluster_nodes", "gauge", "Storage nodes of the cluster, by state (up, down).")
	for _, state := range slices.Sorted(maps.Keys(nodes)) {
		p.sample("soltix_cluster_nodes", `state="`+escapeLabel(state)+`"`, float64(nodes[state]))
	}
	groups := map[string]int{GroupOK: 0, GroupMoving: 0, GroupUnavailable: 0}
	for _, g := range st.Groups {
		groups[g.State]++
	}
	p.family("soltix_cluster_groups", "gauge", "Groups of the cluster map, by state (ok, moving, unavailable).")
	for _, state := range slices.Sorted(maps.Keys(groups)) {
		p.sample("soltix_cluster_groups", `state="`+escapeLabel(state)+`"`, float64(groups[state]))
	}
}

// mergeNodeMetrics sorts ms by node id and adds up entries naming the same
// node, so that no sample is written twice.
func mergeNodeMetrics(ms []NodeMetrics) []NodeMetrics {
	out := slices.Clone(ms)
	slices.SortStableFunc(out, func(a, b NodeMetrics) int { return cmp.Compare(a.Node, b.Node) })
	merged := out[:0]
	for _, m := range out {
		if n := len(merged); n > 0 && merged[n-1].Node == m.Node {
			d := &merged[n-1]
			d.Fragments += m.Fragments
			d.Aggregates += m.Aggregates
			d.WriteRequests += m.WriteRequests
			d.BytesSent += m.BytesSent
			d.BytesReceived += m.BytesReceived
			d.Errors += m.Errors
			continue
		}
		merged = append(merged, m)
	}
	return merged
}
