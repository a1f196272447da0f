package remote

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/soltixdb/soltix/model"
)

// BenchmarkGateWrite is what the gate adds to a write of one group that is
// not moving (the common case): a shared lock and a map lookup.
func BenchmarkGateWrite(b *testing.B) {
	m := newMoveMap(moveGroups, "A")
	mv := NewMoves(nullGroups{}, m, MoveOptions{NodeID: "A", Logger: quiet})
	ws := []GroupWrite{{Group: 1, Epoch: 1}}
	apply := func() error { return nil }
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := mv.Write(ws, apply); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// nullGroups is a GroupDB of moveGroups groups that holds nothing.
type nullGroups struct{ GroupDB }

func (nullGroups) NumGroups() int { return moveGroups }

// BenchmarkMoveGroup moves a group of 1,000,000 random floats (100 series) from A to
// B and back, and reports the rate in the group's points and file bytes
// (raw and rollup files after a flush).
func BenchmarkMoveGroup(b *testing.B) {
	ctx := context.Background()
	c := &moveCluster{m: newMoveMap(moveGroups, "A"), nodes: make(map[string]*moveNode)}
	const g, series, per = 1, 100, 10000
	rng := rand.New(rand.NewPCG(1, 2))
	devs := devicesIn(g, series)
	a := startMoveNode(b, c.m, "A", b.TempDir(), nil, MoveOptions{})
	c.set(a)
	c.set(startMoveNode(b, c.m, "B", b.TempDir(), nil, MoveOptions{}))
	for i := 0; i < per; i += 500 {
		pts := make([]model.Point, 0, 500*series)
		for _, d := range devs {
			for j := i; j < i+500; j++ {
				pts = append(pts, model.Point{Collection: moveColl, Tags: model.Tags{{Key: "device_id", Value: d}},
					Time: int64(j) * int64(time.Second), Fields: []model.Field{{Key: "v", Value: model.Float(rng.Float64())}}})
			}
		}
		if err := a.db.Write(ctx, pts); err != nil {
			b.Fatal(err)
		}
	}
	if err := a.db.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	st, err := a.db.GroupStats(g)
	if err != nil {
		b.Fatal(err)
	}
	mv := NewMover(c.m, c.m, MoverOptions{Logger: quiet})
	b.ResetTimer()
	for i := range b.N {
		from, to := "A", "B"
		if i%2 == 1 {
			from, to = to, from
		}
		if err := mv.Move(ctx, g, from, to); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(series*per*b.N)/b.Elapsed().Seconds(), "points/s")
	b.ReportMetric(float64((st.Bytes+st.RollupBytes)*int64(b.N))/b.Elapsed().Seconds()/1e6, "MB/s")
	b.ReportMetric(float64(st.Bytes+st.RollupBytes), "group-bytes")
}
