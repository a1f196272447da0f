package e2e

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/soltixdb/soltix/internal/sketch"
	"github.com/soltixdb/soltix/storage"
)

// TestPercentileFromRollups is issue 16's "done when" 5 on a single node:
// a year-long percentile(v, 99) GROUP BY 1M reads rollups (EXPLAIN shows
// 1M segments and the sketch note) and stays within the documented bound
// of levels=raw, which equals the nearest rank computed here.
func TestPercentileFromRollups(t *testing.T) { runPercentileSketch(t, serveTarget) }

// TestClusterPercentileFromRollups is TestPercentileFromRollups through a
// router over three storage nodes: the nodes send their rows' sketches.
func TestClusterPercentileFromRollups(t *testing.T) { runPercentileSketch(t, clusterTargetOf) }

func runPercentileSketch(t *testing.T, start starter) {
	now := time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)
	tg := start(t, storage.Options{NumGroups: 4}, now)
	ep := endpoint{t: t, base: tg.url}

	// Three devices, every ten minutes through 2025: latencies in ms
	// with two decimals (exponential, a heavy tail) and an integer queue
	// length.
	year := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	r := rand.New(rand.NewPCG(16, 99))
	type point struct {
		t   time.Time
		v   float64
		q   int64
		dev string
	}
	var pts []point
	var lp strings.Builder
	for i := range 365 * 24 * 6 {
		ts := year.Add(time.Duration(i) * 10 * time.Minute)
		for _, dev := range []string{"d1", "d2", "d3"} {
			v := math.Round((r.ExpFloat64()*20+1)*100) / 100
			q := int64(r.IntN(500)) - 20
			pts = append(pts, point{t: ts, v: v, q: q, dev: dev})
			fmt.Fprintf(&lp, "lat,device_id=%s v=%s,q=%di %d\n", dev, strconv.FormatFloat(v, 'f', -1, 64), q, ts.UnixNano())
		}
	}
	if code, body := ep.post("/api/v1/write", "text/plain", []byte(lp.String())); code != http.StatusNoContent {
		t.Fatalf("write %d points: %d %s", len(pts), code, body)
	}
	tg.flush()

	const where = " FROM lat WHERE time >= '2025-01-01T00:00:00Z' AND time < '2026-01-01T00:00:00Z' GROUP BY 1M"
	for _, tc := range []struct {
		item  string
		field func(point) float64
		slack float64 // integers are rounded
	}{
		{"percentile(v, 99)", func(p point) float64 { return p.v }, 0},
		{"percentile(v, 50)", func(p point) float64 { return p.v }, 0},
		{"percentile(q, 90)", func(p point) float64 { return float64(p.q) }, 0.5},
		{"percentile(q, 1)", func(p point) float64 { return float64(p.q) }, 0.5},
	} {
		q := "SELECT " + tc.item + where
		// EXPLAIN: the year in 1M segments, and the note.
		ex, err := ep.query("EXPLAIN " + q)
		if err != nil {
			t.Fatalf("EXPLAIN %s: %v", q, err)
		}
		for _, row := range ex.Rows {
			if row[2] != "1M" {
				t.Errorf("EXPLAIN %s: segment %v at level %v, want 1M", q, row[:2], row[2])
			}
		}
		if !ex.sketched() {
			t.Errorf("EXPLAIN %s: stats %+v, want the sketch note", q, ex.Stats)
		}
		got, err := ep.query(q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		exact, err := ep.queryWith(q, url.Values{"levels": {"raw"}})
		if err != nil {
			t.Fatalf("%s (levels=raw): %v", q, err)
		}
		if !got.sketched() || exact.sketched() {
			t.Errorf("%s: notes %+v (levels=raw %+v), want the sketch note without levels=raw only", q, got.Stats, exact.Stats)
		}
		if len(got.Rows) != 12 || len(exact.Rows) != 12 {
			t.Fatalf("%s: %d rows (levels=raw %d), want 12", q, len(got.Rows), len(exact.Rows))
		}
		p, _ := strconv.ParseFloat(strings.TrimSuffix(strings.Split(tc.item, ", ")[1], ")"), 64)
		worst := 0.0
		for m := range 12 {
			lo := year.AddDate(0, m, 0)
			hi := lo.AddDate(0, 1, 0)
			var vs []float64
			for _, pt := range pts {
				if !pt.t.Before(lo) && pt.t.Before(hi) {
					vs = append(vs, tc.field(pt))
				}
			}
			slices.Sort(vs)
			rank := min(max(int(math.Ceil(p*float64(len(vs))/100)), 1), len(vs))
			want := vs[rank-1]
			ev, err := exact.Rows[m][1].(json.Number).Float64()
			if err != nil || ev != want {
				t.Errorf("%s month %d: levels=raw gave %v, want the exact %v", q, m+1, exact.Rows[m][1], want)
			}
			gv, err := got.Rows[m][1].(json.Number).Float64()
			if err != nil {
				t.Fatalf("%s month %d: %v", q, m+1, got.Rows[m][1])
			}
			bound := sketch.Alpha*math.Abs(want)*(1+1e-9) + tc.slack
			if math.Abs(gv-want) > bound {
				t.Errorf("%s month %d: got %v, want %v within %v", q, m+1, gv, want, bound)
			}
			if want != 0 {
				worst = max(worst, math.Abs(gv-want)/math.Abs(want))
			}
		}
		t.Logf("%s: worst relative error over 12 months %.4f%% (bound %g%%)", q, worst*100, sketch.Alpha*100)
	}
}
