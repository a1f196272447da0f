package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/soltixdb/soltix/coord"
	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/storage"
)

// opsQueries are the queries TestClusterOperations compares: aggregates
// over every device, per device and per bucket, one device's raw points,
// and a SHOW.
var opsQueries = []string{
	"SELECT count(v), sum(v), min(v), max(v), first(v), last(v) FROM m",
	"SELECT count(v), sum(v), max(v) FROM m GROUP BY device_id",
	"SELECT max(v), min(v) FROM m WHERE time >= '2026-01-01T00:00:00Z' AND time < '2026-01-02T00:00:00Z' GROUP BY 6h, device_id",
	"SELECT v FROM m WHERE device_id = 'd7'",
	"SELECT count(v) FROM m WHERE device_id IN ('d1', 'd2', 'd3') GROUP BY device_id",
	"SHOW TAG VALUES FROM m WITH KEY = device_id",
}

// opsDevices is how many devices TestClusterOperations writes.
const opsDevices = 40

// opsData is 24 hourly points for each device, values in quarters so that
// sums are exact in any order of addition.
func opsData() string {
	var b strings.Builder
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for d := range opsDevices {
		for h := range 24 {
			v := float64((d*31+h*7)%97) / 4
			fmt.Fprintf(&b, "m,device_id=d%d v=%s %d\n", d, strconv.FormatFloat(v, 'f', -1, 64), start.Add(time.Duration(h)*time.Hour).UnixNano())
		}
	}
	return b.String()
}

// TestClusterOperations runs one cluster of three storage nodes through
// what an operator does to it, checking after each step that its answers
// are those of a single node given the same writes: a second router side
// by side (identical answers), SIGKILL of the router and of each storage
// node (the map is kept), a flush and a restart of every process, per-node
// fragment counters on /metrics (a one-device query reaches one node, an
// all-device query each node once), and a stopped storage node (a query or
// write on one of its devices answers 503 naming its groups, one on
// another node's device answers 200), and a fourth node joining (the
// answers stay the same).
func TestClusterOperations(t *testing.T) {
	c := startCluster(t, 3)
	single := startLiveServer(t, t.TempDir(), storage.Options{}, time.Now())
	data := opsData()
	for _, u := range []string{c.url(), single.url()} {
		if code, body := postBody(u+"/api/v1/write?precision=ns", "text/plain", data); code != http.StatusNoContent {
			t.Fatalf("write to %s: %d %s", u, code, body)
		}
	}
	want := map[string]string{}
	for _, q := range opsQueries {
		want[q] = answerRows(t, single.url(), q)
	}
	// agree checks every query's rows through router r.
	agree := func(stage string, r *clusterProc) {
		t.Helper()
		for _, q := range opsQueries {
			if got := answerRows(t, r.url(), q); got != want[q] {
				t.Errorf("%s, %s: %s\n  router %s\n  single %s", stage, r.name, q, got, want[q])
			}
		}
	}
	st, err := c.status(c.routers[0])
	if err != nil {
		t.Fatal(err)
	}
	primaries := st.primaries()
	byNode := map[string]int{}
	for _, p := range primaries {
		byNode[p]++
	}
	if len(byNode) != 3 {
		t.Errorf("groups per node %v: want the groups spread over the three nodes", byNode)
	}
	mapKept := func(stage string) {
		t.Helper()
		st, err := c.status(c.routers[0])
		if err != nil {
			t.Fatalf("%s: %v", stage, err)
		}
		if got := st.primaries(); fmt.Sprint(got) != fmt.Sprint(primaries) {
			t.Errorf("%s: primaries %v, want the map kept: %v", stage, got, primaries)
		}
	}
	agree("start", c.routers[0])

	t.Run("two routers", func(t *testing.T) {
		r2 := c.addRouter()
		for _, q := range opsQueries {
			if a, b := answerRows(t, c.routers[0].url(), q), answerRows(t, r2.url(), q); a != b {
				t.Errorf("%s:\n  router 1 %s\n  router 2 %s", q, a, b)
			}
		}
		agree("second router", r2)
	})
	t.Run("kill router", func(t *testing.T) {
		c.killRestart(c.routers[0])
		agree("router killed and restarted", c.routers[0])
		mapKept("router killed and restarted")
	})
	t.Run("kill storage nodes", func(t *testing.T) {
		for _, n := range c.nodes {
			c.killRestart(n)
			agree(n.name+" killed and restarted", c.routers[0])
			mapKept(n.name + " killed and restarted")
		}
	})
	t.Run("flush and restart everything", func(t *testing.T) {
		if code, body := postBody(c.url()+"/api/v1/admin/flush", "", ""); code != http.StatusNoContent {
			t.Fatalf("flush through the router: %d %s", code, body)
		}
		agree("flushed", c.routers[0])
		c.restartAll()
		for _, r := range c.routers {
			agree("every process restarted", r)
		}
		mapKept("every process restarted")
	})
	t.Run("fragments per node", func(t *testing.T) {
		// Each node's own counter, and the router's per node: a one-device
		// query asks the one node holding the device, an all-device query
		// each node once.
		counters := func() (map[string]int, map[string]int) { return c.fragments(), c.routerFragments() }
		one := "SELECT count(v) FROM m WHERE device_id = 'd5'"
		owner := primaries[model.GroupOf("d5", st.NumGroups)]
		nodesBefore, routerBefore := counters()
		answerRows(t, c.url(), one)
		nodesAfter, routerAfter := counters()
		for _, n := range c.nodes {
			id := strings.TrimPrefix(n.name, "storage ")
			w := 0
			if id == owner {
				w = 1
			}
			if d := nodesAfter[id] - nodesBefore[id]; d != w {
				t.Errorf("%s: node %s served %d fragments, want %d (d5 is on %s)", one, id, d, w, owner)
			}
			if d := routerAfter[id] - routerBefore[id]; d != w {
				t.Errorf("%s: the router counts %d fragments sent to %s, want %d (d5 is on %s)", one, d, id, w, owner)
			}
		}
		nodesBefore, routerBefore = nodesAfter, routerAfter
		answerRows(t, c.url(), "SELECT count(v) FROM m")
		nodesAfter, routerAfter = counters()
		for _, n := range c.nodes {
			id := strings.TrimPrefix(n.name, "storage ")
			if d := nodesAfter[id] - nodesBefore[id]; d != 1 {
				t.Errorf("SELECT count(v) FROM m: node %s served %d fragments, want 1", id, d)
			}
			if d := routerAfter[id] - routerBefore[id]; d != 1 {
				t.Errorf("SELECT count(v) FROM m: the router counts %d fragments sent to %s, want 1", d, id)
			}
		}
	})
	t.Run("stopped node", func(t *testing.T) {
		down := c.nodes[1]
		downID := strings.TrimPrefix(down.name, "storage ")
		var onDown, onUp string
		var downGroup int
		for d := range opsDevices {
			dev := "d" + strconv.Itoa(d)
			g := model.GroupOf(dev, st.NumGroups)
			switch primaries[g] {
			case downID:
				if onDown == "" {
					onDown, downGroup = dev, g
				}
			default:
				if onUp == "" {
					onUp = dev
				}
			}
		}
		if onDown == "" || onUp == "" {
			t.Fatalf("no device on %s or on another node among %d devices (%v)", downID, opsDevices, primaries)
		}
		if err := down.stop(); err != nil {
			t.Fatal(err)
		}
		c.waitNodeDown(downID)
		q := "SELECT count(v), sum(v) FROM m WHERE device_id = '" + onDown + "'"
		code, body, hdr := getQuery(c.url(), q)
		groupRE := regexp.MustCompile(`\b` + strconv.Itoa(downGroup) + `\b`)
		if code != http.StatusServiceUnavailable || !strings.Contains(body, "group") || !groupRE.MatchString(body) || hdr.Get("Retry-After") == "" {
			t.Errorf("%s with %s stopped: %d %s (Retry-After %q), want 503 naming group %d", q, downID, code, body, hdr.Get("Retry-After"), downGroup)
		}
		code, body = postBody(c.url()+"/api/v1/write?precision=ns", "text/plain", "m,device_id="+onDown+" v=1 1767225600000000000\n")
		if code != http.StatusServiceUnavailable || !groupRE.MatchString(body) {
			t.Errorf("write to %s with %s stopped: %d %s, want 503 naming group %d", onDown, downID, code, body, downGroup)
		}
		q = "SELECT count(v), sum(v) FROM m WHERE device_id = '" + onUp + "'"
		if got, w := answerRows(t, c.url(), q), answerRows(t, single.url(), q); got != w {
			t.Errorf("%s with %s stopped: %s, want %s", q, downID, got, w)
		}
		if err := down.start(); err != nil {
			t.Fatal(err)
		}
		c.waitWhole()
		agree(downID+" back", c.routers[0])
		mapKept(downID + " back")
	})
	t.Run("add a node", func(t *testing.T) {
		n := c.addNode()
		id := strings.TrimPrefix(n.name, "storage ")
		// The coordinator moves the groups rendezvous hashing gives the
		// new node to it, one at a time.
		held := c.waitGroupsOn(id)
		t.Logf("%s took %d groups", n.name, held)
		agree(fmt.Sprintf("%s joined and took %d groups", n.name, held), c.routers[0])
		st, err := c.status(c.routers[0])
		if err != nil {
			t.Fatal(err)
		}
		if len(st.Nodes) != 4 {
			t.Errorf("after %s joined: %d nodes in the status, want 4", n.name, len(st.Nodes))
		}
	})
}

// fragments returns each running storage node's soltix_node_fragments_total.
func (c *cluster) fragments() map[string]int {
	c.t.Helper()
	re := regexp.MustCompile(`(?m)^soltix_node_fragments_total (\d+)$`)
	out := map[string]int{}
	for _, n := range c.nodes {
		code, body := httpGet(n.url() + "/metrics")
		m := re.FindStringSubmatch(body)
		if code != http.StatusOK || m == nil {
			c.t.Fatalf("%s /metrics: %d, no soltix_node_fragments_total:\n%s", n.name, code, body)
		}
		out[strings.TrimPrefix(n.name, "storage ")], _ = strconv.Atoi(m[1])
	}
	return out
}

// routerFragments returns the first router's
// soltix_cluster_fragments_total of each node.
func (c *cluster) routerFragments() map[string]int {
	c.t.Helper()
	code, body := httpGet(c.url() + "/metrics")
	if code != http.StatusOK {
		c.t.Fatalf("router /metrics: %d %s", code, body)
	}
	out := map[string]int{}
	for _, m := range regexp.MustCompile(`(?m)^soltix_cluster_fragments_total\{node="([^"]+)"\} (\d+)$`).FindAllStringSubmatch(body, -1) {
		out[m[1]], _ = strconv.Atoi(m[2])
	}
	return out
}

// waitNodeDown waits until every running router sees node id down.
func (c *cluster) waitNodeDown(id string) {
	c.t.Helper()
	deadline := time.Now().Add(clusterStartTimeout)
	for _, r := range c.routers {
		for {
			st, err := c.status(r)
			down := err == nil
			if err == nil {
				for _, n := range st.Nodes {
					if n.ID == id && n.State == "up" {
						down = false
					}
				}
			}
			if down {
				break
			}
			if time.Now().After(deadline) {
				c.t.Fatalf("%s still sees node %s up (%v)", r.name, id, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// postBody posts body and returns the status and the answer.
func postBody(u, contentType, body string) (int, string) {
	resp, err := http.Post(u, contentType, strings.NewReader(body))
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

// getQuery runs q (epoch=ns) and returns the status, answer and headers.
func getQuery(base, q string) (int, string, http.Header) {
	resp, err := http.Get(base + "/api/v1/query?epoch=ns&q=" + url.QueryEscape(q))
	if err != nil {
		return 0, err.Error(), nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b)), resp.Header
}

// answerRows runs q and returns its columns and rows as JSON (stats left out).
func answerRows(t *testing.T, base, q string) string {
	t.Helper()
	code, body, _ := getQuery(base, q)
	if code != http.StatusOK {
		t.Fatalf("%s on %s: %d %s", q, base, code, body)
	}
	dec := json.NewDecoder(bytes.NewReader([]byte(body)))
	dec.UseNumber()
	var a queryAnswer
	if err := dec.Decode(&a); err != nil {
		t.Fatalf("%s on %s: %v: %s", q, base, err, body)
	}
	b, _ := json.Marshal(a)
	return string(b)
}

// waitGroupsOn waits until the map is what rendezvous hashing gives the
// nodes (coord.Place: the coordinator moves one group at a time toward
// it), every group ok, and returns how many groups node id holds.
func (c *cluster) waitGroupsOn(id string) int {
	c.t.Helper()
	var ids []string
	for _, n := range c.nodes {
		ids = append(ids, strings.TrimPrefix(n.name, "storage "))
	}
	deadline := time.Now().Add(clusterStartTimeout)
	for {
		st, err := c.status(c.routers[0])
		held, why := 0, ""
		if err != nil {
			why = err.Error()
		} else {
			for _, g := range st.Groups {
				if g.Primary == id {
					held++
				}
				if want := coord.Place(g.ID, ids, 1)[0]; g.Primary != want || g.State != "ok" {
					why = fmt.Sprintf("group %d is %s on %s, want ok on %s", g.ID, g.State, g.Primary, want)
				}
			}
		}
		if why == "" {
			c.waitWhole()
			return held
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("the groups are not placed after %v: %s\n%s", clusterStartTimeout, why, c.logs())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
