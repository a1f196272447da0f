package replication

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/soltixdb/soltix/internal/natstest"
	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/planner"
	"github.com/soltixdb/soltix/query"
	"github.com/soltixdb/soltix/remote"
	"github.com/soltixdb/soltix/storage"
)

const dbGroups = 4

func openDB(t *testing.T, dir string) *storage.DB {
	t.Helper()
	db, err := storage.Open(dir, &storage.Options{NumGroups: dbGroups, ShardTag: "device_id"})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// devicePoints returns n points of every device, some fields integers and
// some floats, at times from t0.
func devicePoints(devices, n int, t0 int64) map[int][]model.Point {
	by := map[int][]model.Point{}
	for d := range devices {
		dev := fmt.Sprintf("dev%02d", d)
		g := model.GroupOf(dev, dbGroups)
		for i := range n {
			by[g] = append(by[g], model.Point{Collection: "m", Tags: model.Tags{{Key: "device_id", Value: dev}},
				Time:   t0 + int64(i)*int64(time.Second),
				Fields: []model.Field{{Key: "i", Value: model.Int(int64(d*1000 + i))}, {Key: "f", Value: model.Float(float64(i) / 3)}}})
		}
	}
	return by
}

// answers runs the differential queries on a DB.
func answers(t *testing.T, db *storage.DB) []*planner.Result {
	t.Helper()
	var out []*planner.Result
	for _, q := range []string{
		"SELECT count(i), sum(i), min(f), max(f) FROM m GROUP BY device_id",
		"SELECT * FROM m WHERE device_id = 'dev03'",
		"SELECT count(f) FROM m GROUP BY time(1m)",
		"SHOW TAG VALUES FROM m WITH KEY = device_id",
	} {
		stmt, err := query.Parse(q)
		if err != nil {
			t.Fatal(err)
		}
		res, err := planner.Execute(context.Background(), db, stmt, time.Unix(1e9, 0))
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		res.Stats = nil // what was read differs (files, memory); the answer may not
		out = append(out, res)
	}
	return out
}

// TestReplicaMatchesPrimary: writes and deletes applied on a primary's
// storage through its NodeReplication reach a replica's storage, which then
// answers every query exactly as the primary, also after the replica is
// closed and reopened (its position survives) while writes go on.
func TestReplicaMatchesPrimary(t *testing.T) {
	srv := natstest.Start(t)
	m := newTestMap(dbGroups, "n1", "n2")
	pdb := openDB(t, t.TempDir())
	defer pdb.Close()
	rdir := t.TempDir()
	rdb := openDB(t, rdir)
	n1 := open(t, srv, "n1").RunNode(NodeOptions{Map: m, Store: DBStore{pdb}, Interval: 100 * time.Millisecond})
	defer n1.Close()
	r2 := open(t, srv, "n2")
	n2 := r2.RunNode(NodeOptions{Map: m, Store: DBStore{rdb}, Interval: 100 * time.Millisecond})
	waitLeading(t, n1, dbGroups, 1)

	write := func(by map[int][]model.Point) {
		t.Helper()
		var ws []remote.GroupWrite
		var all []model.Point
		for g, ps := range by {
			ws = append(ws, remote.GroupWrite{Group: g, Epoch: 1, Points: ps})
			all = append(all, ps...)
		}
		wait, err := n1.Write(ctx(t), ws, func() error { return pdb.Write(context.Background(), all) })
		if err != nil {
			t.Fatal(err)
		}
		if err := wait(ctx(t)); err != nil {
			t.Fatal(err)
		}
	}
	const t0 = int64(1e18)
	for i := range 5 {
		write(devicePoints(10, 30, t0+int64(i)*int64(time.Hour)))
	}
	// A rewrite of existing points (last write wins) and a delete.
	rewrite := devicePoints(3, 10, t0)
	for _, ps := range rewrite {
		for i := range ps {
			ps[i].Fields = []model.Field{{Key: "i", Value: model.Int(-7)}}
		}
	}
	write(rewrite)
	dev := model.Tags{{Key: "device_id", Value: "dev05"}}
	g5 := model.GroupOf("dev05", dbGroups)
	wait, err := n1.Delete(ctx(t), "m", []remote.GroupDelete{{Group: g5, Epoch: 1, Series: []model.Tags{dev}}},
		t0, t0+int64(20*time.Second), func() error {
			return pdb.Delete(context.Background(), "m", []model.Tags{dev}, t0, t0+int64(20*time.Second))
		})
	if err != nil {
		t.Fatal(err)
	}
	if err := wait(ctx(t)); err != nil {
		t.Fatal(err)
	}
	caughtUp := func(n *NodeReplication) {
		t.Helper()
		c := ctx(t)
		for {
			done := true
			for _, st := range n1.Status() {
				if st.Role != "primary" {
					continue
				}
				var applied uint64
				for _, rs := range n.Status() {
					if rs.Group == st.Group && rs.Role == "replica" {
						applied = rs.Last
					}
				}
				if applied < st.Last {
					done = false
				}
			}
			if done {
				return
			}
			select {
			case <-c.Done():
				t.Fatalf("replica did not catch up: primary %+v, replica %+v", n1.Status(), n.Status())
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	caughtUp(n2)
	if want, got := answers(t, pdb), answers(t, rdb); !reflect.DeepEqual(want, got) {
		t.Fatalf("replica answers differ from the primary's:\n got %v\nwant %v", got, want)
	}

	// The replica stops and its storage restarts; writes go on meanwhile.
	n2.Close()
	if err := rdb.Close(); err != nil {
		t.Fatal(err)
	}
	write(devicePoints(10, 5, t0+int64(10*time.Hour)))
	rdb = openDB(t, rdir)
	defer rdb.Close()
	for g := range dbGroups {
		if rdb.Applied(g) == 0 {
			t.Errorf("group %d: the replica's position did not survive its restart", g)
		}
	}
	n2 = r2.RunNode(NodeOptions{Map: m, Store: DBStore{rdb}, Interval: 100 * time.Millisecond})
	defer n2.Close()
	write(devicePoints(12, 5, t0+int64(11*time.Hour)))
	caughtUp(n2)
	if err := rdb.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if want, got := answers(t, pdb), answers(t, rdb); !reflect.DeepEqual(want, got) {
		t.Fatalf("after the replica's restart and a flush, answers differ:\n got %v\nwant %v", got, want)
	}
}
