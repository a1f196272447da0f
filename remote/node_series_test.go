package remote

import (
	"slices"
	"testing"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/remote/wire"
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
