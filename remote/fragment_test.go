package remote

import (
	"context"
	"fmt"
	"reflect"
	"testing"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/planner"
)

// fragQueries are aggregate queries the nodes aggregate themselves
// (planner's fragmentable): count, first and last of any field, and min,
// max, spread, sum and avg of integers, with conditions on tags and
// fields, GROUP BY tags, FILL, ORDER BY and LIMIT.
var fragQueries = []string{
	"SELECT count(f), count(i), count(s), min(i), max(i), sum(i), spread(i), first(f), last(f), first(s), last(b) FROM m",
	"SELECT count(i), sum(i), min(i), max(i) FROM m WHERE time >= '2024-01-15T07:00:00Z' AND time < '2025-08-01T00:00:00Z' GROUP BY time(1d) FILL(none)",
	"SELECT max(i), first(i), last(i) FROM m WHERE time >= '2024-02-09T00:00:00Z' AND time < '2024-02-12T00:00:00Z' GROUP BY time(1h), region FILL(previous)",
	"SELECT count(f), sum(i) FROM m WHERE i > 100 AND time >= '2024-01-01T00:00:00Z' AND time < '2025-01-01T00:00:00Z' GROUP BY time(7d) FILL(0)",
	"SELECT max(i) FROM m WHERE f > 100 OR region = 'eu' GROUP BY time(30d), device_id",
	"SELECT max(i) FROM m WHERE time < '2024-02-11T00:00:00Z' GROUP BY time(1m) ORDER BY time DESC LIMIT 5",
	"SELECT first(f), last(f), first(t), last(t) FROM tie",
	"SELECT first(t), last(t), count(t) FROM tie GROUP BY time(1h)",
	"SELECT count(rare), sum(rare) FROM m",
	"SELECT min(i), max(i) FROM m WHERE device_id = 'd03' GROUP BY time(1y)",
	"SELECT avg(i), mean(i), count(i) FROM m WHERE time >= '2024-02-09T00:00:00Z' AND time < '2024-02-12T00:00:00Z' GROUP BY time(1h), region FILL(linear)",
	"SELECT avg(i) FROM m WHERE i < 0 GROUP BY time(30d)",
	// Integer totals past 2^53 and 2^64 over devices on every node.
	"SELECT avg(n), avg(u), sum(n), max(u) FROM big GROUP BY time(1h)",
	"SELECT avg(n), mean(u) FROM big",
	"SELECT avg(n), avg(u) FROM big WHERE n > 0 GROUP BY time(2h), device_id",
}

// TestFragments checks that the nodes aggregate fragmentable queries
// themselves (the Aggregates counters move, one per node asked) and that
// the answers and statistics are those of a single DB holding every point.
func TestFragments(t *testing.T) {
	c := newCluster(t)
	pts := testPoints(7, 6000)
	pts = append(pts, model.Point{Collection: "m", Tags: model.Tags{{Key: rtShard, Value: "d00"}}, Time: tBase + 5,
		Fields: []model.Field{{Key: "rare", Value: model.Int(7)}}})
	// Values at the same times in series on different nodes: first and
	// last break the tie by series key.
	for d := range 12 {
		for k := range 3 {
			pts = append(pts, model.Point{Collection: "tie", Tags: model.Tags{{Key: rtShard, Value: fmt.Sprintf("t%02d", d)}},
				Time: tBase + int64(k)*3600e9, Fields: []model.Field{{Key: "t", Value: model.Int(int64(100*d + k))}, {Key: "f", Value: model.Float(float64(d))}}})
		}
	}
	// Integers whose hourly totals pass 2^53 (n) and 2^64 (u): the
	// average of their exact total, whichever node holds them.
	for d := range 12 {
		for k := range 40 {
			pts = append(pts, model.Point{Collection: "big", Tags: model.Tags{{Key: rtShard, Value: fmt.Sprintf("b%02d", d)}},
				Time: tBase + int64(k)*600e9 + int64(d), Fields: []model.Field{
					{Key: "n", Value: model.Int((int64(d*40+k)*0x9E3779B97F4A7C1 | 1) >> 4)},
					{Key: "u", Value: model.Uint(uint64(d*40+k)*0xBF58476D1CE4E5B9>>4 | 1)}}})
		}
	}
	c.write(t, pts[:3000])
	c.flush(t)
	c.write(t, pts[3000:])
	check := func(t *testing.T) {
		for _, q := range fragQueries {
			before := aggregatesOf(c.reader)
			want, werr := run(context.Background(), c.single, q, planner.Options{})
			got, gerr := run(context.Background(), c.reader, q, planner.Options{})
			if werr != nil || gerr != nil {
				t.Fatalf("%s: %v, want %v", q, gerr, werr)
			}
			if !reflect.DeepEqual(got.Rows, want.Rows) {
				t.Errorf("%s\n got %d rows %v\nwant %d rows %v", q, len(got.Rows), head(got.Rows), len(want.Rows), head(want.Rows))
			}
			if !reflect.DeepEqual(got.Stats, want.Stats) {
				t.Errorf("%s\nstats %+v, want %+v", q, got.Stats, want.Stats)
			}
			if n := aggregatesOf(c.reader) - before; n == 0 {
				t.Errorf("%s: no node aggregated a fragment", q)
			}
		}
	}
	t.Run("memory and files", check)
	c.flush(t)
	t.Run("flushed", check)

	// Queries the nodes must not aggregate: float sums and averages
	// depend on the order of additions; stddev and percentile need more.
	for _, q := range []string{
		"SELECT sum(f) FROM m GROUP BY time(30d)",
		"SELECT avg(f), max(i) FROM m",
		"SELECT stddev(i) FROM m",
		"SELECT percentile(i, 50) FROM m",
	} {
		before := aggregatesOf(c.reader)
		if _, err := run(context.Background(), c.reader, q, planner.Options{}); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		if n := aggregatesOf(c.reader) - before; n != 0 {
			t.Errorf("%s: %d fragments aggregated on nodes, want none", q, n)
		}
	}
}

// TestFragmentPointsLimit checks that the points limit holds over the
// nodes' fragments together, with serve's error.
func TestFragmentPointsLimit(t *testing.T) {
	c := newCluster(t)
	c.write(t, testPoints(3, 4000))
	q := "SELECT count(i), max(i) FROM m WHERE i > 0"
	_, werr := run(context.Background(), c.single, q, planner.Options{MaxPoints: 1000})
	_, gerr := run(context.Background(), c.reader, q, planner.Options{MaxPoints: 1000})
	if werr == nil || fmt.Sprint(gerr) != fmt.Sprint(werr) {
		t.Fatalf("error %v, want %v", gerr, werr)
	}
}

func aggregatesOf(c *Client) uint64 {
	var n uint64
	for _, m := range c.NodeMetrics() {
		n += m.Aggregates
	}
	return n
}

// TestFragmentCodec round-trips a fragment and a request.
func TestFragmentCodec(t *testing.T) {
	f := &planner.Fragment{Matched: true, MinT: -5, MaxT: 9, RawRead: true, Approx: 2, Points: 77,
		Groups: []planner.FragmentGroup{{Vals: []string{"eu", ""}, Buckets: []planner.FragmentBucket{{Lo: 0, Hi: 59, States: []planner.AggState{
			{N: 3}, {Seen: true, Kind: model.KindInt, I: -4, I2: 1 << 62}, {Seen: true, T: 7, V: model.String("x"), Key: "m,host=a"},
			{Kind: model.KindUint, U: 1 << 63, U2: 5}, {N: 4, I: -2, U: 1<<64 - 3}, {Seen: true, Kind: model.KindFloat, I: -7, Unsafe: true}}}}}}}
	f.Levels[model.LevelRaw] = planner.LevelStats{Points: 70, Blocks: 2}
	f.Levels[model.Level1h] = planner.LevelStats{Rows: 7}
	got, err := decodeFragment(encodeFragment(f))
	if err != nil || !reflect.DeepEqual(got, f) {
		t.Fatalf("decoded %+v, %v; want %+v", got, err, f)
	}
	b := encodeFragment(f)
	for i := range b {
		if _, err := decodeFragment(b[:i]); err == nil && i > 1 {
			t.Fatalf("a fragment cut at %d of %d bytes decoded", i, len(b))
		}
	}
}
