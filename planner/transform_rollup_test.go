package planner

import (
	"math"
	"regexp"
	"strings"
	"testing"

	"github.com/soltixdb/soltix/model"
)

// TestFnRollupsDifferential checks that the nested transformations, read
// from rollups, answer as from raw data (levels=raw), and that selectors,
// median and mode read raw data only (EXPLAIN shows raw segments).
func TestFnRollupsDifferential(t *testing.T) {
	data, _ := rollupData(1)
	src := newRollupSource(data, 3, math.MinInt64)
	year := " WHERE time >= '2025-01-01T00:00:00Z' AND time < '2026-01-01T00:00:00Z'"
	queries := []string{
		"SELECT derivative(mean(f), 1h) FROM r" + year + " GROUP BY 1d",
		"SELECT difference(max(i)), cumulative_sum(sum(i)) FROM r" + year + " GROUP BY 1M",
		"SELECT non_negative_derivative(sum(i), 1d) FROM r" + year + " GROUP BY 1w, host",
		"SELECT moving_average(count(f), 3) FROM r GROUP BY 1d FILL(none)",
		"SELECT rate(count(u), 1h), elapsed(min(f), 1h) FROM r GROUP BY 1M, host",
		"SELECT non_negative_difference(spread(i)) FROM r" + year + " GROUP BY 6h FILL(0) ORDER BY time DESC LIMIT 40",
		"SELECT derivative(median(f), 1d) FROM r" + year + " GROUP BY 1M",
		"SELECT median(f), mode(i) FROM r GROUP BY 1y",
		"SELECT top(f, 3) FROM r GROUP BY 1M, host",
		"SELECT bottom(i, 2) FROM r GROUP BY 1y",
		"SELECT distinct(host) FROM r GROUP BY 1y",
		"SELECT integral(f, 1h) FROM r GROUP BY 1M",
	}
	usedRollups := false
	for _, q := range queries {
		want, err := executeWith(src, q, Options{RawOnly: true})
		if err != nil {
			t.Fatalf("%s (raw): %v", q, err)
		}
		got, err := executeWith(src, q, Options{})
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		if msg := diffFn(got, want); msg != "" {
			t.Errorf("%s:\n%s", q, msg)
		}
		rollups := false
		for _, ls := range got.Stats.Levels {
			rollups = rollups || ls.Level != "raw"
		}
		usedRollups = usedRollups || rollups
		// Selectors, integral, median and mode read raw data; the nested
		// transformations of other aggregates may use rollups.
		rawOnly := strings.Contains(q, "median") || strings.Contains(q, "mode") || !nestedCall.MatchString(q)
		if rawOnly && rollups {
			t.Errorf("%s: read rollups (%+v), want raw data only", q, got.Stats.Levels)
		}
		if rawOnly {
			ex, err := executeWith(src, "EXPLAIN "+q, Options{})
			if err != nil {
				t.Fatalf("EXPLAIN %s: %v", q, err)
			}
			for _, r := range ex.Rows {
				if r[2].Str() != "raw" {
					t.Errorf("EXPLAIN %s: segment at level %s, want raw", q, r[2].Str())
				}
			}
		}
	}
	if !usedRollups {
		t.Error("no query read rollups")
	}
}

var nestedCall = regexp.MustCompile(`\w\(\w+\(`)

// diffFn compares two answers: integers bit for bit, floats within 1e-9
// relative (of the larger, at least 1e-6 absolute: derivatives of averages
// subtract nearly equal sums).
func diffFn(got, want *Result) string {
	if strings.Join(got.Columns, "|") != strings.Join(want.Columns, "|") {
		return "columns " + strings.Join(got.Columns, "|") + ", want " + strings.Join(want.Columns, "|")
	}
	if len(got.Rows) != len(want.Rows) {
		return "rows:\ngot" + formatRows(got.Rows) + "\nwant" + formatRows(want.Rows)
	}
	for i := range got.Rows {
		for j, g := range got.Rows[i] {
			w := want.Rows[i][j]
			if g.Equal(w) {
				continue
			}
			if g.Kind == model.KindFloat && w.Kind == model.KindFloat {
				a, b := g.Float(), w.Float()
				if (math.IsNaN(a) && math.IsNaN(b)) || math.Abs(a-b) <= math.Max(1e-9*math.Max(math.Abs(a), math.Abs(b)), 1e-6) {
					continue
				}
			}
			return "row " + itoa(i) + " column " + want.Columns[j] + ":\ngot" + formatRows(got.Rows[i:i+1]) + "\nwant" + formatRows(want.Rows[i:i+1])
		}
	}
	return ""
}
