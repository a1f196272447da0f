package planner

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/query"
)

// fmtSegments formats segments as "start/end level" with an exclusive end
// (RFC 3339, -inf/+inf for unbounded ends), for readable tables.
func fmtSegments(segs []segment) []string {
	out := []string{}
	for _, s := range segs {
		lo, hi := "-inf", "+inf"
		if s.lo != math.MinInt64 {
			lo = time.Unix(0, s.lo).UTC().Format(time.RFC3339Nano)
		}
		if s.hi != math.MaxInt64 {
			hi = time.Unix(0, s.hi+1).UTC().Format(time.RFC3339Nano)
		}
		out = append(out, lo+"/"+hi+" "+s.level.String())
	}
	return out
}

// planOf plans a SELECT against src.
func planOf(t *testing.T, src Source, q string, opts Options) *plan {
	t.Helper()
	stmt, err := query.Parse(q)
	if err != nil {
		t.Fatalf("parse %q: %v", q, err)
	}
	p, err := newPlan(src, stmt.Select, opts)
	if err != nil {
		t.Fatalf("plan %q: %v", q, err)
	}
	return p
}

// segData is one series of collection c with a float v and an int i every
// 10 minutes of 2025, and a string s at its first point.
func segData() *memSource {
	m := newMemSource()
	col := model.Column{Name: "v", Kind: model.KindFloat}
	ints := model.Column{Name: "i", Kind: model.KindInt}
	for t := t0; t < ns("2026-01-01"); t += 10 * min_ {
		k := (t - t0) / (10 * min_)
		col.Append(t, model.Float(float64(k%97)/4))
		ints.Append(t, model.Int(k%1000-500))
	}
	m.put("c", "host=a", col)
	m.put("c", "host=a", ints)
	m.write("c", "host=a", t0, "s", "x")
	return m
}

func TestSegments(t *testing.T) {
	src := newRollupSource(segData(), 100, math.MinInt64)
	const year = "time >= '2025-01-01T00:00:00Z' AND time < '2026-01-01T00:00:00Z'"
	for _, tc := range []struct {
		q    string
		opts Options
		want []string
	}{
		{q: "SELECT max(v) FROM c WHERE " + year, want: []string{"2025-01-01T00:00:00Z/2026-01-01T00:00:00Z 1y"}},
		{
			q: "SELECT max(v) FROM c WHERE time >= '2025-01-01T12:30:00Z' AND time < '2026-01-01T00:00:00Z'",
			want: []string{
				"2025-01-01T12:30:00Z/2025-01-01T13:00:00Z raw",
				"2025-01-01T13:00:00Z/2025-01-02T00:00:00Z 1h",
				"2025-01-02T00:00:00Z/2025-02-01T00:00:00Z 1d",
				"2025-02-01T00:00:00Z/2026-01-01T00:00:00Z 1M",
			},
		},
		{
			// Both ends unaligned, the end inclusive.
			q: "SELECT count(v) FROM c WHERE time > '2025-03-30T22:59:59Z' AND time <= '2025-05-02T01:30:00Z'",
			want: []string{
				"2025-03-30T22:59:59.000000001Z/2025-03-30T23:00:00Z raw",
				"2025-03-30T23:00:00Z/2025-03-31T00:00:00Z 1h",
				"2025-03-31T00:00:00Z/2025-04-01T00:00:00Z 1d",
				"2025-04-01T00:00:00Z/2025-05-01T00:00:00Z 1M",
				"2025-05-01T00:00:00Z/2025-05-02T00:00:00Z 1d",
				"2025-05-02T00:00:00Z/2025-05-02T01:00:00Z 1h",
				"2025-05-02T01:00:00Z/2025-05-02T01:30:00.000000001Z raw",
			},
		},
		{q: "SELECT max(v) FROM c WHERE " + year + " GROUP BY 1d", want: []string{"2025-01-01T00:00:00Z/2026-01-01T00:00:00Z 1d"}},
		{q: "SELECT max(v) FROM c WHERE " + year + " GROUP BY 10m", want: []string{"2025-01-01T00:00:00Z/2026-01-01T00:00:00Z raw"}},
		{q: "SELECT max(v) FROM c WHERE " + year + " GROUP BY 90m", want: []string{"2025-01-01T00:00:00Z/2026-01-01T00:00:00Z raw"}},
		{q: "SELECT max(v) FROM c WHERE " + year + " GROUP BY 2h", want: []string{"2025-01-01T00:00:00Z/2026-01-01T00:00:00Z 1h"}},
		{q: "SELECT max(v) FROM c WHERE " + year + " GROUP BY 48h", want: []string{"2025-01-01T00:00:00Z/2026-01-01T00:00:00Z 1d"}},
		{q: "SELECT max(v) FROM c WHERE " + year + " GROUP BY 3M", want: []string{"2025-01-01T00:00:00Z/2026-01-01T00:00:00Z 1M"}},
		{q: "SELECT max(v) FROM c WHERE " + year + " GROUP BY 12M", want: []string{"2025-01-01T00:00:00Z/2026-01-01T00:00:00Z 1y"}},
		{q: "SELECT max(v) FROM c WHERE " + year + " GROUP BY 1y", want: []string{"2025-01-01T00:00:00Z/2026-01-01T00:00:00Z 1y"}},
		{q: "SELECT max(v) FROM c WHERE " + year + " GROUP BY 2y", want: []string{"2025-01-01T00:00:00Z/2026-01-01T00:00:00Z 1y"}},
		{
			q: "SELECT max(v) FROM c WHERE time >= '2025-01-01T12:30:00Z' AND time < '2025-03-01T00:00:00Z' GROUP BY 1w",
			want: []string{
				"2025-01-01T12:30:00Z/2025-01-01T13:00:00Z raw",
				"2025-01-01T13:00:00Z/2025-01-02T00:00:00Z 1h",
				"2025-01-02T00:00:00Z/2025-03-01T00:00:00Z 1d",
			},
		},
		{q: "SELECT max(v) FROM c", want: []string{"-inf/+inf 1y"}},
		{q: "SELECT max(v) FROM c GROUP BY 1d", want: []string{"-inf/+inf 1d"}},
		{
			q: "SELECT max(v) FROM c WHERE time >= '2025-01-01T12:30:00Z'",
			want: []string{
				"2025-01-01T12:30:00Z/2025-01-01T13:00:00Z raw",
				"2025-01-01T13:00:00Z/2025-01-02T00:00:00Z 1h",
				"2025-01-02T00:00:00Z/2025-02-01T00:00:00Z 1d",
				"2025-02-01T00:00:00Z/2026-01-01T00:00:00Z 1M",
				"2026-01-01T00:00:00Z/+inf 1y",
			},
		},
		{
			q: "SELECT max(v) FROM c WHERE time < '2025-03-15T06:00:00Z'",
			want: []string{
				"-inf/2025-01-01T00:00:00Z 1y",
				"2025-01-01T00:00:00Z/2025-03-01T00:00:00Z 1M",
				"2025-03-01T00:00:00Z/2025-03-15T00:00:00Z 1d",
				"2025-03-15T00:00:00Z/2025-03-15T06:00:00Z 1h",
			},
		},
		{q: "SELECT max(v) FROM c WHERE time >= '2025-01-01T12:30:00Z' AND time < '2025-01-01T12:40:00Z'", want: []string{"2025-01-01T12:30:00Z/2025-01-01T12:40:00Z raw"}},
		{q: "SELECT max(v) FROM c WHERE time > 5 AND time < 3", want: []string{}},
		// stddev uses rollups; so does percentile, through the rows' sketches.
		{q: "SELECT stddev(v) FROM c WHERE " + year, want: []string{"2025-01-01T00:00:00Z/2026-01-01T00:00:00Z 1y"}},
		{q: "SELECT percentile(v, 50) FROM c WHERE " + year, want: []string{"2025-01-01T00:00:00Z/2026-01-01T00:00:00Z 1y"}},
		{q: "SELECT percentile(v, 50) FROM c WHERE " + year, opts: Options{RawOnly: true}, want: []string{"2025-01-01T00:00:00Z/2026-01-01T00:00:00Z raw"}},
		{q: "SELECT percentile(v, 50), count(i) FROM c WHERE " + year, want: []string{"2025-01-01T00:00:00Z/2026-01-01T00:00:00Z 1y"}},
		{q: "SELECT v FROM c WHERE " + year, want: []string{"2025-01-01T00:00:00Z/2026-01-01T00:00:00Z raw"}},
		// levels=raw.
		{q: "SELECT max(v) FROM c WHERE " + year, opts: Options{RawOnly: true}, want: []string{"2025-01-01T00:00:00Z/2026-01-01T00:00:00Z raw"}},
	} {
		p := planOf(t, src, tc.q, tc.opts)
		if got := fmtSegments(p.segs); !slices.Equal(got, tc.want) {
			t.Errorf("%s (RawOnly %v):\ngot  %s\nwant %s", tc.q, tc.opts.RawOnly, strings.Join(got, "\n     "), strings.Join(tc.want, "\n     "))
		}
	}

	// No rollups, or a source without summaries: one raw segment.
	const q = "SELECT max(v) FROM c WHERE " + year
	want := []string{"2025-01-01T00:00:00Z/2026-01-01T00:00:00Z raw"}
	off := newRollupSource(segData(), 100, math.MinInt64)
	off.on = false
	for name, src := range map[string]Source{"rollups off": off, "block statistics only": newSummarySource(segData(), 100), "values only": segData()} {
		if got := fmtSegments(planOf(t, src, q, Options{}).segs); !slices.Equal(got, want) {
			t.Errorf("%s: %s: got %v, want %v", name, q, got, want)
		}
	}
}

// TestPlanSegmentsProperties checks on random ranges, including ones at
// the ends of the int64 range, that the segments cover the range exactly,
// in order, and that each rollup segment starts and ends on its level's
// bucket boundaries (or at an unbounded end).
func TestPlanSegmentsProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	pick := func() int64 {
		switch rng.IntN(6) {
		case 0:
			return math.MinInt64 + rng.Int64N(400*day)
		case 1:
			return math.MaxInt64 - rng.Int64N(400*day)
		case 2:
			return t0 + rng.Int64N(3*365*day) - 365*day
		case 3:
			return model.Level1M.Floor(t0 + rng.Int64N(3*365*day) - 365*day)
		case 4:
			return model.Level1d.Floor(t0+rng.Int64N(3*365*day)-365*day) - 1
		}
		return int64(rng.Uint64())
	}
	for range 20000 {
		lo, hi := pick(), pick()
		switch rng.IntN(8) {
		case 0:
			lo = math.MinInt64
		case 1:
			hi = math.MaxInt64
		}
		if lo > hi {
			lo, hi = hi, lo
		}
		top := model.Level(rng.IntN(5))
		segs := planSegments(lo, hi, top)
		if len(segs) == 0 || segs[0].lo != lo || segs[len(segs)-1].hi != hi {
			t.Fatalf("planSegments(%d, %d, %s) = %v: does not cover the range", lo, hi, top, segs)
		}
		for i, s := range segs {
			if s.lo > s.hi || s.level > top {
				t.Fatalf("planSegments(%d, %d, %s): bad segment %v", lo, hi, top, s)
			}
			if i > 0 && s.lo != segs[i-1].hi+1 {
				t.Fatalf("planSegments(%d, %d, %s): gap or overlap at %d: %v", lo, hi, top, i, segs)
			}
			if s.level == model.LevelRaw {
				continue
			}
			if s.lo != math.MinInt64 && s.level.Floor(s.lo) != s.lo {
				t.Fatalf("planSegments(%d, %d, %s): segment %v starts off its level's buckets", lo, hi, top, s)
			}
			if s.hi != math.MaxInt64 && s.level.Floor(s.hi+1) != s.hi+1 {
				t.Fatalf("planSegments(%d, %d, %s): segment %v ends off its level's buckets", lo, hi, top, s)
			}
		}
	}
}
