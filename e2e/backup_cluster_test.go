package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// postLines returns a write of line protocol to the server at base.
func postLines(base func() string) func(lines string) (int, error) {
	return func(lines string) (int, error) {
		resp, err := http.Post(base()+"/api/v1/write?precision=ns", "text/plain", strings.NewReader(lines))
		if err != nil {
			return 0, err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, nil
	}
}

// backupManifest is what the cluster test reads of a backup's manifest.
type backupManifest struct {
	Groups []struct {
		Group int `json:"group"`
	} `json:"groups"`
	Cluster *struct {
		Groups []struct {
			Group   int    `json:"group"`
			Primary string `json:"primary"`
			Epoch   uint64 `json:"epoch"`
		} `json:"groups"`
	} `json:"cluster"`
}

func readBackupManifest(t *testing.T, dir string) backupManifest {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "backup.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m backupManifest
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestClusterBackupRestore backs up a two-node cluster through its router
// while writes go on, restores the backup into a new, empty two-node
// cluster node by node (each storage node stopped, its primary groups
// restored into its data directory, started again) and checks that every
// point acknowledged before the backup is there and the differential
// test's oracle agrees with the new cluster. A backup of two groups holds
// those two only.
func TestClusterBackupRestore(t *testing.T) {
	initial, later, queries := 700, 200, 80
	if testing.Short() {
		initial, later, queries = 400, 100, 40
	}
	seed := uint64(defaultSeed)
	w := newWorld(seed)
	d := newDataset()
	const groups = 8
	c := startClusterWith(t, clusterOptions{nodes: 2, groups: groups})
	ep := endpoint{t: t, base: c.url}
	bs := w.batches(initial, 0.05)
	for i, b := range bs {
		ep.write(b)
		d.apply(b)
		if i == len(bs)/2 {
			ep.flush()
		}
	}
	load := startLoad(postLines(c.url))
	deadline := time.Now().Add(30 * time.Second)
	for a, _ := load.counts(); a < 20 && time.Now().Before(deadline); a, _ = load.counts() {
		time.Sleep(10 * time.Millisecond)
	}
	ackedBefore, _ := load.counts()
	if ackedBefore < 20 {
		t.Fatalf("the load wrote %d batches in 30 s", ackedBefore)
	}
	bk := filepath.Join(t.TempDir(), "backup")
	out, err := runSoltix(t, "backup", "--server", c.url(), "--to", bk)
	if err != nil {
		t.Fatalf("soltix backup: %v\n%s", err, out)
	}
	t.Logf("%s", strings.TrimSpace(out))
	man := readBackupManifest(t, bk)
	if man.Cluster == nil || len(man.Cluster.Groups) != groups {
		t.Fatalf("the manifest's cluster map: %+v, want all %d groups", man.Cluster, groups)
	}
	primaries := map[string]bool{}
	for _, g := range man.Cluster.Groups {
		primaries[g.Primary] = true
		if g.Epoch == 0 {
			t.Errorf("group %d recorded without its epoch", g.Group)
		}
	}
	if len(primaries) != 2 {
		t.Errorf("the backup was taken from %d nodes, want both", len(primaries))
	}

	// A backup of groups 1 and 6 only.
	sub := filepath.Join(t.TempDir(), "sub")
	if out, err := runSoltix(t, "backup", "--server", c.url(), "--to", sub, "--groups", "1,6"); err != nil {
		t.Fatalf("soltix backup --groups: %v\n%s", err, out)
	}
	subMan := readBackupManifest(t, sub)
	var subGroups []int
	for _, g := range subMan.Cluster.Groups {
		subGroups = append(subGroups, g.Group)
	}
	if !slices.Equal(subGroups, []int{1, 6}) {
		t.Errorf("backup --groups 1,6 recorded groups %v", subGroups)
	}
	for _, g := range subMan.Groups {
		if g.Group != 1 && g.Group != 6 {
			t.Errorf("backup --groups 1,6 holds group %d", g.Group)
		}
	}

	// The router's backup routes: the node is required, must be up, and
	// ids are NODE.ID.
	for _, rc := range []struct {
		path string
		code int
	}{
		{"/api/v1/admin/backup", http.StatusBadRequest},
		{"/api/v1/admin/backup?node=nosuch", http.StatusServiceUnavailable},
		{"/api/v1/admin/backup/0123/release", http.StatusNotFound},
		{"/api/v1/admin/backup/s1.0123/release", http.StatusNotFound},
	} {
		code, err := httpDo(http.MethodPost, c.url()+rc.path, "")
		if err != nil || code != rc.code {
			t.Errorf("POST %s through the router: %d, %v; want %d", rc.path, code, err, rc.code)
		}
	}

	// After the backup: more of the world (overwrites included) and
	// more load; none of it may be in the backup.
	for _, b := range w.batches(later, 0.6) {
		ep.write(b)
	}
	load.finish(t)
	_, sentTotal := load.counts()
	c.stopAll()

	// A new, empty cluster; each node stopped, its primary groups
	// restored into its data directory, started again.
	c2 := startClusterWith(t, clusterOptions{nodes: 2, groups: groups})
	restoredGroups := 0
	for _, p := range c2.nodes {
		id := strings.TrimPrefix(p.name, "storage ")
		dir := filepath.Join(c2.dir, id)
		if err := p.stop(); err != nil {
			t.Fatal(err)
		}
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
		out, err := runSoltix(t, "restore", "--from", bk, "--data-dir", dir, "--server", c2.url(), "--node", id)
		if err != nil {
			t.Fatalf("soltix restore of node %s: %v\n%s", id, err, out)
		}
		t.Logf("%s: %s", id, strings.TrimSpace(out))
		// "...: N groups, ..."
		if f := strings.Fields(out[strings.LastIndex(out, ":")+1:]); len(f) > 0 {
			n, _ := strconv.Atoi(f[0])
			restoredGroups += n
		}
		if err := p.start(); err != nil {
			t.Fatal(err)
		}
	}
	if restoredGroups != len(man.Groups) {
		t.Errorf("the nodes restored %d groups, the backup holds %d", restoredGroups, len(man.Groups))
	}
	c2.waitWhole()
	checkRestored(t, endpoint{t: t, base: c2.url}, w, d, seed, ackedBefore, sentTotal, queries)
}
