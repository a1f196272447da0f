package httpapi

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
)

// testNodeMetrics are a router's counters: out of order, one node listed
// twice (its entries add up), a node id that needs escaping.
func testNodeMetrics() []NodeMetrics {
	return []NodeMetrics{
		{Node: "n2", Addr: "http://127.0.0.1:7002", Fragments: 7, Aggregates: 5, WriteRequests: 3, BytesSent: 1000, BytesReceived: 5000, Errors: 1},
		{Node: "n1", Addr: "http://127.0.0.1:7001", Fragments: 11, WriteRequests: 4, BytesSent: 2048, BytesReceived: 65536},
		{Node: `q"x\y`, Fragments: 1},
		{Node: "n2", Addr: "http://127.0.0.1:7002", Fragments: 2, Aggregates: 1, Errors: 2},
	}
}

func TestClusterMetrics(t *testing.T) {
	status := func(context.Context) (*ClusterStatus, error) { return testCluster(), nil }
	broken := func(context.Context) (*ClusterStatus, error) { return nil, errors.New("etcd unreachable") }
	counters := map[string]float64{
		`soltix_cluster_fragments_total{node="n1"}`:           11,
		`soltix_cluster_fragments_total{node="n2"}`:           9,
		`soltix_cluster_fragments_total{node="q\"x\\y"}`:      1,
		`soltix_cluster_aggregates_total{node="n1"}`:          0,
		`soltix_cluster_aggregates_total{node="n2"}`:          6,
		`soltix_cluster_aggregates_total{node="q\"x\\y"}`:     0,
		`soltix_cluster_write_requests_total{node="n1"}`:      4,
		`soltix_cluster_write_requests_total{node="n2"}`:      3,
		`soltix_cluster_write_requests_total{node="q\"x\\y"}`: 0,
		`soltix_cluster_bytes_sent_total{node="n1"}`:          2048,
		`soltix_cluster_bytes_sent_total{node="n2"}`:          1000,
		`soltix_cluster_bytes_received_total{node="n1"}`:      65536,
		`soltix_cluster_bytes_received_total{node="n2"}`:      5000,
		`soltix_cluster_errors_total{node="n1"}`:              0,
		`soltix_cluster_errors_total{node="n2"}`:              3,
		`soltix_cluster_errors_total{node="q\"x\\y"}`:         0,
		`soltix_cluster_bytes_received_total{node="q\"x\\y"}`: 0,
		`soltix_cluster_bytes_sent_total{node="q\"x\\y"}`:     0,
	}
	gauges := map[string]float64{
		`soltix_cluster_nodes{state="up"}`:             2,
		`soltix_cluster_nodes{state="down"}`:           2,
		`soltix_cluster_groups{state="ok"}`:            2,
		`soltix_cluster_groups{state="moving"}`:        2,
		`soltix_cluster_groups{state="unavailable"}`:   1,
		`soltix_cluster_node_up{node="n1"}`:            1,
		`soltix_cluster_node_up{node="n3"}`:            0,
		`soltix_cluster_node_up{node="n4"}`:            0,
		`soltix_cluster_node_up{node="<b>\"n2\"</b>"}`: 1,
	}
	tests := []struct {
		name    string
		opts    Options
		want    []map[string]float64
		absent  []string // families that must not appear
		present []string // families that must appear
	}{
		{name: "serve", absent: []string{"soltix_cluster_fragments_total", "soltix_cluster_write_requests_total",
			"soltix_cluster_bytes_sent_total", "soltix_cluster_bytes_received_total", "soltix_cluster_errors_total",
			"soltix_cluster_nodes", "soltix_cluster_groups", "soltix_cluster_node_up"}},
		{name: "router", opts: Options{Cluster: status, ClusterMetrics: testNodeMetrics},
			want: []map[string]float64{counters, gauges}},
		{name: "router, status failing", opts: Options{Cluster: broken, ClusterMetrics: testNodeMetrics},
			want:   []map[string]float64{counters},
			absent: []string{"soltix_cluster_nodes", "soltix_cluster_groups", "soltix_cluster_node_up"}},
		{name: "router, no node yet", opts: Options{Cluster: status, ClusterMetrics: func() []NodeMetrics { return nil }},
			want:    []map[string]float64{gauges},
			present: []string{"soltix_cluster_fragments_total", "soltix_cluster_errors_total"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := newTestServer(t, tc.opts)
			base := startHTTP(t, s.mux)
			resp, body := httpGet(t, base+"/metrics")
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			fams := parseProm(t, string(body))
			for _, want := range tc.want {
				for sample, v := range want {
					name, _, _ := strings.Cut(sample, "{")
					f := fams[name]
					if f == nil {
						t.Errorf("family %s missing", name)
						continue
					}
					got, ok := f.samples[sample]
					if !ok || got != v {
						t.Errorf("%s = %v (present %v), want %v", sample, got, ok, v)
					}
				}
			}
			for _, name := range tc.absent {
				if fams[name] != nil {
					t.Errorf("family %s present: %v", name, fams[name].samples)
				}
			}
			for _, name := range tc.present {
				if fams[name] == nil {
					t.Errorf("family %s missing", name)
				}
			}
			// Exactly the samples expected: no node listed twice, no
			// state beyond the fixed ones.
			for name, f := range fams {
				if !strings.HasPrefix(name, "soltix_cluster_") {
					continue
				}
				wantType := "gauge"
				if strings.HasSuffix(name, "_total") {
					wantType = "counter"
				}
				if f.typ != wantType {
					t.Errorf("%s has type %s, want %s", name, f.typ, wantType)
				}
				for sample := range f.samples {
					found := false
					for _, want := range tc.want {
						_, found = want[sample]
						if found {
							break
						}
					}
					if !found {
						t.Errorf("unexpected sample %s", sample)
					}
				}
			}
		})
	}
}
