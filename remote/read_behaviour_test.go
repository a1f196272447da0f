package remote

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/planner"
	"github.com/soltixdb/soltix/query"
	"github.com/soltixdb/soltix/storage"
)

// deviceOn returns a device name whose group lives on node i, other than
// those in skip.
func deviceOn(i int, prefix string, skip ...string) string {
	for k := 0; ; k++ {
		d := fmt.Sprintf("%s%d", prefix, k)
		if nodeOf(model.GroupOf(d, rtGroups)) == i && !slices.Contains(skip, d) {
			return d
		}
	}
}

func queryCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestShardValues checks which WHERE clauses prune groups: never one that
// could hold a matching series.
func TestShardValues(t *testing.T) {
	cases := []struct {
		where string
		want  []string // nil: every group
	}{
		{"device_id = 'a'", []string{"a"}},
		{"device_id = 'a' AND f > 1", []string{"a"}},
		{"f > 1 AND time > 0 AND device_id = 'a'", []string{"a"}},
		{"device_id IN ('a', 'b')", []string{"a", "b"}},
		{"device_id = 'a' OR device_id = 'b'", []string{"a", "b"}},
		{"device_id = 'a' OR device_id IN ('b', 'c')", []string{"a", "b", "c"}},
		{"device_id = 'a' AND device_id = 'b'", []string{}},
		{"device_id IN ('a', 'b') AND device_id = 'b'", []string{"b"}},
		{"(device_id = 'a' OR device_id = 'b') AND region = 'eu'", []string{"a", "b"}},
		{"device_id = 'a' OR region = 'eu'", nil},
		{"device_id != 'a'", nil},
		{"device_id NOT IN ('a')", nil},
		{"device_id =~ /a/", nil},
		{"device_id !~ /a/", nil},
		{"device_id = ''", nil},
		{"device_id IN ('a', '')", nil},
		{"device_id > 'a'", nil},
		{"device_id = 5", nil},
		{"region = 'a'", nil},
		{"device_id BETWEEN 'a' AND 'b'", nil},
		{"time > 0", nil},
	}
	for _, c := range cases {
		stmt, err := query.Parse("SELECT f FROM m WHERE " + c.where)
		if err != nil {
			t.Fatalf("%s: %v", c.where, err)
		}
		got, ok := shardValues(stmt.Select.Where, "device_id")
		if c.want == nil {
			if ok {
				t.Errorf("%s: pruned to %q, want every group", c.where, got)
			}
			continue
		}
		slices.Sort(got)
		if !ok || !slices.Equal(got, c.want) {
			t.Errorf("%s: got %q (ok %v), want %q", c.where, got, ok, c.want)
		}
	}
}

// TestSessionsPerQuery: a one-device query opens one session with one
// node, an all-device query one per node, and nothing else is asked.
func TestSessionsPerQuery(t *testing.T) {
	c := newCluster(t)
	d0 := deviceOn(0, "x")
	d1 := deviceOn(1, "x")
	var pts []model.Point
	for _, d := range []string{d0, d1, deviceOn(2, "x")} {
		for i := 0; i < 50; i++ {
			pts = append(pts, model.Point{Collection: "m", Tags: model.Tags{{Key: rtShard, Value: d}}, Time: tBase + int64(i)*int64(time.Minute),
				Fields: []model.Field{{Key: "f", Value: model.Float(float64(i))}}})
		}
	}
	c.write(t, pts)
	cases := []struct {
		q    string
		want [3]uint64
	}{
		{fmt.Sprintf("SELECT count(f) FROM m WHERE device_id = '%s'", d0), [3]uint64{1, 0, 0}},
		{fmt.Sprintf("SELECT f FROM m WHERE device_id = '%s' AND time >= 0", d1), [3]uint64{0, 1, 0}},
		{fmt.Sprintf("SELECT f FROM m WHERE device_id IN ('%s', '%s')", d0, d1), [3]uint64{1, 1, 0}},
		{"SELECT count(f) FROM m GROUP BY time(1h), device_id", [3]uint64{1, 1, 1}},
		{"SELECT f FROM m", [3]uint64{1, 1, 1}},
	}
	for _, tc := range cases {
		before, cb := c.sessions()
		nb := make([]ServerMetrics, 3)
		for i, n := range c.nodes {
			nb[i] = n.Metrics()
		}
		want, err := run(queryCtx(t), c.single, tc.q, planner.Options{})
		if err != nil {
			t.Fatal(err)
		}
		got, err := run(queryCtx(t), c.reader, tc.q, planner.Options{})
		if err != nil {
			t.Fatalf("%s: %v", tc.q, err)
		}
		if !reflect.DeepEqual(got.Rows, want.Rows) || len(got.Rows) == 0 {
			t.Fatalf("%s: got %d rows, want %d", tc.q, len(got.Rows), len(want.Rows))
		}
		after, ca := c.sessions()
		for i := range 3 {
			if d := after[i] - before[i]; d != tc.want[i] {
				t.Errorf("%s: node n%d: %d sessions, want %d", tc.q, i, d, tc.want[i])
			}
			if d := c.nodes[i].Metrics().Fragments - nb[i].Fragments; d != tc.want[i] {
				t.Errorf("%s: node n%d served %d fragments, want %d", tc.q, i, d, tc.want[i])
			}
			if ca[i] != cb[i] {
				t.Errorf("%s: node n%d: %d catalog calls, want none", tc.q, i, ca[i]-cb[i])
			}
		}
	}
}

// TestStaleEpochRead: a node that holds a group at another epoch than the
// router's map answers 409; the router refreshes its map and asks again.
// A map that never agrees ends in a 503-class error after bounded retries.
func TestStaleEpochRead(t *testing.T) {
	c := newCluster(t)
	d := deviceOn(1, "s")
	g := model.GroupOf(d, rtGroups)
	c.write(t, []model.Point{{Collection: "m", Tags: model.Tags{{Key: rtShard, Value: d}}, Time: tBase, Fields: []model.Field{{Key: "f", Value: model.Float(1)}}}})
	r, _ := c.nodeTop[1].Route(g)
	r.Epoch = 2
	c.nodeTop[1].set(g, r) // the node moved on; the router has not
	c.topo.onRefresh = func(t *staticTopo) { t.set(g, r) }
	q := fmt.Sprintf("SELECT count(f) FROM m WHERE device_id = '%s'", d)
	got, err := run(queryCtx(t), c.reader, q, planner.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Rows) != 1 || got.Rows[0][1] != model.Int(1) || c.topo.refreshes != 1 {
		t.Fatalf("rows %v after %d refreshes, want one count of 1 after 1", got.Rows, c.topo.refreshes)
	}
	// Now the node moves again and the router's refreshes never catch up.
	r.Epoch = 3
	c.nodeTop[1].set(g, r)
	c.topo.onRefresh = nil
	c.topo.refreshes = 0
	_, err = run(queryCtx(t), c.reader, q, planner.Options{})
	if !errors.Is(err, storage.ErrUnavailable) || !strings.Contains(err.Error(), "stale epoch") {
		t.Fatalf("error %v, want unavailable (stale epoch)", err)
	}
	if c.topo.refreshes != maxStaleRetries {
		t.Fatalf("%d refreshes, want %d", c.topo.refreshes, maxStaleRetries)
	}
}

// TestNodeDownRead: a stopped node fails the queries needing its groups
// with an error naming them and the node; others still answer; with a
// Partial the answer leaves its groups out and says which.
func TestNodeDownRead(t *testing.T) {
	c := newCluster(t)
	pts := testPoints(3, 3000)
	c.write(t, pts)
	c.https[1].Close()
	down := []int{1, 4, 7, 10} // nodeOf(g) == 1
	_, err := run(queryCtx(t), c.reader, "SELECT count(f) FROM m", planner.Options{})
	if !errors.Is(err, storage.ErrUnavailable) {
		t.Fatalf("error %v, want one wrapping storage.ErrUnavailable", err)
	}
	var ue *UnavailableError
	if !errors.As(err, &ue) || !slices.Equal(ue.Groups, down) || !strings.Contains(err.Error(), "groups 1, 4, 7, 10 unavailable: node n1 (http://") {
		t.Fatalf("error %q, want groups %v and node n1 named", err, down)
	}
	// A device on another node still answers.
	q := fmt.Sprintf("SELECT count(f) FROM m WHERE device_id = '%s'", deviceOn(0, "d0", "d00"))
	if _, err := run(queryCtx(t), c.reader, q, planner.Options{}); err != nil {
		t.Fatalf("query on node n0: %v", err)
	}
	// partial: the answer of the other groups, and which are missing.
	var p planner.Partial
	got, err := run(queryCtx(t), c.reader, "SELECT count(f) FROM m GROUP BY device_id, host", planner.Options{Partial: &p})
	if err != nil {
		t.Fatal(err)
	}
	want, err := run(queryCtx(t), c.single, "SELECT count(f) FROM m GROUP BY device_id, host", planner.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var kept [][]model.Value
	for _, row := range want.Rows {
		tags := model.Tags{}
		if v := row[1].Str(); v != "" {
			tags = append(tags, model.Tag{Key: rtShard, Value: v})
		} else {
			tags = append(tags, model.Tag{Key: "host", Value: row[2].Str()})
		}
		if nodeOf(model.GroupOf(model.DeviceOf(model.SeriesKey("m", tags), tags, rtShard), rtGroups)) != 1 {
			kept = append(kept, row)
		}
	}
	if !reflect.DeepEqual(got.Rows, kept) || len(kept) == len(want.Rows) {
		t.Fatalf("partial answer %v, want %v", got.Rows, kept)
	}
	if groups, reasons := p.Missing(); !slices.Equal(groups, down) || len(reasons) != 1 || !strings.Contains(reasons[0], "node n1") {
		t.Fatalf("missing %v %q, want %v naming node n1", groups, reasons, down)
	}
	// SHOW needs every node too.
	if _, err := run(queryCtx(t), c.reader, "SHOW TAG VALUES FROM m WITH KEY = device_id", planner.Options{}); !errors.As(err, &ue) || !slices.Equal(ue.Groups, down) {
		t.Fatalf("SHOW with a node down: %v, want groups %v unavailable", err, down)
	}
	var ps planner.Partial
	if res, err := run(queryCtx(t), c.reader, "SHOW FIELDS FROM m", planner.Options{Partial: &ps}); err != nil || len(res.Rows) == 0 {
		t.Fatalf("partial SHOW FIELDS: %v %v", res, err)
	}
	if groups, _ := ps.Missing(); !slices.Equal(groups, down) {
		t.Fatalf("partial SHOW missing %v, want %v", groups, down)
	}
	// A group without a route is unavailable too.
	delete(c.topo.routes, 0)
	_, err = run(queryCtx(t), c.reader, "SELECT count(f) FROM m", planner.Options{Partial: nil})
	if !errors.As(err, &ue) || !slices.Contains(ue.Groups, 0) || !strings.Contains(err.Error(), "without a primary") {
		t.Fatalf("error %v, want group 0 without a primary", err)
	}
}

// cancelSink cancels the query on its first row.
type cancelSink struct {
	cancel context.CancelFunc
	rows   int
}

func (s *cancelSink) Columns([]string, int) error { return nil }
func (s *cancelSink) Row([]model.Value) error {
	s.rows++
	s.cancel()
	return nil
}

// TestCancelReachesNode: a query cancelled while a node is still sending
// (held back by HTTP/2 flow control) ends the node's work, which counts it
// as a cancelled fragment.
func TestCancelReachesNode(t *testing.T) {
	c := newCluster(t)
	small, big := deviceOn(2, "a"), deviceOn(2, "b")
	pts := []model.Point{{Collection: "m", Tags: model.Tags{{Key: rtShard, Value: small}}, Time: tBase, Fields: []model.Field{{Key: "f", Value: model.Float(1)}}}}
	for i := 0; i < 100000; i++ {
		pts = append(pts, model.Point{Collection: "m", Tags: model.Tags{{Key: rtShard, Value: big}}, Time: tBase + int64(i)*int64(time.Second),
			Fields: []model.Field{{Key: "f", Value: model.Float(float64(i) * 1.5)}}})
	}
	if err := c.dbs[2].Write(context.Background(), pts); err != nil {
		t.Fatal(err)
	}
	// A small receive window, so that the node cannot send ahead much.
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	r2, _ := c.topo.Route(2)
	nc := c.reader.node(r2)
	nc.http = &http.Client{Transport: &http.Transport{Protocols: &p, HTTP2: &http.HTTP2Config{MaxReceiveBufferPerStream: 64 << 10, MaxReceiveBufferPerConnection: 64 << 10}}}
	ctx, cancel := context.WithCancel(queryCtx(t))
	stmt, err := query.Parse(fmt.Sprintf("SELECT f FROM m WHERE device_id IN ('%s', '%s') GROUP BY device_id", small, big))
	if err != nil {
		t.Fatal(err)
	}
	sink := &cancelSink{cancel: cancel}
	_, err = planner.ExecuteStream(ctx, c.reader, stmt, planner.Options{Now: testNow}, sink)
	if !errors.Is(err, context.Canceled) || sink.rows != 1 {
		t.Fatalf("error %v after %d rows, want context.Canceled after 1", err, sink.rows)
	}
	wait := queryCtx(t)
	for c.nodes[2].Metrics().FragmentsCancelled != 1 {
		select {
		case <-wait.Done():
			t.Fatalf("node n2 counted %d cancelled fragments, want 1", c.nodes[2].Metrics().FragmentsCancelled)
		case <-time.After(5 * time.Millisecond):
		}
	}
	if m := c.nodes[2].Metrics(); m.Fragments != 1 || m.BytesSent > 1<<20 {
		t.Fatalf("node n2: %d fragments, %d bytes sent; want 1 fragment and far less than the series' 1 MB", m.Fragments, m.BytesSent)
	}
}

// TestSummariesOnTheWire: a GROUP BY over rollups moves summaries, not
// values: far fewer bytes than the same query over raw data, and the same
// answer as a single node.
func TestSummariesOnTheWire(t *testing.T) {
	c := newCluster(t)
	// Three devices, a point a minute for 20 days.
	var pts []model.Point
	for d := range 3 {
		tags := model.Tags{{Key: rtShard, Value: fmt.Sprintf("d%02d", d)}, {Key: "region", Value: []string{"eu", "us"}[d%2]}}
		for i := 0; i < 20*24*60; i++ {
			pts = append(pts, model.Point{Collection: "m", Tags: tags, Time: tBase + int64(i)*int64(time.Minute),
				Fields: []model.Field{{Key: "f", Value: model.Float(float64(i%977) * 0.25)}}})
		}
	}
	c.write(t, pts)
	c.flush(t)
	bytesRecv := func() (n uint64) {
		for _, m := range c.reader.NodeMetrics() {
			n += m.BytesReceived
		}
		return n
	}
	q := "SELECT count(f), sum(f), min(f), max(f) FROM m GROUP BY time(1d), region"
	var got [2]*planner.Result
	var bytes [2]uint64
	for i, raw := range []bool{false, true} {
		before := bytesRecv()
		res, err := run(queryCtx(t), c.reader, q, planner.Options{RawOnly: raw})
		if err != nil {
			t.Fatal(err)
		}
		got[i], bytes[i] = res, bytesRecv()-before
		want, err := run(queryCtx(t), c.single, q, planner.Options{RawOnly: raw})
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(res.Rows, want.Rows) || !reflect.DeepEqual(res.Stats, want.Stats) {
			t.Fatalf("raw=%v: answer differs from a single node", raw)
		}
	}
	t.Logf("bytes received: %d with rollups, %d from raw data", bytes[0], bytes[1])
	if bytes[0]*50 > bytes[1] {
		t.Fatalf("%d bytes with rollups, %d from raw data: want at most a fiftieth", bytes[0], bytes[1])
	}
}

// TestReadByteLimit: the router refuses to hold more than the query's
// byte limit.
func TestReadByteLimit(t *testing.T) {
	c := newCluster(t)
	c.write(t, testPoints(5, 4000))
	_, err := run(queryCtx(t), c.reader, "SELECT * FROM m GROUP BY device_id", planner.Options{MaxBytes: 4 << 10})
	var le *planner.LimitError
	if !errors.As(err, &le) || le.Setting != planner.SettingMaxBytes {
		t.Fatalf("error %v, want a limit error on %s", err, planner.SettingMaxBytes)
	}
	_, err = run(queryCtx(t), c.reader, "SELECT count(f) FROM m", planner.Options{MaxPoints: 10})
	if !errors.As(err, &le) || le.Setting != planner.SettingMaxPoints {
		t.Fatalf("error %v, want a limit error on %s", err, planner.SettingMaxPoints)
	}
}

// TestExplainNodes: EXPLAIN through the router names the nodes each
// segment reads.
func TestExplainNodes(t *testing.T) {
	c := newCluster(t)
	c.write(t, testPoints(6, 2000))
	d := deviceOn(1, "d0", "d00")
	res, err := run(queryCtx(t), c.reader, fmt.Sprintf("EXPLAIN SELECT count(f) FROM m WHERE device_id IN ('d00', '%s')", d), planner.Options{})
	if err != nil {
		t.Fatal(err)
	}
	n00 := fmt.Sprintf("n%d", nodeOf(model.GroupOf("d00", rtGroups)))
	want := []string{n00, "n1"}
	slices.Sort(want)
	last := len(res.Columns) - 1
	if res.Columns[last] != "nodes" || len(res.Rows) == 0 || res.Rows[0][last].Str() != strings.Join(slices.Compact(want), ",") {
		t.Fatalf("columns %v rows %v, want a nodes column %v", res.Columns, res.Rows, want)
	}
}

// TestStreamedSeries: series larger than the query's byte limit are read
// through the router in chunks as the plan consumes them (ascending, and
// descending for ORDER BY time DESC; two series a raw select merges by
// time arrive merged), and answer like a single node.
func TestStreamedSeries(t *testing.T) {
	c := newCluster(t)
	var pts []model.Point
	tags := model.Tags{{Key: rtShard, Value: "big"}}
	for i := 0; i < 300000; i++ {
		pts = append(pts, model.Point{Collection: "m", Tags: tags, Time: tBase + int64(i)*int64(time.Second),
			Fields: []model.Field{{Key: "f", Value: model.Float(float64(i%1000) - 10)}}})
	}
	// A second series on the same node, as big, for a raw select merging
	// both by time.
	other := deviceOn(nodeOf(model.GroupOf("big", rtGroups)), "big", "big")
	for i := 0; i < 300000; i++ {
		pts = append(pts, model.Point{Collection: "m", Tags: model.Tags{{Key: rtShard, Value: other}}, Time: tBase + int64(i)*int64(time.Second) + 500,
			Fields: []model.Field{{Key: "f", Value: model.Float(float64(i%997) - 10)}}})
	}
	c.write(t, pts)
	// Each series is about 3.9 MB on the wire, in chunks of 65,536 rows
	// (0.85 MB): the router holds two per series at most.
	opts := planner.Options{MaxBytes: 7 << 19}
	// The nodes would filter the raw selects' rows themselves and ship
	// little (filter_proto.go): the streaming is tested without that.
	pushFilters = false
	defer func() { pushFilters = true }()
	queries := []string{
		fmt.Sprintf("SELECT f FROM m WHERE device_id IN ('big', '%s') AND f > 980", other),
		fmt.Sprintf("SELECT f FROM m WHERE device_id IN ('big', '%s') AND f > 980 ORDER BY time DESC", other),
		"SELECT count(f), min(f) FROM m WHERE device_id = 'big' AND f > -5 GROUP BY time(1h)",
		"SELECT f FROM m WHERE device_id = 'big' AND f > 985 ORDER BY time DESC LIMIT 3000",
	}
	for _, q := range queries {
		want, err := run(queryCtx(t), c.single, q, opts)
		if err != nil {
			t.Fatal(err)
		}
		got, err := run(queryCtx(t), c.reader, q, opts)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		if !reflect.DeepEqual(got.Rows, want.Rows) || len(got.Rows) == 0 {
			t.Fatalf("%s: %d rows, want %d", q, len(got.Rows), len(want.Rows))
		}
	}
	var recv uint64
	for _, m := range c.reader.NodeMetrics() {
		recv += m.BytesReceived
	}
	if recv < 8<<20 {
		t.Fatalf("%d bytes received: the test needs more than twice the limit to mean something", recv)
	}
	// And filtered on the nodes, the same answers.
	pushFilters = true
	for _, q := range queries {
		want, err := run(queryCtx(t), c.single, q, opts)
		if err != nil {
			t.Fatal(err)
		}
		got, err := run(queryCtx(t), c.reader, q, opts)
		if err != nil || !reflect.DeepEqual(got.Rows, want.Rows) || !reflect.DeepEqual(got.Stats, want.Stats) {
			t.Fatalf("%s filtered on the nodes: %v, %d rows, want %d", q, err, len(got.Rows), len(want.Rows))
		}
	}
}

// TestUnpreparedRead: a summary the planner cannot use exactly (avg of
// integers whose block sums may have wrapped: 16 values near 2^60) is read
// again as values; the router asks for them in the same session and
// answers like a single node. sum(f), of a float, keeps the nodes from
// aggregating the query themselves (TestFragments).
func TestUnpreparedRead(t *testing.T) {
	c := newCluster(t)
	d := deviceOn(0, "u")
	var pts []model.Point
	for i := 0; i < 2000; i++ {
		pts = append(pts, model.Point{Collection: "m", Tags: model.Tags{{Key: rtShard, Value: d}}, Time: tBase + int64(i)*int64(time.Minute),
			Fields: []model.Field{{Key: "i", Value: model.Int(1<<60 + int64(i))}, {Key: "f", Value: model.Float(float64(i))}}})
	}
	c.write(t, pts)
	c.flush(t)
	q := fmt.Sprintf("SELECT avg(i), count(i), sum(f) FROM m WHERE device_id = '%s' GROUP BY time(1d)", d)
	want, err := run(queryCtx(t), c.single, q, planner.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s0, _ := c.sessions()
	got, err := run(queryCtx(t), c.reader, q, planner.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Rows, want.Rows) || !reflect.DeepEqual(got.Stats, want.Stats) || len(got.Rows) == 0 {
		t.Fatalf("rows %v stats %+v, want %v %+v", got.Rows, got.Stats, want.Rows, want.Stats)
	}
	s1, _ := c.sessions()
	var unprepared uint64
	for _, m := range c.reader.NodeMetrics() {
		unprepared += m.Unprepared
	}
	if unprepared == 0 || s1[0]-s0[0] != 1 {
		t.Fatalf("%d unprepared reads in %d sessions, want some in 1", unprepared, s1[0]-s0[0])
	}
}

// TestSeriesListCache: a repeated query does not move the series lists
// again, and a new series is seen at once.
func TestSeriesListCache(t *testing.T) {
	c := newCluster(t)
	var pts []model.Point
	for d := range 300 {
		pts = append(pts, model.Point{Collection: "m", Tags: model.Tags{{Key: rtShard, Value: fmt.Sprintf("device-%04d", d)}, {Key: "rack", Value: fmt.Sprintf("rack-%02d", d%40)}},
			Time: tBase + int64(d), Fields: []model.Field{{Key: "f", Value: model.Float(float64(d))}}})
	}
	c.write(t, pts)
	recv := func() (n uint64) {
		for _, m := range c.reader.NodeMetrics() {
			n += m.BytesReceived
		}
		return n
	}
	q := "SELECT count(f) FROM m WHERE rack = 'rack-07' GROUP BY device_id"
	var bytes []uint64
	for i := 0; i < 3; i++ {
		if i == 2 {
			c.write(t, []model.Point{{Collection: "m", Tags: model.Tags{{Key: rtShard, Value: "fresh"}}, Time: tBase,
				Fields: []model.Field{{Key: "f", Value: model.Float(1)}}}})
		}
		before := recv()
		want, err := run(queryCtx(t), c.single, q, planner.Options{})
		if err != nil {
			t.Fatal(err)
		}
		got, err := run(queryCtx(t), c.reader, q, planner.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got.Rows, want.Rows) {
			t.Fatalf("query %d: %v, want %v", i, got.Rows, want.Rows)
		}
		bytes = append(bytes, recv()-before)
	}
	t.Logf("bytes received: %v", bytes)
	if bytes[1]*2 > bytes[0] || bytes[2] <= bytes[1] {
		t.Fatalf("bytes received %v: want the second query to move less than half of the first, the third (a new series) more than the second", bytes)
	}
}
