package remote

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/planner"
)

// unprepared sums the reads the router asked for outside a prepared fetch.
func (c *cluster) unprepared() (n uint64) {
	for _, m := range c.reader.NodeMetrics() {
		n += m.Unprepared
	}
	return n
}

func (c *cluster) bytesReceived() (n uint64) {
	for _, m := range c.reader.NodeMetrics() {
		n += m.BytesReceived
	}
	return n
}

// TestReduceOnTheWire: a GROUP BY over raw values whose aggregates merge
// exactly (count, min, max, first, last of floats; sum and avg of
// integers) makes the nodes send a summary per bucket instead of the
// values, with the same rows and statistics as a single node and no extra
// round trip; sum and avg of floats are not reduced (their values depend
// on the order of the additions). In memory and after a flush (block
// statistics cover part of the buckets).
func TestReduceOnTheWire(t *testing.T) {
	c := newCluster(t)
	// Six devices, a point every 10 s for two days.
	var pts []model.Point
	for d := range 6 {
		tags := model.Tags{{Key: rtShard, Value: fmt.Sprintf("d%02d", d)}, {Key: "region", Value: []string{"eu", "us"}[d%2]}}
		for i := 0; i < 2*8640; i++ {
			pts = append(pts, model.Point{Collection: "m", Tags: tags, Time: tBase + int64(i)*int64(10*time.Second),
				Fields: []model.Field{{Key: "f", Value: model.Float(float64((i*7+d)%1013) * 0.1)}, {Key: "i", Value: model.Int(int64((i*13+d)%2001) - 1000)}}})
		}
	}
	c.write(t, pts)
	queries := []struct {
		q      string
		reduce bool
	}{
		{"SELECT count(f), min(f), max(f), first(f), last(f), spread(f) FROM m GROUP BY time(1h), region", true},
		{"SELECT sum(i), min(i), max(i), count(i) FROM m WHERE time >= '2024-01-01T05:30:00Z' GROUP BY time(10m)", true},
		{"SELECT avg(i), max(i) FROM m GROUP BY time(10m)", true},
		{"SELECT count(f), min(f), max(f), first(f), last(f), spread(f), sum(f) FROM m GROUP BY time(1h), region", false},
		{"SELECT avg(f) FROM m GROUP BY time(10m)", false},
		{"SELECT stddev(i) FROM m GROUP BY time(1h)", false},
		{"SELECT count(f), max(i) FROM m WHERE i > 0 GROUP BY time(1h)", false},
	}
	for _, flushed := range []bool{false, true} {
		if flushed {
			c.flush(t)
		}
		var bytes [2]uint64 // the first query, and the same with sum(f) (not reduced)
		for k, tc := range queries {
			before, unprep := c.bytesReceived(), c.unprepared()
			opts := planner.Options{RawOnly: true}
			got, err := run(queryCtx(t), c.reader, tc.q, opts)
			if err != nil {
				t.Fatal(err)
			}
			want, err := run(queryCtx(t), c.single, tc.q, opts)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got.Rows, want.Rows) || !reflect.DeepEqual(got.Stats, want.Stats) {
				t.Fatalf("flushed=%v %s: answer differs from a single node:\n%v %+v\nwant\n%v %+v", flushed, tc.q, got.Rows, got.Stats, want.Rows, want.Stats)
			}
			if d := c.unprepared() - unprep; d != 0 {
				t.Fatalf("flushed=%v %s: %d unprepared reads", flushed, tc.q, d)
			}
			switch k {
			case 0:
				bytes[0] = c.bytesReceived() - before
			case 3:
				bytes[1] = c.bytesReceived() - before
			}
		}
		t.Logf("flushed=%v: %d bytes received reduced, %d with sum(f) added", flushed, bytes[0], bytes[1])
		if bytes[0]*10 > bytes[1] {
			t.Fatalf("flushed=%v: %d bytes reduced, %d as values: want at most a tenth", flushed, bytes[0], bytes[1])
		}
	}
}

// TestReduceKeepsFloatSumOrder: a float sum over two series in one bucket
// where adding the second series' values one at a time onto the first's
// total differs from adding their sum: the router gives the single node's
// answer, so the node did not reduce them. An average of integers there is
// reduced and still the single node's answer (its total is exact).
func TestReduceKeepsFloatSumOrder(t *testing.T) {
	c := newCluster(t)
	var pts []model.Point
	a := model.Tags{{Key: rtShard, Value: "a"}}
	b := model.Tags{{Key: rtShard, Value: "b"}}
	pts = append(pts, model.Point{Collection: "m", Tags: a, Time: tBase, Fields: []model.Field{{Key: "f", Value: model.Float(1e16)}, {Key: "i", Value: model.Int(1 << 53)}}})
	for i := range 40 {
		pts = append(pts, model.Point{Collection: "m", Tags: b, Time: tBase + int64(i+1)*int64(time.Second), Fields: []model.Field{{Key: "f", Value: model.Float(1)}, {Key: "i", Value: model.Int(1)}}})
	}
	c.write(t, pts)
	for _, q := range []string{
		"SELECT sum(f), count(f), max(f) FROM m GROUP BY time(1h)",
		"SELECT avg(f), min(f) FROM m GROUP BY time(1h)",
		"SELECT avg(i), sum(i), max(i) FROM m GROUP BY time(1h)",
	} {
		got, err := run(queryCtx(t), c.reader, q, planner.Options{RawOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		want, err := run(queryCtx(t), c.single, q, planner.Options{RawOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got.Rows, want.Rows) || !reflect.DeepEqual(got.Stats, want.Stats) {
			t.Fatalf("%s: %v, want %v", q, got.Rows, want.Rows)
		}
	}
	// The test can fail: the sum by summaries is another number.
	if 1e16+40.0 == func() float64 {
		s := 1e16
		for range 40 {
			s++
		}
		return s
	}() {
		t.Fatal("the values do not tell the two orders apart")
	}
}

// TestReduceIntAvg: avg of integer and unsigned fields whose bucket totals
// pass 2^53 (the old float64 total rounded there; an hour of u sums past
// 2^64 over the devices) is reduced on the nodes
// to a summary per series and bucket: the same rows and statistics as a
// single node, no extra round trip, and at most a tenth of the bytes of a
// field whose sums may wrap (near 2^62), which the nodes send as values.
// In memory and after a flush. Each query has a sum of a float, which the
// nodes cannot aggregate as a fragment (TestFragments), so that the series
// are read one by one, reduced.
func TestReduceIntAvg(t *testing.T) {
	c := newCluster(t)
	r := rand.New(rand.NewPCG(8, 9))
	var pts []model.Point
	for d := range 6 {
		tags := model.Tags{{Key: rtShard, Value: fmt.Sprintf("d%02d", d)}, {Key: "region", Value: []string{"eu", "us"}[d%2]}}
		for i := range 8640 {
			w := int64(1<<62) - r.Int64N(1000)
			if r.IntN(2) == 0 {
				w = -w
			}
			pts = append(pts, model.Point{Collection: "m", Tags: tags, Time: tBase + int64(i)*int64(10*time.Second),
				Fields: []model.Field{
					{Key: "i", Value: model.Int(r.Int64N(1<<53) - 1<<52 | 1)},
					{Key: "u", Value: model.Uint(r.Uint64() >> 10)},
					{Key: "w", Value: model.Int(w)},
					{Key: "f", Value: model.Float(float64(i % 7))},
				}})
		}
	}
	// One float: its sum keeps the queries from being aggregated as
	// fragments, and it costs few bytes.
	pts = append(pts, model.Point{Collection: "m", Tags: model.Tags{{Key: rtShard, Value: "d00"}, {Key: "region", Value: "eu"}},
		Time: tBase + 5, Fields: []model.Field{{Key: "x", Value: model.Float(0.5)}}})
	c.write(t, pts)
	queries := []string{
		"SELECT avg(i), avg(u), sum(x) FROM m GROUP BY time(1h)",
		"SELECT avg(w), sum(x) FROM m GROUP BY time(1h)",
		"SELECT avg(i), count(i), min(i), mean(u), max(u), max(f) FROM m WHERE time >= '2024-01-01T05:30:00Z' GROUP BY time(10m), region",
		"SELECT avg(u), sum(u), avg(w), avg(i), avg(f) FROM m GROUP BY time(2h)",
	}
	for _, flushed := range []bool{false, true} {
		if flushed {
			c.flush(t)
		}
		var bytes [2]uint64
		for k, q := range queries {
			before, unprep := c.bytesReceived(), c.unprepared()
			opts := planner.Options{RawOnly: true}
			got, err := run(queryCtx(t), c.reader, q, opts)
			if err != nil {
				t.Fatal(err)
			}
			want, err := run(queryCtx(t), c.single, q, opts)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got.Rows, want.Rows) || !reflect.DeepEqual(got.Stats, want.Stats) {
				t.Fatalf("flushed=%v %s: answer differs from a single node:\n%v %+v\nwant\n%v %+v", flushed, q, got.Rows, got.Stats, want.Rows, want.Stats)
			}
			if len(got.Rows) == 0 {
				t.Fatalf("flushed=%v %s: no rows", flushed, q)
			}
			// w's block statistics may have wrapped: the router reads
			// their values again (as TestUnpreparedRead shows). In
			// memory the nodes must not reduce w's values at all.
			if d := c.unprepared() - unprep; d != 0 && !(flushed && strings.Contains(q, "(w)")) {
				t.Fatalf("flushed=%v %s: %d unprepared reads", flushed, q, d)
			}
			if k < 2 {
				bytes[k] = c.bytesReceived() - before
			}
		}
		t.Logf("flushed=%v: %d bytes received for avg(i), avg(u) reduced, %d for avg(w) as values", flushed, bytes[0], bytes[1])
		if bytes[0]*10 > bytes[1] {
			t.Fatalf("flushed=%v: %d bytes reduced, %d as values: want at most a tenth", flushed, bytes[0], bytes[1])
		}
	}
}
