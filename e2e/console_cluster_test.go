package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/soltixdb/soltix/httpapi"
	"github.com/soltixdb/soltix/storage"
	"github.com/soltixdb/soltix/storage/wal"
)

// xssNode is a node id made of markup: the console must show it as text.
const xssNode = `<img src=x onerror="window.__xss=1">n2`

// clusterServer serves the external API over a real storage, as a router
// would: with a status hook returning *status (or err) and per-node
// counters.
type clusterServer struct {
	url    string
	status atomic.Pointer[httpapi.ClusterStatus]
	err    atomic.Pointer[error]
}

func startClusterServer(t *testing.T, router bool) *clusterServer {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	db, err := storage.Open(t.TempDir(), &storage.Options{FlushInterval: -1, Sync: wal.SyncNever, Logger: log})
	if err != nil {
		t.Fatalf("open storage: %v", err)
	}
	cs := &clusterServer{}
	srv := httptest.NewUnstartedServer(nil)
	opts := httpapi.Options{Logger: log, Listen: srv.Listener.Addr().String()}
	if router {
		opts.Cluster = func(ctx context.Context) (*httpapi.ClusterStatus, error) {
			if e := cs.err.Load(); e != nil {
				return nil, *e
			}
			return cs.status.Load(), nil
		}
		opts.ClusterMetrics = func() []httpapi.NodeMetrics {
			return []httpapi.NodeMetrics{
				{Node: "n1", Fragments: 12, WriteRequests: 5, Errors: 0},
				{Node: xssNode, Fragments: 3, WriteRequests: 2, Errors: 4},
			}
		}
	}
	srv.Config.Handler = httpapi.New(db, opts)
	srv.Start()
	t.Cleanup(func() {
		srv.Close()
		if err := db.Close(); err != nil {
			t.Errorf("close storage: %v", err)
		}
	})
	cs.url = srv.URL
	return cs
}

// failOnJSErrors fails the test for any uncaught exception in the page.
func failOnJSErrors(t *testing.T, ctx context.Context) {
	t.Helper()
	var mu sync.Mutex
	var errs []string
	err := chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*runtime.EventExceptionThrown); ok && e.ExceptionDetails != nil {
			d := e.ExceptionDetails
			msg := fmt.Sprintf("%s:%d:%d: %s", d.URL, d.LineNumber+1, d.ColumnNumber+1, d.Text)
			if d.Exception != nil && d.Exception.Description != "" {
				msg += " " + d.Exception.Description
			}
			mu.Lock()
			errs = append(errs, msg)
			mu.Unlock()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, e := range errs {
			t.Errorf("JavaScript error in the console: %s", e)
		}
	})
}

// TestConsoleCluster drives the console's cluster view against a handler
// with a status hook, as on a router: the nodes and groups it lists, a node
// id with markup shown as text, a status change after a refresh, a failing
// status; and against a single node, where the view stays hidden.
func TestConsoleCluster(t *testing.T) {
	ctx := startBrowser(t)
	failOnJSErrors(t, ctx)
	c := &console{t: t, ctx: ctx}

	t.Run("router", func(t *testing.T) {
		c.t = t
		cs := startClusterServer(t, true)
		cs.status.Store(&httpapi.ClusterStatus{
			Name: "prod", NumGroups: 4, ReplicationFactor: 2,
			Nodes: []httpapi.ClusterNode{
				{ID: "n1", Addr: "http://127.0.0.1:7001", State: httpapi.NodeUp},
				{ID: xssNode, Addr: "http://127.0.0.1:7002", State: httpapi.NodeUp},
				{ID: "n3", Addr: "http://127.0.0.1:7003", State: httpapi.NodeDown},
			},
			Groups: []httpapi.ClusterGroup{
				{ID: 0, Primary: "n1", Replicas: []string{xssNode}, Epoch: 3},
				{ID: 1, Primary: xssNode, Replicas: []string{"n1"}, Epoch: 1},
				{ID: 2, Primary: "n1", Replicas: []string{"n3"}, Epoch: 9, MovingTo: xssNode},
				{ID: 3, Primary: "n3", Epoch: 18446744073709551615},
			},
		})
		c.do("open the console", chromedp.EmulateViewport(1280, 900), chromedp.Navigate(cs.url+"/"))
		c.wait("the console to start", `document.body.dataset.console === 'ready'`)
		c.wait("the cluster status", `document.getElementById('cluster').dataset.mode === 'cluster'`)
		if got := c.str(`document.querySelector('#status-cluster span').textContent`); got != "2/3 nodes up, 1 group unavailable" {
			t.Errorf("cluster pill says %q", got)
		}
		if c.str(`String(document.getElementById('cluster').hidden)`) != "true" {
			t.Errorf("the cluster view is open before the pill is clicked")
		}
		c.do("open the cluster view", chromedp.Click(chromedp.ID("status-cluster")))
		c.wait("the cluster view", `!document.getElementById('cluster').hidden`)

		head, nodes := c.table("#cluster-nodes")
		if !slices.Equal(head, []string{"node", "address", "state", "groups", "fragments", "writes", "errors"}) {
			t.Errorf("node columns %q", head)
		}
		wantNodes := [][]string{
			{xssNode, "http://127.0.0.1:7002", " up", "2", "3", "2", "4"},
			{"n1", "http://127.0.0.1:7001", " up", "3", "12", "5", "0"},
			{"n3", "http://127.0.0.1:7003", " down", "2", "\u2013", "\u2013", "\u2013"},
		}
		if !slices.EqualFunc(nodes, wantNodes, slices.Equal) {
			t.Errorf("nodes\n got %q\nwant %q", nodes, wantNodes)
		}
		head, groups := c.table("#cluster-groups")
		if !slices.Equal(head, []string{"group", "primary", "replicas", "epoch", "state"}) {
			t.Errorf("group columns %q", head)
		}
		wantGroups := [][]string{
			{"0", "n1", xssNode, "3", "ok"},
			{"1", xssNode, "n1", "1", "ok"},
			{"2", "n1", "n3", "9", "moving \u2192 " + xssNode},
			{"3", "n3", "none", "18446744073709551615", "unavailable"},
		}
		if !slices.EqualFunc(groups, wantGroups, slices.Equal) {
			t.Errorf("groups\n got %q\nwant %q", groups, wantGroups)
		}
		var attrs []string
		c.eval(`Array.from(document.querySelectorAll('#cluster-nodes tbody tr'), tr => tr.dataset.node + '/' + tr.dataset.state)`, &attrs)
		if !slices.Equal(attrs, []string{xssNode + "/up", "n1/up", "n3/down"}) {
			t.Errorf("node rows' data-node/data-state %q", attrs)
		}
		// The markup is text: no element was made from it, no handler ran.
		var imgs int
		c.eval(`document.querySelectorAll('#cluster img, #status img').length`, &imgs)
		if imgs != 0 || c.str(`String(window.__xss)`) != "undefined" {
			t.Errorf("a node id was parsed as HTML: %d img elements, window.__xss %s", imgs, c.str(`String(window.__xss)`))
		}
		if got := c.str(`document.getElementById('cluster').dataset.nodes + '/' + document.getElementById('cluster').dataset.groups`); got != "3/4" {
			t.Errorf("#cluster data-nodes/data-groups = %s, want 3/4", got)
		}
		t.Logf("cluster screenshot: %s", c.screenshot(artifactDir(t), "console-cluster.png"))

		// n3 comes back and the move ends: a refresh shows it.
		st := *cs.status.Load()
		st.Nodes = slices.Clone(st.Nodes)
		st.Nodes[2].State = httpapi.NodeUp
		st.Groups = slices.Clone(st.Groups)
		st.Groups[2] = httpapi.ClusterGroup{ID: 2, Primary: xssNode, Replicas: []string{"n1"}, Epoch: 10}
		cs.status.Store(&st)
		c.do("refresh the cluster view", chromedp.Click(chromedp.ID("cluster-refresh")))
		c.wait("the new status", `document.querySelector('#status-cluster span').textContent === '3/3 nodes up'`)
		var states []string
		c.eval(`Array.from(document.querySelectorAll('#cluster-groups tbody tr'), tr => tr.dataset.state)`, &states)
		if !slices.Equal(states, []string{"ok", "ok", "ok", "ok"}) {
			t.Errorf("group states after the refresh %q", states)
		}

		// The router cannot read the map: the view says why.
		e := errors.New("etcd unreachable")
		cs.err.Store(&e)
		c.do("refresh the cluster view", chromedp.Click(chromedp.ID("cluster-refresh")))
		c.wait("the error", `document.getElementById('cluster').dataset.mode === 'error'`)
		if msg := c.str(`document.getElementById('cluster-error').textContent`); msg != "cluster status: etcd unreachable" {
			t.Errorf("cluster error %q", msg)
		}
		if got := c.str(`document.querySelector('#status-cluster span').textContent`); got != "cluster unavailable" {
			t.Errorf("cluster pill says %q during the error", got)
		}

		// Closing the view hides it.
		c.do("close the cluster view", chromedp.Click(chromedp.ID("status-cluster")))
		c.wait("the view to close", `document.getElementById('cluster').hidden`)
	})

	t.Run("serve", func(t *testing.T) {
		c.t = t
		cs := startClusterServer(t, false)
		c.do("open the console", chromedp.Navigate(cs.url+"/"))
		c.wait("the console to start", `document.body.dataset.console === 'ready'`)
		c.wait("the single-node status", `document.getElementById('cluster').dataset.mode === 'single'`)
		if got := c.str(`document.querySelector('#status-cluster span').textContent`); got != "single node" {
			t.Errorf("cluster pill says %q on a single node", got)
		}
		// Even with the view remembered as open, a single node shows
		// none, and a click on the pill does not open one.
		c.eval(`localStorage.setItem('soltix.cluster.open', 'true'); true`, new(bool))
		c.do("open the console again", chromedp.Navigate(cs.url+"/?again"))
		c.wait("the console to start again", `document.body.dataset.console === 'ready' && document.getElementById('cluster').dataset.mode === 'single'`)
		c.do("click the pill", chromedp.Click(chromedp.ID("status-cluster")))
		if c.str(`String(document.getElementById('cluster').hidden)`) != "true" {
			t.Errorf("the cluster view is shown on a single node")
		}
		var rows int
		c.eval(`document.querySelectorAll('#cluster-nodes tbody tr').length`, &rows)
		if rows != 0 {
			t.Errorf("%d node rows on a single node", rows)
		}
	})
}
