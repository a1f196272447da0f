package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/soltixdb/soltix/internal/etcdtest"
)

// TestRouterNewSeriesLimit: a storage node with limits.new_series_per_minute
// 3 behind a router. One write through the router of five new series of a
// collection (six lines): the router answers 429 with Retry-After naming
// exactly the two lines the node refused, and the three other series are
// stored (their six-minus-two points); the node counts the refused points
// and the router the refusal. A point of a stored series and the new
// series of another collection are then written (204): the limit is per
// collection, and only new series take from it.
func TestRouterNewSeriesLimit(t *testing.T) {
	etcd := etcdtest.Start(t)
	dir := t.TempDir()
	nodeCfg := filepath.Join(dir, "node.yaml")
	routerCfg := filepath.Join(dir, "router.yaml")
	if err := os.WriteFile(nodeCfg, []byte("cluster:\n  min_nodes: 1\nlimits:\n  new_series_per_minute: 3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(routerCfg, []byte("cluster:\n  min_nodes: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	node := startRole(t, "storage", "--etcd", etcd.ClientURL(), "--config", nodeCfg, "--node-id", "n1", "--listen", "127.0.0.1:0", "--data-dir", dir+"/n1")
	router := startRole(t, "router", "--etcd", etcd.ClientURL(), "--config", routerCfg, "--listen", "127.0.0.1:0")
	eventually(t, "groups placed", http.MethodPost, router+"/api/v1/write", "", "warm,device_id=w v=1 1", http.StatusNoContent)
	// A query reads every group: all have their primary then.
	eventually(t, "every group placed", http.MethodGet, router+"/api/v1/query?q=SELECT+count(v)+FROM+warm", "", "", http.StatusOK)

	lines := []string{
		"m,device_id=a v=1 1000",
		"m,device_id=b v=2 1000",
		"m,device_id=c v=3 1000",
		"m,device_id=d v=4 1000",
		"m,device_id=e v=5 1000",
		"m,device_id=a v=6 2000",
	}
	req, err := http.NewRequest(http.MethodPost, router+"/api/v1/write", strings.NewReader(strings.Join(lines, "\n")+"\n"))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var answer struct {
		Error string `json:"error"`
		Lines []struct {
			Line   int    `json:"line"`
			Reason string `json:"reason"`
		} `json:"lines"`
	}
	err = json.NewDecoder(resp.Body).Decode(&answer)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "20" {
		t.Fatalf("write of 5 new series: %d Retry-After %q %+v (%v), want 429 after 20 s", resp.StatusCode, resp.Header.Get("Retry-After"), answer, err)
	}
	// Which two series the node refuses depends on the order of its
	// groups; every point of theirs is refused (a has two).
	refused := map[string]bool{}
	for _, l := range answer.Lines {
		if l.Line < 1 || l.Line > len(lines) || !strings.Contains(l.Reason, `new series of collection "m" over the limit of 3`) {
			t.Fatalf("refused line %+v", l)
		}
		refused[regexp.MustCompile(`device_id=(\w)`).FindStringSubmatch(lines[l.Line-1])[1]] = true
	}
	wantLines := 2
	if refused["a"] {
		wantLines = 3
	}
	if len(refused) != 2 || len(answer.Lines) != wantLines {
		t.Fatalf("refused lines %+v: series %v, want two series and all their lines", answer.Lines, refused)
	}
	if want := fmt.Sprintf("%d points refused: their new series are over the limit of 3 new series per minute of their collection (limits.new_series_per_minute); the other %d points were written; retry later",
		wantLines, len(lines)-wantLines); answer.Error != want {
		t.Fatalf("message %q, want %q", answer.Error, want)
	}
	var stored []string
	for _, d := range []string{"a", "b", "c", "d", "e"} {
		if !refused[d] {
			stored = append(stored, d)
		}
	}
	code, body := authRequest(t, http.MethodGet, router+"/api/v1/query?q="+strings.ReplaceAll("SELECT count(v) FROM m GROUP BY device_id", " ", "+"), "", "")
	if code != http.StatusOK {
		t.Fatalf("query: %d %s", code, body)
	}
	var res struct {
		Rows [][]any `json:"rows"`
	}
	if err := json.Unmarshal([]byte(body), &res); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range res.Rows {
		got = append(got, fmt.Sprint(r[1:]...))
	}
	var want []string
	for _, d := range stored {
		n := 1
		if d == "a" {
			n = 2
		}
		want = append(want, fmt.Sprintf("%s%d", d, n))
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("stored series and counts %v, want %v (%s)", got, want, body)
	}

	// A stored series and another collection's new series go in.
	if code, body := authRequest(t, http.MethodPost, router+"/api/v1/write", "", fmt.Sprintf("m,device_id=%s v=9 3000\nother,device_id=x v=1 1\n", stored[0])); code != http.StatusNoContent {
		t.Fatalf("write of a stored series and another collection: %d %s", code, body)
	}
	metric := func(url, re string) {
		t.Helper()
		code, body := authRequest(t, http.MethodGet, url+"/metrics", "", "")
		if code != http.StatusOK || !regexp.MustCompile(`(?m)^`+re+`$`).MatchString(body) {
			t.Errorf("%s/metrics: %d, no line matching %s", url, code, re)
		}
	}
	metric(node, fmt.Sprintf(`soltix_node_series_refused_total %d`, wantLines))
	metric(router, `soltix_limit_rejections_total\{limit="limits.new_series_per_minute"\} 1`)
}
