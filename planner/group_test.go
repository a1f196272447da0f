package planner

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestGroupBuckets makes buckets in time order, then out of it, and checks
// that find answers as a map would and sorted lists them in time order,
// before and after the group switches from its sorted list to its index.
func TestGroupBuckets(t *testing.T) {
	for _, tc := range []struct {
		name string
		los  []int64
	}{
		{"empty", nil},
		{"in order", []int64{0, 60, 120, 180}},
		{"one back", []int64{0, 60, 120, 30}},
		{"descending", []int64{300, 200, 100, 0}},
		{"random", func() []int64 {
			r := rand.New(rand.NewPCG(1, 2))
			var los []int64
			for range 500 {
				los = append(los, r.Int64N(10_000)-5_000)
			}
			return los
		}()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var g group
			want := map[int64]*bucketState{}
			for i, lo := range tc.los {
				if g.find(lo) != want[lo] {
					t.Fatalf("bucket %d: find(%d) before add differs from the map", i, lo)
				}
				if want[lo] != nil {
					continue
				}
				b := &bucketState{lo: lo, hi: lo + 1}
				g.add(b)
				want[lo] = b
				for _, probe := range []int64{lo, lo - 1, lo + 1, tc.los[0]} {
					if g.find(probe) != want[probe] {
						t.Fatalf("after bucket %d: find(%d) differs from the map", i, probe)
					}
				}
			}
			bs := g.sorted()
			if len(bs) != len(want) {
				t.Fatalf("sorted lists %d buckets, want %d", len(bs), len(want))
			}
			if !slices.IsSortedFunc(bs, func(a, b *bucketState) int { return int(a.lo - b.lo) }) {
				t.Fatalf("sorted is not in time order")
			}
			for _, b := range bs {
				if want[b.lo] != b {
					t.Fatalf("sorted lists a bucket at %d not made there", b.lo)
				}
			}
		})
	}
}
