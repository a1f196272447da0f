package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
)

// testCluster is a router's status as a hook would return it: nodes and
// groups out of order, node group counts and some states left to the
// handler, a node id with markup and quotes.
func testCluster() *ClusterStatus {
	return &ClusterStatus{
		Name:              "prod",
		NumGroups:         5,
		ReplicationFactor: 2,
		Nodes: []ClusterNode{
			{ID: "n3", Addr: "http://127.0.0.1:7003", State: NodeDown},
			{ID: "n1", Addr: "http://127.0.0.1:7001", State: NodeUp},
			{ID: `<b>"n2"</b>`, Addr: "http://127.0.0.1:7002", State: NodeUp, Groups: 99},
			{ID: "n4", Addr: "http://127.0.0.1:7004"},
		},
		Groups: []ClusterGroup{
			{ID: 4, Primary: "n3", Replicas: []string{"n1"}, Epoch: 7, State: "catching up"},
			{ID: 0, Primary: "n1", Replicas: []string{`<b>"n2"</b>`}, Epoch: 3},
			{ID: 2, Primary: "n1", Epoch: 12, MovingTo: `<b>"n2"</b>`},
			{ID: 1, Primary: `<b>"n2"</b>`, Replicas: []string{"n1"}, Epoch: 1, State: GroupOK},
			{ID: 3, Primary: "n1", Replicas: []string{"n3"}, Epoch: 2, State: GroupMoving, MovingTo: "n3"},
		},
	}
}

// wantCluster is testCluster as GET /api/v1/cluster answers it.
func wantCluster() *ClusterStatus {
	n2 := `<b>"n2"</b>`
	return &ClusterStatus{
		Name:              "prod",
		NumGroups:         5,
		ReplicationFactor: 2,
		Nodes: []ClusterNode{
			{ID: n2, Addr: "http://127.0.0.1:7002", State: NodeUp, Groups: 2},
			{ID: "n1", Addr: "http://127.0.0.1:7001", State: NodeUp, Groups: 5},
			{ID: "n3", Addr: "http://127.0.0.1:7003", State: NodeDown, Groups: 2},
			{ID: "n4", Addr: "http://127.0.0.1:7004", State: NodeDown, Groups: 0},
		},
		Groups: []ClusterGroup{
			{ID: 0, Primary: "n1", Replicas: []string{n2}, Epoch: 3, State: GroupOK},
			{ID: 1, Primary: n2, Replicas: []string{"n1"}, Epoch: 1, State: GroupOK},
			{ID: 2, Primary: "n1", Replicas: []string{}, Epoch: 12, State: GroupMoving, MovingTo: n2},
			{ID: 3, Primary: "n1", Replicas: []string{"n3"}, Epoch: 2, State: GroupMoving, MovingTo: "n3"},
			{ID: 4, Primary: "n3", Replicas: []string{"n1"}, Epoch: 7, State: GroupUnavailable},
		},
	}
}

// startHTTP serves h on 127.0.0.1 and returns its base URL.
func startHTTP(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

func httpGet(t *testing.T, url string) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

func TestClusterRoute(t *testing.T) {
	var hadDeadline atomic.Bool
	fixed := func(ctx context.Context) (*ClusterStatus, error) {
		_, ok := ctx.Deadline()
		hadDeadline.Store(ok)
		return testCluster(), nil
	}
	tests := []struct {
		name     string
		hook     func(context.Context) (*ClusterStatus, error)
		code     int
		want     *ClusterStatus // for 200
		errWords []string       // in the error message otherwise
	}{
		{name: "serve", hook: nil, code: http.StatusNotFound, errWords: []string{"not a cluster router"}},
		{name: "router", hook: fixed, code: http.StatusOK, want: wantCluster()},
		{name: "empty map", code: http.StatusOK,
			hook: func(context.Context) (*ClusterStatus, error) { return &ClusterStatus{Name: "c", NumGroups: 8}, nil },
			want: &ClusterStatus{Name: "c", NumGroups: 8, Nodes: []ClusterNode{}, Groups: []ClusterGroup{}}},
		{name: "hook error", code: http.StatusServiceUnavailable, errWords: []string{"cluster status", "etcd unreachable"},
			hook: func(context.Context) (*ClusterStatus, error) {
				return nil, errors.New("read map: etcd unreachable")
			}},
		{name: "no map yet", code: http.StatusServiceUnavailable, errWords: []string{"no cluster map yet"},
			hook: func(context.Context) (*ClusterStatus, error) { return nil, nil }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := newTestServer(t, Options{Cluster: tc.hook})
			base := startHTTP(t, s.mux)
			resp, body := httpGet(t, base+"/api/v1/cluster")
			if resp.StatusCode != tc.code {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.code, body)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			if tc.code != http.StatusOK {
				var e struct{ Error string }
				if err := json.Unmarshal(body, &e); err != nil {
					t.Fatalf("error body %s: %v", body, err)
				}
				for _, w := range tc.errWords {
					if !strings.Contains(e.Error, w) {
						t.Errorf("error %q does not say %q", e.Error, w)
					}
				}
				if ra := resp.Header.Get("Retry-After"); (tc.code == http.StatusServiceUnavailable) != (ra != "") {
					t.Errorf("status %d with Retry-After %q", tc.code, ra)
				}
				return
			}
			var got ClusterStatus
			dec := json.NewDecoder(strings.NewReader(string(body)))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&got); err != nil {
				t.Fatalf("decode %s: %v", body, err)
			}
			if !reflect.DeepEqual(&got, tc.want) {
				t.Errorf("got  %+v\nwant %+v", got, *tc.want)
			}
			// Lists are arrays, never null, and the field names are fixed.
			for _, w := range []string{`"num_groups":`, `"replication_factor":`, `"nodes":[`, `"groups":[`} {
				if !strings.Contains(string(body), w) {
					t.Errorf("body lacks %s: %s", w, body)
				}
			}
			if tc.want.Groups != nil && len(tc.want.Groups) > 0 {
				for _, w := range []string{`"replicas":[]`, `"moving_to":"n3"`, `"state":"unavailable"`, `"addr":"http://127.0.0.1:7001"`} {
					if !strings.Contains(string(body), w) {
						t.Errorf("body lacks %s: %s", w, body)
					}
				}
			}
		})
	}
	if !hadDeadline.Load() {
		t.Error("the status hook was called without a deadline")
	}
}

// TestClusterRouteLeavesHookValue checks that the handler completes a copy:
// a hook may hand out the same status to concurrent requests.
func TestClusterRouteLeavesHookValue(t *testing.T) {
	shared := testCluster()
	s, _ := newTestServer(t, Options{Cluster: func(context.Context) (*ClusterStatus, error) { return shared, nil }})
	base := startHTTP(t, s.mux)
	for range 2 {
		if resp, body := httpGet(t, base+"/api/v1/cluster"); resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
	}
	if !reflect.DeepEqual(shared, testCluster()) {
		t.Errorf("the handler changed the hook's status: %+v", shared)
	}
}

func TestClusterRouteMethods(t *testing.T) {
	s, _ := newTestServer(t, Options{Cluster: func(context.Context) (*ClusterStatus, error) { return testCluster(), nil }})
	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete} {
		rec := do(s.mux, m, "/api/v1/cluster", nil, nil)
		if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "GET" {
			t.Errorf("%s: status %d Allow %q, want 405 GET", m, rec.Code, rec.Header().Get("Allow"))
		}
	}
}
