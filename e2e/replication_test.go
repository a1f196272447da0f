package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/soltixdb/soltix/internal/natstest"
	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/planner"
	"github.com/soltixdb/soltix/query"
	"github.com/soltixdb/soltix/storage"
)

// groupCopies returns every group's primary and replicas from GET
// /api/v1/cluster.
func (c *cluster) groupCopies() map[int][]string {
	c.t.Helper()
	resp, err := http.Get(c.url() + "/api/v1/cluster")
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	var st struct {
		Groups []struct {
			ID       int      `json:"id"`
			Primary  string   `json:"primary"`
			Replicas []string `json:"replicas"`
		} `json:"groups"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		c.t.Fatal(err)
	}
	out := map[int][]string{}
	for _, g := range st.Groups {
		out[g.ID] = append([]string{g.Primary}, g.Replicas...)
	}
	return out
}

var replSeqLine = regexp.MustCompile(`^soltix_replication_last_sequence\{group="(\d+)",role="(\w+)"\} (\d+)$`)

var replReadableLine = regexp.MustCompile(`^soltix_replication_readable\{group="(\d+)"\} (\d+)$`)

// replicationSeqs scrapes a storage node's /metrics: the last stream
// sequence of each group it leads or follows, by group and role
// ("3/primary", "3/replica"), and whether a replica answers reads
// ("3/readable", 1 or 0).
func replicationSeqs(t *testing.T, p *clusterProc) map[string]uint64 {
	t.Helper()
	resp, err := http.Get(p.url() + "/metrics")
	if err != nil {
		return nil // restarting
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	out := map[string]uint64{}
	for _, line := range strings.Split(string(body), "\n") {
		if m := replSeqLine.FindStringSubmatch(line); m != nil {
			v, _ := strconv.ParseUint(m[3], 10, 64)
			out[m[1]+"/"+m[2]] = v
		}
		if m := replReadableLine.FindStringSubmatch(line); m != nil {
			v, _ := strconv.ParseUint(m[2], 10, 64)
			out[m[1]+"/readable"] = v
		}
	}
	return out
}

// writeRetrying posts line protocol to the router until it is taken (a
// group whose lead is being taken over answers 503 meanwhile).
func writeRetrying(t *testing.T, url, body string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Post(url+"/write?precision=s", "text/plain", strings.NewReader(body))
		if err == nil {
			msg, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusNoContent {
				return
			}
			if resp.StatusCode != http.StatusServiceUnavailable {
				t.Fatalf("write: %d %s", resp.StatusCode, msg)
			}
			if time.Now().After(deadline) {
				t.Fatalf("write still refused after 60 s: %d %s", resp.StatusCode, msg)
			}
		} else if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestClusterReplication: with NATS and a replication factor of 2, every
// write taken by a group's primary reaches its replica, also while the
// replica is killed and started again; once caught up, each replica's data
// answers every query on its groups exactly as the primary's.
func TestClusterReplication(t *testing.T) {
	nats := natstest.Start(t)
	const groups = 8
	c := startClusterWith(t, clusterOptions{nodes: 3, groups: groups, nats: nats.URL(), replication: 2})
	resp, err := http.Get(c.url() + "/api/v1/cluster")
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Replication string `json:"replication"`
	}
	err = json.NewDecoder(resp.Body).Decode(&st)
	resp.Body.Close()
	if err != nil || st.Replication != "nats" {
		t.Fatalf("GET /api/v1/cluster says replication %q (%v), want nats", st.Replication, err)
	}
	copies := c.groupCopies()
	for g := range groups {
		if len(copies[g]) != 2 {
			t.Fatalf("group %d has copies %v, want a primary and a replica", g, copies[g])
		}
	}
	const devices = 24
	base := int64(1_700_000_000)
	// Without failover (not built yet), a group whose primary is down
	// takes no writes: while the victim is down, only the groups it does
	// not lead are written, some of which it replicates.
	victimID := "s2"
	victim := c.nodes[1]
	batch := func(round int, skipLedBy string) string {
		var b strings.Builder
		for d := range devices {
			if skipLedBy != "" && copies[model.GroupOf(fmt.Sprintf("d%02d", d), groups)][0] == skipLedBy {
				continue
			}
			for i := range 20 {
				ts := base + int64(round*1000+i)
				fmt.Fprintf(&b, "dev,device_id=d%02d,site=s%d v=%d,f=%g %d\n", d, d%3, round*100+i, float64(i)/7, ts)
			}
		}
		return b.String()
	}
	replicates := false
	for g := range groups {
		replicates = replicates || copies[g][1] == victimID
	}
	if !replicates {
		t.Fatalf("%s replicates no group: %v", victimID, copies)
	}
	for round := range 5 {
		writeRetrying(t, c.url(), batch(round, ""))
	}
	// The victim is killed under writes and comes back.
	victim.kill()
	for round := 5; round < 10; round++ {
		writeRetrying(t, c.url(), batch(round, victimID))
	}
	if err := victim.start(); err != nil {
		t.Fatal(err)
	}
	c.waitWhole()
	for round := 10; round < 13; round++ {
		writeRetrying(t, c.url(), batch(round, ""))
	}
	// The victim is killed again and misses writes, and the stream loses
	// everything it held (as its retention would): the victim cannot
	// replay what it missed, and its groups' replicas cannot follow the
	// fences it publishes when it comes back. Both copy the groups from
	// their primaries.
	victim.kill()
	for round := 13; round < 15; round++ {
		writeRetrying(t, c.url(), batch(round, victimID))
	}
	purgeStream(t, nats.URL(), "SOLTIX_e2e")
	if err := victim.start(); err != nil {
		t.Fatal(err)
	}
	c.waitWhole()
	for round := 15; round < 17; round++ {
		writeRetrying(t, c.url(), batch(round, ""))
	}

	// Another node loses its disk: it is killed, its groups are promoted
	// to their replicas, its data directory is wiped, and it comes back
	// empty. It copies every group it now replicates.
	wiped := c.nodes[2]
	wipedID := "s3"
	byID := map[string]*clusterProc{}
	for i, p := range c.nodes {
		byID["s"+strconv.Itoa(i+1)] = p
	}
	// (A replica still copying a group holds no consistent copy and is
	// not promoted: wait until every replica follows its primary.)
	waitReplicasCaughtUp(t, c, byID, groups)
	wiped.kill()
	deadline := time.Now().Add(60 * time.Second)
	for {
		leads := false
		for _, cp := range c.groupCopies() {
			leads = leads || cp[0] == wipedID
		}
		if !leads {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still leads groups 60 s after it was killed", wipedID)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := os.RemoveAll(filepath.Join(c.dir, wipedID)); err != nil {
		t.Fatal(err)
	}
	for round := 17; round < 19; round++ {
		writeRetrying(t, c.url(), batch(round, ""))
	}
	if err := wiped.start(); err != nil {
		t.Fatal(err)
	}
	c.waitWhole()
	writeRetrying(t, c.url(), batch(19, ""))

	// Deletes reach the replicas too.
	del := `DELETE FROM dev WHERE device_id = 'd03' AND time >= '2023-11-14T22:13:20Z' AND time < '2023-11-14T22:30:00Z'`
	resp, err = http.Post(c.url()+"/api/v1/query", "text/plain", strings.NewReader(del))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"rows":[[1]]`) {
		t.Fatalf("delete: %d %s", resp.StatusCode, body)
	}

	// Wait until every replica applied what its primary published.
	waitReplicasCaughtUp(t, c, byID, groups)
	// GET /api/v1/cluster shows each group's copies as their nodes report
	// them: the primary's last message, and every replica at it.
	resp, err = http.Get(c.url() + "/api/v1/cluster")
	if err != nil {
		t.Fatal(err)
	}
	var cst struct {
		Groups []struct {
			ID       int      `json:"id"`
			Primary  string   `json:"primary"`
			Replicas []string `json:"replicas"`
			Copies   []struct {
				Node    string `json:"node"`
				Role    string `json:"role"`
				Last    uint64 `json:"last"`
				Pending uint64 `json:"pending"`
			} `json:"copies"`
		} `json:"groups"`
	}
	err = json.NewDecoder(resp.Body).Decode(&cst)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range cst.Groups {
		var primaryLast uint64
		roles := map[string]string{}
		for _, cp := range g.Copies {
			roles[cp.Node] = cp.Role
			if cp.Role == "primary" {
				primaryLast = cp.Last
			}
		}
		if roles[g.Primary] != "primary" || len(g.Copies) != 1+len(g.Replicas) || primaryLast == 0 {
			t.Fatalf("group %d: copies %+v, want the primary %s and replicas %v", g.ID, g.Copies, g.Primary, g.Replicas)
		}
		for _, cp := range g.Copies {
			if cp.Role == "replica" && (cp.Last != primaryLast || cp.Pending != 0) {
				t.Errorf("group %d: replica %s at %d (%d pending), the primary at %d", g.ID, cp.Node, cp.Last, cp.Pending, primaryLast)
			}
		}
	}
	if n := metricValue(t, victim, "soltix_replication_copies_total"); n < 1 {
		t.Errorf("%s copied %v groups after it missed messages the stream no longer has", victimID, n)
	}

	// Stop every process and compare each group's data on its copies.
	copies = c.groupCopies()
	c.stopAll()
	compareCopies(t, c, copies, byID, groups, "dev", devices)
}

// purgeStream removes every message of a JetStream stream.
func purgeStream(t *testing.T, url, name string) {
	t.Helper()
	nc, err := natsgo.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := js.Stream(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Purge(ctx); err != nil {
		t.Fatal(err)
	}
}

// metricValue is one unlabelled sample of a process's /metrics (-1 when
// absent).
func metricValue(t *testing.T, p *clusterProc, name string) float64 {
	t.Helper()
	resp, err := http.Get(p.url() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	return -1
}

// waitReplicasCaughtUp waits until every group's replicas applied what its
// primary published, by their /metrics.
func waitReplicasCaughtUp(t *testing.T, c *cluster, byID map[string]*clusterProc, groups int) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		// The map is read again each round: a restart (of a node, or of
		// etcd, whose 2 s leases may lapse meanwhile) may promote a
		// replica while we wait, and the old primary then copies the
		// group back as a replica.
		copies := c.groupCopies()
		lag := ""
		seqs := map[string]map[string]uint64{}
		for id, p := range byID {
			seqs[id] = replicationSeqs(t, p)
		}
		for g := range groups {
			cp := copies[g]
			want := seqs[cp[0]][fmt.Sprintf("%d/primary", g)]
			if want == 0 {
				lag += fmt.Sprintf(" group %d: no lead on %s;", g, cp[0])
			}
			for _, r := range cp[1:] {
				if got := seqs[r][fmt.Sprintf("%d/replica", g)]; got != want {
					lag += fmt.Sprintf(" group %d: %s at %d, %s at %d;", g, cp[0], want, r, got)
				} else if seqs[r][fmt.Sprintf("%d/readable", g)] != 1 {
					lag += fmt.Sprintf(" group %d: %s at %d but not readable;", g, r, got)
				}
			}
		}
		if lag == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("replicas did not catch up:%s", lag)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// compareCopies opens every node's data directory (the processes stopped)
// and checks, by copies (the map's primary and replicas of each group), that each group's replicas answer queries on the group's
// devices (d00, d01, …) of collection coll exactly as its primary.
func compareCopies(t *testing.T, c *cluster, copies map[int][]string, byID map[string]*clusterProc, groups int, coll string, devices int) {
	t.Helper()
	dbs := map[string]*storage.DB{}
	for id := range byID {
		db, err := storage.Open(filepath.Join(c.dir, id), &storage.Options{NumGroups: groups, ShardTag: "device_id"})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		dbs[id] = db
	}
	compared := 0
	for g := range groups {
		var devs []string
		for d := range devices {
			dev := fmt.Sprintf("d%02d", d)
			if model.GroupOf(dev, groups) == g {
				devs = append(devs, "'"+dev+"'")
			}
		}
		if len(devs) == 0 {
			continue
		}
		in := strings.Join(devs, ", ")
		for _, q := range []string{
			"SELECT * FROM " + coll + " WHERE device_id IN (" + in + ")",
			"SELECT count(v), sum(v), last(v) FROM " + coll + " WHERE device_id IN (" + in + ") GROUP BY device_id",
			// Whole hours come from the 1h rollups each copy built itself.
			"SELECT count(v), sum(v), min(v), max(v) FROM " + coll + " WHERE device_id IN (" + in + ") GROUP BY 1h, device_id",
		} {
			stmt, err := query.Parse(q)
			if err != nil {
				t.Fatal(err)
			}
			var want *planner.Result
			for i, id := range copies[g] {
				res, err := planner.Execute(context.Background(), dbs[id], stmt, time.Now())
				if err != nil {
					t.Fatalf("%s on %s: %v", q, id, err)
				}
				res.Stats = nil
				if i == 0 {
					want = res
					if len(res.Rows) == 0 {
						t.Fatalf("group %d: the primary %s has no rows for %s", g, id, q)
					}
					continue
				}
				if !reflect.DeepEqual(res, want) {
					t.Fatalf("group %d: replica %s answers %s with %d rows, the primary %s with %d", g, id, q, len(res.Rows), copies[g][0], len(want.Rows))
				}
				compared++
			}
		}
	}
	if compared == 0 {
		t.Fatal("nothing compared")
	}
}
