package httpapi

import (
	"fmt"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/planner"
)

// Raw series longer than a panel's maxDataPoints: a time-series target
// that is a raw select (no aggregate, so no GROUP BY interval following
// maxDataPoints) has each of its series downsampled with LTTB to at most
// maxDataPoints points, the points kept as stored, the first and last
// among them (planner.DownsampleIndices, as downsample(f, n) in the query
// language). The frame's meta says so in a notice. Aggregated targets are
// left alone: their interval already follows maxDataPoints. Tables are not
// downsampled.

// gfDownsample reduces sr to at most n points when it holds more and its
// values are numbers, and returns the notice to show, "" when it did not.
func gfDownsample(sr *gfSeriesData, n int) string {
	if n < 2 || len(sr.times) <= n {
		return ""
	}
	ys := make([]float64, len(sr.vals))
	for i, v := range sr.vals {
		f, ok := v.AsFloat()
		if !ok {
			return ""
		}
		ys[i] = f
	}
	idx := planner.DownsampleIndices("lttb", sr.times, ys, n)
	times := make([]int64, len(idx))
	vals := make([]model.Value, len(idx))
	for j, i := range idx {
		times[j], vals[j] = sr.times[i], sr.vals[i]
	}
	from := len(sr.times)
	sr.times, sr.vals = times, vals
	return fmt.Sprintf("downsampled from %d to %d points (LTTB) to fit maxDataPoints %d; an aggregate with GROUP BY $__interval, or downsample(f, n), gives the same without reading every point", from, len(idx), n)
}
