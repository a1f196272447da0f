package e2e

import "testing"

// checkAnalyticsRollups checks, over runRollups' year of data, that the
// nested analytics functions (planner/analytics.go) read rollups and
// answer as levels=raw does, and that downsample of points reads raw data.
func checkAnalyticsRollups(t *testing.T, query func(q, params string) *rollupAnswer) {
	t.Helper()
	const year = " FROM c WHERE time >= '2025-01-01T00:00:00Z' AND time < '2026-01-01T00:00:00Z'"
	checkRawEqualsRollups(t, query, []rollupCase{
		{"SELECT downsample(max(v), 5)" + year + " GROUP BY 1d", true},
		{"SELECT downsample(mean(v), 8, 'm4')" + year + " GROUP BY 1w", true},
		{"SELECT anomalies(sum(v), 'zscore', 1)" + year + " GROUP BY 1d", true},
		{"SELECT forecast(mean(v), 3)" + year + " GROUP BY 1M", true},
		{"SELECT forecast(max(v), 4, 'holt_winters')" + year + " GROUP BY 1w", true},
		{"SELECT downsample(v, 10, 'minmax')" + year, false},
	})
}
