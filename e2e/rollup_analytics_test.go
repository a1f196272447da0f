package e2e

import "testing"

// checkAnalyticsRollups checks, over runRollups' year of data, that the
// nested analytics functions (planner/analytics.go) read rollups and
// answer as levels=raw does, and that downsample of points reads raw data.
func checkAnalyticsRollups(t *testing.T, query func(q, params string) *rollupAnswer) {
	t.Helper()
	const year = " FROM c WHERE time >= '2025-01-01T00:00:00Z' AND time < '2026-01-01T00:00:00Z'"
	for _, tc := range []struct {
		q       string
		rollups bool // the answer must use rollup rows
	}{
		{"SELECT downsample(max(v), 5)" + year + " GROUP BY 1d", true},
		{"SELECT downsample(mean(v), 8, 'm4')" + year + " GROUP BY 1w", true},
		{"SELECT anomalies(sum(v), 'zscore', 1)" + year + " GROUP BY 1d", true},
		{"SELECT forecast(mean(v), 3)" + year + " GROUP BY 1M", true},
		{"SELECT forecast(max(v), 4, 'holt_winters')" + year + " GROUP BY 1w", true},
		{"SELECT downsample(v, 10, 'minmax')" + year, false},
	} {
		auto, raw := query(tc.q, ""), query(tc.q, "&levels=raw")
		if auto.rowsJSON() != raw.rowsJSON() {
			t.Errorf("%s\n  auto %s (%s)\n  raw  %s", tc.q, auto.rowsJSON(), auto.levels(), raw.rowsJSON())
		}
		if len(auto.Rows) == 0 {
			t.Errorf("%s: no rows", tc.q)
		}
		var rollupRows int64
		for _, l := range auto.Stats.Levels {
			rollupRows += l.Rows
		}
		if tc.rollups && rollupRows == 0 {
			t.Errorf("%s used no rollup rows: %s", tc.q, auto.levels())
		}
		if !tc.rollups && rollupRows != 0 {
			t.Errorf("%s used rollup rows: %s, want raw only", tc.q, auto.levels())
		}
	}
}
