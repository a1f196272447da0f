package planner

// Analytics functions (query/analytics.go): downsample, anomalies and
// forecast. They are planned as the transformations are (transform.go): an
// inner SELECT, the raw points of the field with every tag key, or with a
// GROUP BY interval the buckets of the inner aggregate
// (downsample(mean(v), 500)), whose rows are consumed group by group. Each
// series of a group (the group itself for the nested form) is kept whole,
// then reduced by analytics_calc.go, and the group's rows are returned in
// time order (points of different series at one time in the order their
// series first came). Memory is the points of one group: bounded by
// Options.MaxPoints for raw reads, by the row limit for the nested form.

import (
	"math"
	"slices"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/query"
)

// analyticsColumn returns the column an analytics function adds after its
// value: the score of anomalies, the forecast flag of forecast.
func analyticsColumn(fn string) string {
	switch fn {
	case "anomalies":
		return "score"
	case "forecast":
		return "forecast"
	}
	return ""
}

// checkAnalytics checks the form of an analytics SELECT (q.items[0]).
func (q *fnQuery) checkAnalytics() error {
	it := &q.items[0].it
	switch {
	case it.Func == "forecast" && !q.nested:
		return errorf(it.Pos, "forecast extends the buckets of an aggregate: write it as in forecast(mean(%s), %d) with GROUP BY an interval", it.Field, it.N)
	case !q.nested && q.sel.GroupBy != nil:
		return errorf(it.Pos, "%s with GROUP BY an interval needs an aggregate inside, as in %s(mean(%s), ...)", it.Name(), it.Func, it.Field)
	}
	if q.nested {
		bk, err := bucketerFor(q.sel)
		if err != nil {
			return err
		}
		q.bk = bk
	}
	return nil
}

// anPoint is one point (or bucket) of a series.
type anPoint struct {
	t int64
	v model.Value
}

// anSeries is one series of a group: its tag values (q.tags) and points.
type anSeries struct {
	tags []model.Value
	pts  []anPoint
}

// analyzer collects the series of one group.
type analyzer struct {
	series map[string]*anSeries
	order  []*anSeries
}

func (a *analyzer) add(s *fnSink, t int64, row []model.Value) error {
	q := s.q
	v := row[q.items[0].col]
	if v.IsNull() && q.items[0].it.Func != "forecast" {
		return nil
	}
	key := s.seriesKey(row)
	sr := a.series[key]
	if sr == nil {
		if a.series == nil {
			a.series = map[string]*anSeries{}
		}
		sr = &anSeries{}
		for _, k := range q.tags {
			tv := model.Null
			if c := q.tagCol(k); c >= 0 {
				tv = row[c]
			}
			sr.tags = append(sr.tags, tv)
		}
		a.series[key] = sr
		a.order = append(a.order, sr)
	}
	sr.pts = append(sr.pts, anPoint{t: t, v: v})
	return nil
}

// anRow is a row of the answer before its group's rows are ordered.
type anRow struct {
	t      int64
	series int
	row    []model.Value
}

// finish computes each series' rows and keeps them in time order.
func (a *analyzer) finish(s *fnSink) error {
	var rows []anRow
	for i, sr := range a.order {
		for _, r := range a.rows(s, sr) {
			rows = append(rows, anRow{t: r[0].Int(), series: i, row: r})
		}
	}
	slices.SortStableFunc(rows, func(x, y anRow) int {
		if c := cmpInt(x.t, y.t); c != 0 {
			return c
		}
		return x.series - y.series
	})
	for _, r := range rows {
		if err := s.keep(r.row); err != nil {
			return err
		}
	}
	a.series, a.order = nil, nil
	return nil
}

// rows returns the answer's rows for one series.
func (a *analyzer) rows(s *fnSink, sr *anSeries) [][]model.Value {
	q := s.q
	it := &q.items[0].it
	extra := 0
	if analyticsColumn(it.Func) != "" {
		extra = 1
	}
	mk := func(t int64, v, x model.Value) []model.Value {
		row := s.prefix(t, 1+extra+len(q.tags))
		row[1+s.ngroup] = v
		if extra == 1 {
			row[2+s.ngroup] = x
		}
		copy(row[2+s.ngroup+extra:], sr.tags)
		return row
	}
	if it.Func == "forecast" {
		return a.forecast(s, sr, mk)
	}
	ts := make([]int64, len(sr.pts))
	ys := make([]float64, len(sr.pts))
	for i, p := range sr.pts {
		ts[i], ys[i] = p.t, asFloat(p.v)
	}
	var out [][]model.Value
	switch it.Func {
	case "downsample":
		for _, i := range DownsampleIndices(it.Method, ts, ys, int(it.N)) {
			out = append(out, mk(ts[i], sr.pts[i].v, model.Null))
		}
	case "anomalies":
		thr := query.DefaultThreshold(it.Method)
		if it.Param != nil {
			thr = *it.Param
		}
		idx, scores := anomalyIndices(ys, it.Method, thr)
		for j, i := range idx {
			out = append(out, mk(ts[i], sr.pts[i].v, model.Float(scores[j])))
		}
	}
	return out
}

// forecast returns the series' buckets (forecast false) and horizon more
// (forecast true). linear fits the non-null buckets against their bucket
// index; holt_winters smooths the non-null values in order.
func (a *analyzer) forecast(s *fnSink, sr *anSeries, mk func(int64, model.Value, model.Value) []model.Value) [][]model.Value {
	it := &s.q.items[0].it
	var out [][]model.Value
	var xs, ys []float64
	t0 := sr.pts[0].t
	for _, p := range sr.pts {
		out = append(out, mk(p.t, p.v, model.Bool(false)))
		if f := asFloat(p.v); !p.v.IsNull() && !math.IsNaN(f) && !math.IsInf(f, 0) {
			xs = append(xs, float64(s.q.bk.count(t0, p.t)-1))
			ys = append(ys, f)
		}
	}
	if len(ys) == 0 {
		return out
	}
	h := int(it.N)
	times := make([]int64, 0, h)
	last := sr.pts[len(sr.pts)-1].t
	lastX := float64(s.q.bk.count(t0, last) - 1)
	future := make([]float64, 0, h)
	for t := last; len(times) < h; {
		lo, _ := s.q.bk.span(t)
		next, ok := s.q.bk.next(lo)
		if !ok {
			break
		}
		t = next
		times = append(times, t)
		future = append(future, lastX+float64(len(times)))
	}
	var pred []float64
	if it.Method == "holt_winters" {
		m := 0
		if it.Param != nil {
			m = int(*it.Param)
		} else {
			m = detectSeason(ys)
		}
		pred = holtWinters(ys, m, len(times))
	} else {
		pred = linearForecast(xs, ys, future)
	}
	for i, t := range times {
		out = append(out, mk(t, model.Float(pred[i]), model.Bool(true)))
	}
	return out
}
