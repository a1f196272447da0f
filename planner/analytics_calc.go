package planner

import (
	"math"
	"slices"
)

// The analytics algorithms over one series: times ts (ascending, distinct)
// and values ys as float64. They return the indices of the points they keep
// (downsampling, anomalies) or the predicted values (forecast), so that the
// caller returns the points as stored. See docs/query.md, "Analytics".

// lttbIndices is Largest-Triangle-Three-Buckets (Steinarsson, Downsampling
// Time Series for Visual Representation, 2013): the first and the last
// points, and from each of n-2 buckets of equal point counts between them
// the point forming the largest triangle with the point kept from the
// bucket before and the mean of the bucket after (the earliest on ties).
// All points when there are no more than n.
func lttbIndices(ts []int64, ys []float64, n int) []int {
	size := len(ts)
	if size <= n || n < 3 {
		return firstLast(size, n)
	}
	x := func(i int) float64 { return float64(ts[i] - ts[0]) }
	out := make([]int, 0, n)
	out = append(out, 0)
	// Bucket k holds the points [k·(size-2)/(n-2)+1, (k+1)·(size-2)/(n-2)+1),
	// in integers so that the boundaries are exact.
	bound := func(k int) int { return k*(size-2)/(n-2) + 1 }
	a := 0
	for i := 0; i < n-2; i++ {
		// The next bucket's mean (the last point after the last bucket).
		nlo, nhi := bound(i+1), bound(i+2)
		if i == n-3 {
			nlo, nhi = size-1, size
		}
		var ax, ay float64
		for j := nlo; j < nhi; j++ {
			ax += x(j)
			ay += ys[j]
		}
		cnt := float64(nhi - nlo)
		ax, ay = ax/cnt, ay/cnt
		lo, hi := bound(i), bound(i+1)
		px, py := x(a), ys[a]
		best, bestArea := lo, -1.0
		for j := lo; j < hi; j++ {
			area := math.Abs((px-ax)*(ys[j]-py)-(px-x(j))*(ay-py)) / 2
			if area > bestArea {
				best, bestArea = j, area
			}
		}
		out = append(out, best)
		a = best
	}
	return append(out, size-1)
}

// firstLast returns every index when there are no more than n points, else
// the first and the last.
func firstLast(size, n int) []int {
	if size <= n {
		out := make([]int, size)
		for i := range out {
			out[i] = i
		}
		return out
	}
	return []int{0, size - 1}
}

// column returns the pixel column of time t among cols columns of equal
// duration over [t0, t1].
func column(t, t0, t1 int64, cols int) int {
	span := float64(t1-t0) + 1
	c := int(float64(t-t0) / span * float64(cols))
	return min(max(c, 0), cols-1)
}

// m4Indices is M4 (Jugel et al., M4: A Visualization-Oriented Time Series
// Data Aggregation, VLDB 2014): the series' time range is cut into n/4
// columns of equal duration and each column keeps its first, last, minimum
// and maximum points (the earliest of equal values), in time order. With
// n < 4, the first and the last points.
func m4Indices(ts []int64, ys []float64, n int) []int {
	size := len(ts)
	if size <= n || n < 4 {
		return firstLast(size, n)
	}
	return extremes(ts, ys, n/4, true)
}

// minmaxIndices keeps the first and the last points and the minimum and
// maximum points of each of (n-2)/2 columns of equal duration.
func minmaxIndices(ts []int64, ys []float64, n int) []int {
	size := len(ts)
	if size <= n || n < 4 {
		return firstLast(size, n)
	}
	keep := extremes(ts, ys, (n-2)/2, false)
	if keep[0] != 0 {
		keep = append([]int{0}, keep...)
	}
	if keep[len(keep)-1] != size-1 {
		keep = append(keep, size-1)
	}
	return keep
}

// extremes keeps, per column, the minimum and maximum points (NaN is
// neither) and with ends the first and last points, sorted and without
// duplicates.
func extremes(ts []int64, ys []float64, cols int, ends bool) []int {
	t0, t1 := ts[0], ts[len(ts)-1]
	var keep []int
	cur, first, last, lo, hi := -1, 0, 0, -1, -1
	flush := func() {
		if cur < 0 {
			return
		}
		if ends {
			keep = append(keep, first, last)
		}
		if lo >= 0 {
			keep = append(keep, lo, hi)
		}
	}
	for i, t := range ts {
		if c := column(t, t0, t1, cols); c != cur {
			flush()
			cur, first, lo, hi = c, i, -1, -1
		}
		last = i
		if y := ys[i]; !math.IsNaN(y) {
			if lo < 0 || y < ys[lo] {
				lo = i
			}
			if hi < 0 || y > ys[hi] {
				hi = i
			}
		}
	}
	flush()
	slices.Sort(keep)
	return slices.Compact(keep)
}

// anomalyIndices returns the points of ys whose score under method is above
// threshold, and their scores. Non-finite values are left out of the
// statistics and never flagged; a spread of 0 (every value alike) flags
// nothing.
//
//   - zscore: |v - mean| / stddev, the population standard deviation;
//   - iqr: below Q1 - k·IQR or above Q3 + k·IQR with k the threshold, the
//     score the distance beyond the quartile in IQRs ((Q1 - v) / IQR or
//     (v - Q3) / IQR); quartiles interpolate linearly between the closest
//     ranks (quantile below);
//   - mad: |v - median| / (1.4826 · MAD), MAD the median of |v - median|.
func anomalyIndices(ys []float64, method string, threshold float64) ([]int, []float64) {
	var vals []float64
	for _, y := range ys {
		if !math.IsNaN(y) && !math.IsInf(y, 0) {
			vals = append(vals, y)
		}
	}
	if len(vals) < 2 {
		return nil, nil
	}
	var score func(y float64) float64
	switch method {
	case "zscore":
		var sum float64
		for _, v := range vals {
			sum += v
		}
		mean := sum / float64(len(vals))
		var ss float64
		for _, v := range vals {
			ss += (v - mean) * (v - mean)
		}
		sd := math.Sqrt(ss / float64(len(vals)))
		if sd == 0 {
			return nil, nil
		}
		score = func(y float64) float64 { return math.Abs(y-mean) / sd }
	case "iqr":
		slices.Sort(vals)
		q1, q3 := quantile(vals, 0.25), quantile(vals, 0.75)
		iqr := q3 - q1
		if iqr == 0 {
			return nil, nil
		}
		score = func(y float64) float64 {
			switch {
			case y < q1:
				return (q1 - y) / iqr
			case y > q3:
				return (y - q3) / iqr
			}
			return 0
		}
	case "mad":
		slices.Sort(vals)
		med := quantile(vals, 0.5)
		dev := make([]float64, len(vals))
		for i, v := range vals {
			dev[i] = math.Abs(v - med)
		}
		slices.Sort(dev)
		mad := 1.4826 * quantile(dev, 0.5)
		if mad == 0 {
			return nil, nil
		}
		score = func(y float64) float64 { return math.Abs(y-med) / mad }
	}
	var idx []int
	var scores []float64
	for i, y := range ys {
		if math.IsNaN(y) || math.IsInf(y, 0) {
			continue
		}
		if s := score(y); s > threshold {
			idx = append(idx, i)
			scores = append(scores, s)
		}
	}
	return idx, scores
}

// quantile returns the p-quantile of sorted values: linear interpolation
// between the closest ranks, at rank h = (len-1)·p (Hyndman and Fan's
// type 7, the default of R and NumPy).
func quantile(sorted []float64, p float64) float64 {
	h := float64(len(sorted)-1) * p
	lo := int(math.Floor(h))
	if lo+1 >= len(sorted) {
		return sorted[lo]
	}
	return sorted[lo] + (h-float64(lo))*(sorted[lo+1]-sorted[lo])
}

// linearForecast fits y = a + b·x by least squares and returns its values at
// future. One point gives a flat line.
func linearForecast(xs, ys, future []float64) []float64 {
	n := float64(len(xs))
	var mx, my float64
	for i := range xs {
		mx += xs[i]
		my += ys[i]
	}
	mx, my = mx/n, my/n
	var sxy, sxx float64
	for i := range xs {
		sxy += (xs[i] - mx) * (ys[i] - my)
		sxx += (xs[i] - mx) * (xs[i] - mx)
	}
	b := 0.0
	if sxx > 0 {
		b = sxy / sxx
	}
	out := make([]float64, len(future))
	for i, x := range future {
		out[i] = my + b*(x-mx)
	}
	return out
}

// hwGrid is the grid the smoothing parameters α, β and γ are fitted on.
var hwGrid = []float64{0.1, 0.3, 0.5, 0.7, 0.9}

// maxSeasonLag bounds the season lengths detectSeason tries.
const maxSeasonLag = 1000

// detectSeason returns the lag in [2, min(len/2, maxSeasonLag)] with the
// largest autocorrelation, the smallest of equal ones, or 0 when that
// autocorrelation is below 0.5 (no season).
func detectSeason(ys []float64) int {
	n := len(ys)
	var mean float64
	for _, y := range ys {
		mean += y
	}
	mean /= float64(n)
	var den float64
	for _, y := range ys {
		den += (y - mean) * (y - mean)
	}
	if den == 0 {
		return 0
	}
	best, bestR := 0, 0.5
	for lag := 2; lag <= min(n/2, maxSeasonLag); lag++ {
		var num float64
		for t := lag; t < n; t++ {
			num += (ys[t] - mean) * (ys[t-lag] - mean)
		}
		if r := num / den; r >= bestR && (best == 0 || r > bestR) {
			best, bestR = lag, r
		}
	}
	return best
}

// holtWinters forecasts horizon values after ys with additive Holt-Winters
// of season length m (Holt's linear trend when m is 0 or ys holds fewer
// than 2m values), its parameters the ones of hwGrid with the least sum of
// squared one-step errors (the first in α, β, γ order on ties).
func holtWinters(ys []float64, m, horizon int) []float64 {
	if len(ys) < 2*m {
		m = 0
	}
	if len(ys) < 2 {
		out := make([]float64, horizon)
		for i := range out {
			out[i] = ys[0]
		}
		return out
	}
	gammas := hwGrid
	if m == 0 {
		gammas = []float64{0}
	}
	bestSSE := math.Inf(1)
	var best []float64
	for _, a := range hwGrid {
		for _, b := range hwGrid {
			for _, g := range gammas {
				sse, f := hwRun(ys, m, a, b, g, horizon)
				if sse < bestSSE || best == nil {
					bestSSE, best = sse, f
				}
			}
		}
	}
	return best
}

// hwRun smooths ys with parameters a, b, g and returns the sum of squared
// one-step errors and the forecast. Without a season: level ys[0], trend
// ys[1]-ys[0], smoothing from ys[1]. With season m: level the mean of the
// first season, trend the difference of the means of the first two seasons
// over m, seasonal terms the first season's deviations from its mean,
// smoothing from ys[m].
func hwRun(ys []float64, m int, a, b, g float64, horizon int) (float64, []float64) {
	var level, trend float64
	var season []float64
	start := 1
	if m == 0 {
		level, trend = ys[0], ys[1]-ys[0]
	} else {
		var s1, s2 float64
		for i := 0; i < m; i++ {
			s1 += ys[i]
			s2 += ys[m+i]
		}
		level = s1 / float64(m)
		trend = (s2 - s1) / float64(m) / float64(m)
		season = make([]float64, m)
		for i := 0; i < m; i++ {
			season[i] = ys[i] - level
		}
		start = m
	}
	var sse float64
	for t := start; t < len(ys); t++ {
		var s float64
		if m > 0 {
			s = season[t%m]
		}
		e := ys[t] - (level + trend + s)
		sse += e * e
		prev := level
		level = a*(ys[t]-s) + (1-a)*(level+trend)
		trend = b*(level-prev) + (1-b)*trend
		if m > 0 {
			season[t%m] = g*(ys[t]-level) + (1-g)*s
		}
	}
	out := make([]float64, horizon)
	n := len(ys)
	for h := 1; h <= horizon; h++ {
		out[h-1] = level + float64(h)*trend
		if m > 0 {
			out[h-1] += season[(n-1+h)%m]
		}
	}
	return sse, out
}

// DownsampleIndices returns the indices of the points of one series (times
// ts in ascending order, values ys) that downsample(f, n, method) keeps:
// method is lttb, m4 or minmax (docs/query.md, "Analytics"), n at least 2.
// It is what the Grafana datasource uses on raw series longer than a
// panel's maxDataPoints.
func DownsampleIndices(method string, ts []int64, ys []float64, n int) []int {
	n = max(n, 2)
	switch method {
	case "m4":
		return m4Indices(ts, ys, n)
	case "minmax":
		return minmaxIndices(ts, ys, n)
	}
	return lttbIndices(ts, ys, n)
}
