package remote

import (
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/remote/wire"
	"github.com/soltixdb/soltix/storage"
)

// TestDropPoints: the points a node's series limit refuses leave their
// frames (a frame left empty goes), and an index into the points kept maps
// back to the request's.
func TestDropPoints(t *testing.T) {
	mk := func(ts ...int64) []model.Point {
		var ps []model.Point
		for _, v := range ts {
			ps = append(ps, model.Point{Collection: "m", Time: v})
		}
		return ps
	}
	all := mk(0, 1, 2, 3, 4, 5)
	frames := []wire.Frame{{Group: 1, Epoch: 7, Points: all[0:2]}, {Group: 2, Epoch: 8, Points: all[2:3]}, {Group: 3, Epoch: 9, Points: all[3:6]}}
	for _, tc := range []struct {
		drop   []int
		times  []int64
		groups []uint32
	}{
		{nil, []int64{0, 1, 2, 3, 4, 5}, []uint32{1, 2, 3}},
		{[]int{2}, []int64{0, 1, 3, 4, 5}, []uint32{1, 3}},
		{[]int{0, 4, 5}, []int64{1, 2, 3}, []uint32{1, 2, 3}},
		{[]int{0, 1, 2, 3, 4, 5}, nil, nil},
	} {
		points, fs := dropPoints(frames, len(all), tc.drop)
		var times []int64
		for _, p := range points {
			times = append(times, p.Time)
		}
		var groups []uint32
		var inFrames []int64
		for _, f := range fs {
			groups = append(groups, f.Group)
			for _, p := range f.Points {
				inFrames = append(inFrames, p.Time)
			}
		}
		if !slices.Equal(times, tc.times) || !slices.Equal(inFrames, tc.times) || !slices.Equal(groups, tc.groups) {
			t.Errorf("drop %v: points %v, in frames %v, groups %v; want %v in groups %v", tc.drop, times, inFrames, groups, tc.times, tc.groups)
		}
		for i, p := range points {
			if j := keptIndex(i, tc.drop); all[j].Time != p.Time {
				t.Errorf("drop %v: kept point %d maps to %d", tc.drop, i, j)
			}
		}
	}
}

// TestWriteSeriesLimit: two nodes, each admitting 2 new series of a
// collection per minute, on a clock that stands still. A batch of 10 new
// devices (2 points each) through the client: each node stores the first
// 2 devices of its request and refuses the others' points, and the
// client's *storage.SeriesLimitError names exactly the points not stored,
// as indexes into the batch. The same batch again stores nothing more
// (stored series always go in, new ones find the buckets empty), and a
// batch of only new devices is refused whole. A minute later the buckets
// are full again.
func TestWriteSeriesLimit(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	var mu sync.Mutex
	clock := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return now
	}
	m := newTestMap(8)
	nodes := []*testNode{
		startNode(t, m, "n1", NodeOptions{NewSeriesPerMinute: 2, Now: clock}),
		startNode(t, m, "n2", NodeOptions{NewSeriesPerMinute: 2, Now: clock}),
	}
	m.spread(nodes...)
	c, _ := newTestClient(t, m, ClientOptions{})
	ctx := testContext(t)
	batch := devicePoints(0, 10, 2)
	stored := func() map[string]bool {
		out := map[string]bool{}
		for _, n := range nodes {
			for _, d := range devicesOn(t, n, 2) {
				out[d] = true
			}
		}
		return out
	}
	check := func(phase string, ps []model.Point, wantStored int) {
		t.Helper()
		err := c.Write(ctx, ps)
		var sl *storage.SeriesLimitError
		if !errors.As(err, &sl) || sl.Limit != 2 || sl.RetryAfter != 30 {
			t.Fatalf("%s: %v (%+v), want a SeriesLimitError of 2 new series per minute", phase, err, sl)
		}
		have := stored()
		if len(have) != wantStored {
			t.Fatalf("%s: %d devices stored (%v), want %d", phase, len(have), have, wantStored)
		}
		var want []int
		for i, p := range ps {
			if !have[p.Tags.Get("device_id")] {
				want = append(want, i)
			}
		}
		if !slices.Equal(sl.Points, want) {
			t.Fatalf("%s: refused points %v, want %v (the points of the devices not stored)", phase, sl.Points, want)
		}
	}
	check("10 new devices", batch, 4)
	var refused uint64
	for _, n := range nodes {
		if got := len(devicesOn(t, n, 2)); got != 2 {
			t.Fatalf("node %s stores %d devices, want 2", n.id, got)
		}
		refused += n.node.Metrics().SeriesRefused
	}
	if refused != 12 {
		t.Fatalf("nodes counted %d refused points, want 12", refused)
	}
	check("the same batch again", batch, 4)
	check("only new devices", devicePoints(20, 4, 2), 4)

	mu.Lock()
	now = now.Add(time.Minute)
	mu.Unlock()
	// d20…d23 again: each node admits 2 of them (some may be refused if
	// they do not split 2 and 2).
	var sl *storage.SeriesLimitError
	if err := c.Write(ctx, devicePoints(20, 4, 2)); err != nil && !errors.As(err, &sl) {
		t.Fatalf("a minute later: %v", err)
	}
	if got := len(stored()); got <= 4 || got > 8 {
		t.Fatalf("a minute later: %d devices stored, want 5 to 8", got)
	}
}
