package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestClusterRequestIDs runs a router and two storage nodes as binaries
// with JSON logs at debug level and checks that the id a client gives a
// request (X-Request-Id) comes back in the answer and names the request's
// log lines in the router and in the storage nodes it reached, and that a
// made-up id does the same for a request that sent none.
func TestClusterRequestIDs(t *testing.T) {
	c := startClusterWith(t, clusterOptions{nodes: 2, jsonDebug: true})

	send := func(method, path, id, body string) string {
		t.Helper()
		req, err := http.NewRequest(method, c.url()+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if id != "" {
			req.Header.Set("X-Request-Id", id)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			t.Fatalf("%s %s: %d", method, path, resp.StatusCode)
		}
		got := resp.Header.Get("X-Request-Id")
		if id != "" && got != id {
			t.Fatalf("%s %s: sent id %q, answer has %q", method, path, id, got)
		}
		return got
	}
	var lines []string
	for d := range 40 {
		lines = append(lines, fmt.Sprintf("rid,host=h%d v=1 1767225600000000000", d))
	}
	send(http.MethodPost, "/write", "e2e-write.1", strings.Join(lines, "\n"))
	send(http.MethodGet, "/api/v1/query?q=SELECT+count(v)+FROM+rid", "e2e-query.2", "")
	made := send(http.MethodPost, "/api/v1/admin/flush", "", "")
	if len(made) != 32 {
		t.Fatalf("made-up id %q", made)
	}

	// ids returns the request ids of a process's JSON log lines with
	// message msg.
	ids := func(p *clusterProc, msg string) map[string]int {
		out := map[string]int{}
		for _, l := range strings.Split(p.logs.String(), "\n") {
			if !strings.HasPrefix(l, "{") {
				continue
			}
			var m map[string]any
			if err := json.Unmarshal([]byte(l), &m); err != nil {
				t.Fatalf("%s: log line %q: %v", p.name, l, err)
			}
			if m["msg"] == msg {
				id, _ := m["request_id"].(string)
				out[id]++
			}
		}
		return out
	}
	st, err := c.status(c.routers[0])
	if err != nil {
		t.Fatal(err)
	}
	primaries := map[string]bool{}
	for _, id := range st.primaries() {
		primaries[id] = true
	}
	nodeOf := map[string]*clusterProc{}
	for _, n := range c.nodes {
		nodeOf[strings.TrimPrefix(n.name, "storage ")] = n
	}
	// why says what is missing from the logs ("" when nothing): a line is
	// written once its answer is sent, so the logs are read until they
	// hold every line or the deadline passes.
	why := func() string {
		router := ids(c.routers[0], "http request")
		var missing []string
		for _, id := range []string{"e2e-write.1", "e2e-query.2", made} {
			if router[id] != 1 {
				missing = append(missing, fmt.Sprintf("router: %d request lines with id %q, want 1", router[id], id))
			}
			reached := 0
			for _, n := range c.nodes {
				if ids(n, "internal request")[id] > 0 {
					reached++
				}
			}
			// Forty hosts over 16 groups on two nodes reach both.
			if reached != len(primaries) {
				missing = append(missing, fmt.Sprintf("%d storage nodes logged id %q, want the %d primaries", reached, id, len(primaries)))
			}
		}
		// The flush reaches every primary.
		for id := range primaries {
			if n := nodeOf[id]; n == nil || ids(n, "internal request")[made] == 0 {
				missing = append(missing, fmt.Sprintf("primary %s did not log the flush's id %q", id, made))
			}
		}
		return strings.Join(missing, "; ")
	}
	deadline := time.Now().Add(20 * time.Second)
	for why() != "" && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if w := why(); w != "" {
		t.Error(w)
	}
	if len(primaries) != 2 {
		t.Errorf("primaries %v, want both nodes", st.primaries())
	}
}
