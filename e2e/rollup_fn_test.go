package e2e

import "testing"

// checkFnRollups checks, over runRollups' year of data, that the nested
// transformations read rollups and answer as levels=raw does, and that
// selectors, median and mode read raw data only.
func checkFnRollups(t *testing.T, query func(q, params string) *rollupAnswer) {
	t.Helper()
	const year = " FROM c WHERE time >= '2025-01-01T00:00:00Z' AND time < '2026-01-01T00:00:00Z'"
	checkRawEqualsRollups(t, query, []rollupCase{
		{"SELECT derivative(mean(v), 1h)" + year + " GROUP BY 1d", true},
		{"SELECT difference(max(v)), cumulative_sum(sum(v))" + year + " GROUP BY 1M", true},
		{"SELECT non_negative_derivative(sum(v), 1d), rate(count(v), 1d)" + year + " GROUP BY 1w", true},
		{"SELECT moving_average(min(v), 3), elapsed(first(v), 1h)" + year + " GROUP BY 1M", true},
		{"SELECT median(v), mode(v)" + year + " GROUP BY 1M", false},
		{"SELECT top(v, 2)" + year + " GROUP BY 1M", false},
		{"SELECT integral(v, 1d)" + year + " GROUP BY 1M", false},
		// Subqueries: the inner statement reads rollups; the outer one
		// reads its answer, so raw and rollups must agree through both.
		{"SELECT max(m), min(m), mean(m) FROM (SELECT max(v) AS m" + year + " GROUP BY 1d)", true},
		{"SELECT sum(n) FROM (SELECT count(v) AS n" + year + " GROUP BY 1w) WHERE n > 0 GROUP BY 1M", true},
		{"SELECT derivative(m, 1d) FROM (SELECT mean(v) AS m" + year + " GROUP BY 1M)", true},
		{"SELECT max(d) FROM (SELECT max(v) - min(v) AS d" + year + " GROUP BY 1d TZ('Europe/Paris'))", true},
		{"SELECT count(t) FROM (SELECT top(v, 3) AS t" + year + " GROUP BY 1M)", false},
	})
}

// rollupCase is a query whose answer from rollups must equal levels=raw's;
// rollups says whether it must use rollup rows (or only raw data).
type rollupCase struct {
	q       string
	rollups bool
}

// checkRawEqualsRollups runs each case with and without levels=raw and
// checks the answers are equal, not empty, and read the levels they must.
func checkRawEqualsRollups(t *testing.T, query func(q, params string) *rollupAnswer, cases []rollupCase) {
	t.Helper()
	for _, tc := range cases {
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
