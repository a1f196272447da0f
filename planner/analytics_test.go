package planner

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/query"
)

// The analytics functions against references written here from the
// published definitions, with plain loops: downsampling (LTTB, M4,
// minmax), anomalies (zscore, iqr, mad) and forecasts (linear,
// Holt-Winters).

// anData returns series to reduce: a noisy sine, a random walk, a spike, a
// constant, a step, irregular times, and tiny ones.
func anData() map[string][2][]float64 {
	rng := rand.New(rand.NewPCG(3, 5))
	out := map[string][2][]float64{}
	add := func(name string, n int, f func(i int) float64, irregular bool) {
		var ts, ys []float64
		t := 0.0
		for i := 0; i < n; i++ {
			if irregular {
				t += float64(1 + rng.IntN(30))
			} else {
				t += 10
			}
			ts = append(ts, t)
			ys = append(ys, f(i))
		}
		out[name] = [2][]float64{ts, ys}
	}
	add("sine", 1000, func(i int) float64 { return math.Sin(float64(i)/20) + rng.NormFloat64()/10 }, false)
	walk := 0.0
	add("walk", 733, func(int) float64 { walk += rng.NormFloat64(); return walk }, true)
	add("spike", 200, func(i int) float64 {
		if i == 120 {
			return 90
		}
		return float64(i % 7)
	}, false)
	add("constant", 50, func(int) float64 { return 4 }, true)
	add("step", 300, func(i int) float64 { return float64(i / 100) }, false)
	add("two", 2, func(i int) float64 { return float64(i) }, false)
	add("one", 1, func(int) float64 { return 1 }, false)
	return out
}

func toTimes(fs []float64) []int64 {
	ts := make([]int64, len(fs))
	for i, f := range fs {
		ts[i] = int64(f) * sec
	}
	return ts
}

// refLTTB is LTTB as Steinarsson describes it: split the points between
// the first and the last into n-2 buckets of (nearly) equal counts; for
// each bucket in turn keep the point of the largest triangle formed with
// the point kept before and the centroid of the next bucket (the last
// point after the last bucket).
func refLTTB(ts []int64, ys []float64, n int) []int {
	if len(ts) <= n {
		all := make([]int, len(ts))
		for i := range all {
			all[i] = i
		}
		return all
	}
	if n < 3 {
		return []int{0, len(ts) - 1}
	}
	inner := len(ts) - 2
	buckets := make([][]int, n-2)
	for k := range buckets {
		lo := int(math.Floor(float64(k)*float64(inner)/float64(n-2))) + 1
		hi := int(math.Floor(float64(k+1)*float64(inner)/float64(n-2))) + 1
		for i := lo; i < hi; i++ {
			buckets[k] = append(buckets[k], i)
		}
	}
	x := func(i int) float64 { return float64(ts[i] - ts[0]) }
	keep := []int{0}
	for k := range buckets {
		next := []int{len(ts) - 1}
		if k+1 < len(buckets) {
			next = buckets[k+1]
		}
		// The centroid of the next bucket.
		sx, sy := 0.0, 0.0
		for _, i := range next {
			sx += x(i)
			sy += ys[i]
		}
		cx, cy := sx/float64(len(next)), sy/float64(len(next))
		a := keep[len(keep)-1]
		best, bestArea := -1, -1.0
		for _, i := range buckets[k] {
			// Twice the triangle's area: the cross product of (b-a) and (c-a).
			area := math.Abs((x(i)-x(a))*(cy-ys[a])-(cx-x(a))*(ys[i]-ys[a])) / 2
			if area > bestArea {
				best, bestArea = i, area
			}
		}
		keep = append(keep, best)
	}
	return append(keep, len(ts)-1)
}

// refColumns returns, per pixel column (equal durations over the series'
// span), the indices of its points.
func refColumns(ts []int64, cols int) [][]int {
	out := make([][]int, cols)
	span := float64(ts[len(ts)-1]-ts[0]) + 1
	for i, t := range ts {
		c := int(float64(t-ts[0]) / span * float64(cols))
		if c >= cols {
			c = cols - 1
		}
		out[c] = append(out[c], i)
	}
	return out
}

// refExtremes keeps per column the earliest minimum and maximum, and with
// ends its first and last points, plus always the series' ends when
// always is set.
func refExtremes(ts []int64, ys []float64, cols int, ends, always bool) []int {
	set := map[int]bool{}
	if always {
		set[0], set[len(ts)-1] = true, true
	}
	for _, col := range refColumns(ts, cols) {
		if len(col) == 0 {
			continue
		}
		if ends {
			set[col[0]], set[col[len(col)-1]] = true, true
		}
		lo, hi := col[0], col[0]
		for _, i := range col {
			if ys[i] < ys[lo] {
				lo = i
			}
			if ys[i] > ys[hi] {
				hi = i
			}
		}
		set[lo], set[hi] = true, true
	}
	var out []int
	for i := range set {
		out = append(out, i)
	}
	sort.Ints(out)
	return out
}

func TestDownsampleReference(t *testing.T) {
	for name, d := range anData() {
		ts, ys := toTimes(d[0]), d[1]
		for _, n := range []int{2, 3, 4, 5, 7, 10, 64, 100, 999, 1000, 5000} {
			t.Run(fmt.Sprintf("%s/%d", name, n), func(t *testing.T) {
				wantM4 := []int(nil)
				wantMinmax := []int(nil)
				switch {
				case len(ts) <= n:
					wantM4, wantMinmax = refLTTB(ts, ys, n), refLTTB(ts, ys, n)
				case n < 4:
					wantM4, wantMinmax = []int{0, len(ts) - 1}, []int{0, len(ts) - 1}
				default:
					wantM4 = refExtremes(ts, ys, n/4, true, false)
					wantMinmax = refExtremes(ts, ys, (n-2)/2, false, true)
				}
				for _, c := range []struct {
					method    string
					got, want []int
				}{
					{"lttb", lttbIndices(ts, ys, n), refLTTB(ts, ys, n)},
					{"m4", m4Indices(ts, ys, n), wantM4},
					{"minmax", minmaxIndices(ts, ys, n), wantMinmax},
				} {
					if !slices.Equal(c.got, c.want) {
						t.Errorf("%s: got %v\nwant %v", c.method, c.got, c.want)
					}
					if len(c.got) > n {
						t.Errorf("%s: %d points, more than n = %d", c.method, len(c.got), n)
					}
					if len(ts) > 0 && (c.got[0] != 0 || c.got[len(c.got)-1] != len(ts)-1) {
						t.Errorf("%s: first or last point not kept: %v", c.method, c.got)
					}
					if !slices.IsSorted(c.got) || len(slices.Compact(slices.Clone(c.got))) != len(c.got) {
						t.Errorf("%s: indices not increasing: %v", c.method, c.got)
					}
				}
			})
		}
	}
}

// refScores flags values as the definitions say, with plain loops.
func refScores(ys []float64, method string, thr float64) ([]int, []float64) {
	n := float64(len(ys))
	sorted := slices.Clone(ys)
	sort.Float64s(sorted)
	// The quantile at p: linear interpolation between the closest ranks.
	q := func(s []float64, p float64) float64 {
		pos := p * float64(len(s)-1)
		i := int(pos)
		if i == len(s)-1 {
			return s[i]
		}
		return s[i]*(1-(pos-float64(i))) + s[i+1]*(pos-float64(i))
	}
	var score func(float64) float64
	switch method {
	case "zscore":
		mean := 0.0
		for _, y := range ys {
			mean += y / n
		}
		v := 0.0
		for _, y := range ys {
			v += (y - mean) * (y - mean) / n
		}
		if v == 0 {
			return nil, nil
		}
		score = func(y float64) float64 { return math.Abs(y-mean) / math.Sqrt(v) }
	case "iqr":
		q1, q3 := q(sorted, 0.25), q(sorted, 0.75)
		if q3 == q1 {
			return nil, nil
		}
		score = func(y float64) float64 { return math.Max(0, math.Max(q1-y, y-q3)) / (q3 - q1) }
	case "mad":
		med := q(sorted, 0.5)
		var dev []float64
		for _, y := range ys {
			dev = append(dev, math.Abs(y-med))
		}
		sort.Float64s(dev)
		mad := q(dev, 0.5)
		if mad == 0 {
			return nil, nil
		}
		score = func(y float64) float64 { return math.Abs(y-med) / (1.4826 * mad) }
	}
	var idx []int
	var sc []float64
	for i, y := range ys {
		if s := score(y); s > thr {
			idx, sc = append(idx, i), append(sc, s)
		}
	}
	return idx, sc
}

func TestAnomaliesReference(t *testing.T) {
	for name, d := range anData() {
		ys := d[1]
		for _, c := range []struct {
			method string
			thr    float64
		}{{"zscore", 3}, {"zscore", 1}, {"iqr", 1.5}, {"iqr", 0.5}, {"mad", 3.5}, {"mad", 1}} {
			t.Run(fmt.Sprintf("%s/%s/%g", name, c.method, c.thr), func(t *testing.T) {
				gi, gs := anomalyIndices(ys, c.method, c.thr)
				wi, ws := refScores(ys, c.method, c.thr)
				if len(ys) < 2 {
					wi, ws = nil, nil
				}
				if !slices.Equal(gi, wi) {
					t.Fatalf("flagged %v\nwant %v", gi, wi)
				}
				for i := range gs {
					if math.Abs(gs[i]-ws[i]) > 1e-9*math.Max(1, math.Abs(ws[i])) {
						t.Errorf("score of point %d: %v, want %v", gi[i], gs[i], ws[i])
					}
				}
			})
		}
	}
	// The spike is flagged by every method at the defaults.
	for _, m := range []string{"zscore", "iqr", "mad"} {
		ys := anData()["spike"][1]
		idx, _ := anomalyIndices(ys, m, map[string]float64{"zscore": 3, "iqr": 1.5, "mad": 3.5}[m])
		if !slices.Contains(idx, 120) {
			t.Errorf("%s does not flag the spike: %v", m, idx)
		}
	}
	// Non-finite values are neither used nor flagged.
	idx, _ := anomalyIndices([]float64{1, 2, math.NaN(), 1, math.Inf(1), 2, 1, 2, 40}, "zscore", 2)
	if !slices.Equal(idx, []int{8}) {
		t.Errorf("with NaN and Inf: flagged %v, want [8]", idx)
	}
}

func TestLinearForecastReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for k := 0; k < 20; k++ {
		n := 1 + rng.IntN(50)
		var xs, ys []float64
		x := 0.0
		for i := 0; i < n; i++ {
			x += float64(1 + rng.IntN(3)) // gaps: null buckets
			xs = append(xs, x)
			ys = append(ys, 3-0.5*x+rng.NormFloat64())
		}
		future := []float64{x + 1, x + 2, x + 10}
		got := linearForecast(xs, ys, future)
		// Normal equations: b = (nΣxy - ΣxΣy) / (nΣx² - (Σx)²), a = (Σy - bΣx) / n.
		var sx, sy, sxy, sxx float64
		for i := range xs {
			sx, sy, sxy, sxx = sx+xs[i], sy+ys[i], sxy+xs[i]*ys[i], sxx+xs[i]*xs[i]
		}
		fn := float64(n)
		b := 0.0
		if d := fn*sxx - sx*sx; n > 1 {
			b = (fn*sxy - sx*sy) / d
		}
		a := (sy - b*sx) / fn
		for i, f := range future {
			if w := a + b*f; math.Abs(got[i]-w) > 1e-6*math.Max(1, math.Abs(w)) {
				t.Errorf("n=%d: forecast at %v = %v, want %v", n, f, got[i], w)
			}
		}
	}
}

// refHoltWinters is additive Holt-Winters with fixed parameters, written
// from the recurrences: level ℓ, trend b, seasonal s of period m.
func refHoltWinters(y []float64, m int, alpha, beta, gamma float64, h int) (sse float64, f []float64) {
	var l, b float64
	s := make([]float64, m)
	first := 1
	if m == 0 {
		l, b = y[0], y[1]-y[0]
	} else {
		mean1, mean2 := 0.0, 0.0
		for i := 0; i < m; i++ {
			mean1 += y[i] / float64(m)
			mean2 += y[m+i] / float64(m)
		}
		l, b = mean1, (mean2-mean1)/float64(m)
		for i := 0; i < m; i++ {
			s[i] = y[i] - mean1
		}
		first = m
	}
	season := func(t int) float64 {
		if m == 0 {
			return 0
		}
		return s[t%m]
	}
	for t := first; t < len(y); t++ {
		st := season(t)
		e := y[t] - l - b - st
		sse += e * e
		nl := alpha*(y[t]-st) + (1-alpha)*(l+b)
		b = beta*(nl-l) + (1-beta)*b
		l = nl
		if m > 0 {
			s[t%m] = gamma*(y[t]-l) + (1-gamma)*st
		}
	}
	for k := 1; k <= h; k++ {
		f = append(f, l+float64(k)*b+season(len(y)-1+k))
	}
	return sse, f
}

func TestHoltWintersReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	var seasonal, trend []float64
	pattern := []float64{3, 5, 9, 4, 1, 0}
	for i := 0; i < 60; i++ {
		seasonal = append(seasonal, 10+0.2*float64(i)+pattern[i%6]+rng.NormFloat64()/5)
		trend = append(trend, 2*float64(i)+rng.NormFloat64())
	}
	for _, c := range []struct {
		name string
		y    []float64
		m    int
	}{{"seasonal", seasonal, 6}, {"trend", trend, 0}, {"seasonal-as-trend", seasonal, 0}, {"short", seasonal[:10], 6}} {
		t.Run(c.name, func(t *testing.T) {
			m := c.m
			if len(c.y) < 2*m {
				m = 0
			}
			grid := []float64{0.1, 0.3, 0.5, 0.7, 0.9}
			gammas := grid
			if m == 0 {
				gammas = []float64{0}
			}
			best := math.Inf(1)
			var want []float64
			for _, a := range grid {
				for _, b := range grid {
					for _, g := range gammas {
						if sse, f := refHoltWinters(c.y, m, a, b, g, 12); sse < best {
							best, want = sse, f
						}
					}
				}
			}
			got := holtWinters(c.y, c.m, 12)
			for i := range want {
				if math.Abs(got[i]-want[i]) > 1e-9*math.Max(1, math.Abs(want[i])) {
					t.Errorf("step %d: %v, want %v", i+1, got[i], want[i])
				}
			}
		})
	}
	// An exact pattern with no trend continues exactly; so does a line.
	var exact []float64
	for i := 0; i < 24; i++ {
		exact = append(exact, pattern[i%6])
	}
	f := holtWinters(exact, 6, 7)
	for k, v := range f {
		if math.Abs(v-pattern[(24+k)%6]) > 1e-9 {
			t.Errorf("exact pattern, step %d: %v, want %v", k+1, v, pattern[(24+k)%6])
		}
	}
	if f := holtWinters([]float64{3, 5, 7, 9}, 0, 2); math.Abs(f[0]-11) > 1e-9 || math.Abs(f[1]-13) > 1e-9 {
		t.Errorf("a line continues: %v, want [11 13]", f)
	}
	if f := holtWinters([]float64{4}, 0, 2); f[0] != 4 || f[1] != 4 {
		t.Errorf("one value stays flat: %v", f)
	}
}

func TestDetectSeason(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 8))
	for _, period := range []int{4, 7, 12, 24} {
		var y []float64
		for i := 0; i < 10*period; i++ {
			y = append(y, math.Sin(2*math.Pi*float64(i)/float64(period))+rng.NormFloat64()/10)
		}
		if got := detectSeason(y); got != period {
			t.Errorf("sine of period %d: detected %d", period, got)
		}
	}
	var noise []float64
	for i := 0; i < 200; i++ {
		noise = append(noise, rng.NormFloat64())
	}
	if got := detectSeason(noise); got != 0 {
		t.Errorf("white noise: detected season %d, want 0", got)
	}
	if got := detectSeason([]float64{2, 2, 2, 2, 2, 2}); got != 0 {
		t.Errorf("constant: detected season %d, want 0", got)
	}
}

// TestAnalyticsPlannerReference runs the functions through the planner over
// fnTestData (series with nulls, one point, ties) and compares with the
// references applied per series.
func TestAnalyticsPlannerReference(t *testing.T) {
	src, data := fnTestData()
	type out struct {
		t      int64
		series int
		row    []model.Value
	}
	build := func(f func(ts []int64, ys []float64) ([]int, []model.Value)) [][]model.Value {
		var outs []out
		for si, s := range data {
			var ts []int64
			var ys []float64
			for _, p := range s.pts {
				if p.hasV {
					ts, ys = append(ts, p.t), append(ys, p.v)
				}
			}
			if len(ts) == 0 {
				continue
			}
			idx, extra := f(ts, ys)
			for j, i := range idx {
				row := []model.Value{model.Int(ts[i]), model.Float(ys[i])}
				if extra != nil {
					row = append(row, extra[j])
				}
				outs = append(outs, out{ts[i], si, append(row, model.String(s.device))})
			}
		}
		slices.SortStableFunc(outs, func(a, b out) int {
			if c := cmp.Compare(a.t, b.t); c != 0 {
				return c
			}
			return cmp.Compare(a.series, b.series)
		})
		var rows [][]model.Value
		for _, o := range outs {
			rows = append(rows, o.row)
		}
		return rows
	}
	down := func(ref func([]int64, []float64) []int) func([]int64, []float64) ([]int, []model.Value) {
		return func(ts []int64, ys []float64) ([]int, []model.Value) { return ref(ts, ys), nil }
	}
	anom := func(method string, thr float64) func([]int64, []float64) ([]int, []model.Value) {
		return func(_ []int64, ys []float64) ([]int, []model.Value) {
			if len(ys) < 2 {
				return nil, nil
			}
			idx, sc := refScores(ys, method, thr)
			var ex []model.Value
			for _, s := range sc {
				ex = append(ex, model.Float(s))
			}
			return idx, ex
		}
	}
	cases := []struct {
		q    string
		want [][]model.Value
	}{
		{"SELECT downsample(v, 9) FROM dev", build(down(func(ts []int64, ys []float64) []int { return refLTTB(ts, ys, 9) }))},
		{"SELECT downsample(v, 12, 'm4') FROM dev", build(down(func(ts []int64, ys []float64) []int {
			if len(ts) <= 12 {
				return refLTTB(ts, ys, 12)
			}
			return refExtremes(ts, ys, 3, true, false)
		}))},
		{"SELECT downsample(v, 8, 'minmax') FROM dev", build(down(func(ts []int64, ys []float64) []int {
			if len(ts) <= 8 {
				return refLTTB(ts, ys, 8)
			}
			return refExtremes(ts, ys, 3, false, true)
		}))},
		{"SELECT anomalies(v, 'zscore', 1.5) FROM dev", build(anom("zscore", 1.5))},
		{"SELECT anomalies(v, 'iqr', 0.5) FROM dev", build(anom("iqr", 0.5))},
		{"SELECT anomalies(v, 'mad', 2) FROM dev", build(anom("mad", 2))},
	}
	for _, tc := range cases {
		t.Run(tc.q, func(t *testing.T) {
			res, err := execute(src, tc.q)
			if err != nil {
				t.Fatalf("Execute(%q): %v", tc.q, err)
			}
			if !sameRows(res.Rows, tc.want) {
				t.Errorf("Execute(%q):\ngot%s\nwant%s", tc.q, formatRows(res.Rows), formatRows(tc.want))
			}
		})
	}
}

// TestForecastPlannerReference: forecast(mean(v), h) over 3m buckets of
// each device equals the buckets' means (computed here) followed by the
// least-squares line through them, by bucket index.
func TestForecastPlannerReference(t *testing.T) {
	src, data := fnTestData()
	const width = 3 * 60 * sec
	lo, hi := t0, t0+30*60*sec
	q := fmt.Sprintf("SELECT forecast(mean(v), 4) FROM dev WHERE time >= %d AND time < %d GROUP BY 3m, device", lo, hi)
	res, err := execute(src, q)
	if err != nil {
		t.Fatal(err)
	}
	var want [][]model.Value
	for _, s := range data {
		nb := int((hi - lo) / width)
		sum, cnt := make([]float64, nb), make([]int, nb)
		for _, p := range s.pts {
			if p.hasV && p.t >= lo && p.t < hi {
				b := int((p.t - lo) / width)
				sum[b] += p.v
				cnt[b]++
			}
		}
		var xs, ys []float64
		for b := 0; b < nb; b++ {
			v := model.Null
			if cnt[b] > 0 {
				v = model.Float(sum[b] / float64(cnt[b]))
				xs, ys = append(xs, float64(b)), append(ys, sum[b]/float64(cnt[b]))
			}
			want = append(want, []model.Value{model.Int(lo + int64(b)*width), model.String(s.device), v, model.Bool(false)})
		}
		var sx, sy, sxy, sxx float64
		for i := range xs {
			sx, sy, sxy, sxx = sx+xs[i], sy+ys[i], sxy+xs[i]*ys[i], sxx+xs[i]*xs[i]
		}
		n := float64(len(xs))
		b := 0.0
		if len(xs) > 1 {
			b = (n*sxy - sx*sy) / (n*sxx - sx*sx)
		}
		a := (sy - b*sx) / n
		for k := 0; k < 4; k++ {
			x := float64(nb + k)
			want = append(want, []model.Value{model.Int(lo + int64(nb+k)*width), model.String(s.device), model.Float(a + b*x), model.Bool(true)})
		}
	}
	if !sameRows(res.Rows, want) {
		t.Errorf("%s:\ngot%s\nwant%s", q, formatRows(res.Rows), formatRows(want))
	}
	if got := res.Columns; !slices.Equal(got, []string{"time", "device", "forecast(avg(v), 4, 'linear')", "forecast"}) {
		t.Errorf("columns %v", got)
	}
}

// TestAnalyticsLimits: the points analytics functions read count against
// MaxPoints, the buckets of the nested form and the rows returned against
// MaxRows; LIMIT applies to each group's rows.
func TestAnalyticsLimits(t *testing.T) {
	src := newMemSource()
	for i := range 100 {
		src.write("c", "h=a", t0+int64(i)*sec, "v", float64(i%40))
	}
	for _, tc := range []struct {
		q       string
		opts    Options
		setting string // "" for no error
		rows    int
	}{
		{"SELECT downsample(v, 10) FROM c", Options{MaxPoints: 50}, SettingMaxPoints, 0},
		{"SELECT anomalies(v, 'zscore') FROM c", Options{MaxPoints: 50}, SettingMaxPoints, 0},
		{"SELECT downsample(v, 10) FROM c", Options{MaxRows: 10}, "", 10},
		{"SELECT downsample(v, 10) FROM c", Options{MaxRows: 9}, SettingMaxRows, 0},
		{"SELECT downsample(v, 50) FROM c LIMIT 3", Options{MaxRows: 3}, "", 3},
		{"SELECT forecast(mean(v), 5) FROM c WHERE time >= " + fmt.Sprint(t0) + " AND time < " + fmt.Sprint(t0+100*sec) + " GROUP BY 10s", Options{MaxRows: 15}, "", 15},
		{"SELECT forecast(mean(v), 6) FROM c WHERE time >= " + fmt.Sprint(t0) + " AND time < " + fmt.Sprint(t0+100*sec) + " GROUP BY 10s", Options{MaxRows: 15}, SettingMaxRows, 0},
		{"SELECT forecast(mean(v), 1) FROM c WHERE time >= " + fmt.Sprint(t0) + " AND time < " + fmt.Sprint(t0+100*sec) + " GROUP BY 1s", Options{MaxRows: 50}, SettingMaxRows, 0},
	} {
		stmt, err := query.Parse(tc.q)
		if err != nil {
			t.Fatal(err)
		}
		tc.opts.Now = testNow
		res, err := ExecuteWith(context.Background(), src, stmt, tc.opts)
		var le *LimitError
		switch {
		case tc.setting != "" && (!errors.As(err, &le) || le.Setting != tc.setting):
			t.Errorf("%s %+v: error %v, want a limit error on %s", tc.q, tc.opts, err, tc.setting)
		case tc.setting == "" && err != nil:
			t.Errorf("%s %+v: error %v", tc.q, tc.opts, err)
		case tc.setting == "" && len(res.Rows) != tc.rows:
			t.Errorf("%s %+v: %d rows, want %d", tc.q, tc.opts, len(res.Rows), tc.rows)
		}
	}
}
