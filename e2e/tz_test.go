package e2e

import (
	"encoding/json"
	"testing"
)

// zoneQueries are GROUP BY offsets and zones over runRollups' data (one
// device, every ten minutes through 2025, across the DST changes of Europe
// and the United States). useRollups says whether the answer must use
// rollup rows.
var zoneQueries = []struct {
	q          string
	useRollups bool
}{
	{"SELECT count(v), sum(v), min(v), max(v), first(v), last(v) FROM c WHERE time >= '2025-03-01T00:00:00Z' AND time < '2025-04-15T00:00:00Z' GROUP BY 1d TZ('Europe/Paris')", true},
	{"SELECT count(v), min(v), max(v) FROM c WHERE time >= '2025-10-20T00:00:00Z' AND time < '2025-11-10T00:00:00Z' GROUP BY 1d TZ('America/New_York')", true},
	{"SELECT count(v), sum(v), max(v) FROM c GROUP BY 1M TZ('Europe/Paris')", true},
	{"SELECT count(v), last(v) FROM c WHERE time >= '2025-02-01T00:00:00Z' GROUP BY 1w FILL(none) TZ('America/New_York')", true},
	{"SELECT count(v), sum(v) FROM c WHERE time >= '2025-03-01T00:00:00Z' AND time < '2025-04-01T00:00:00Z' GROUP BY time(1d, 6h) TZ('America/New_York')", true},
	{"SELECT count(v), min(v) FROM c WHERE time >= '2025-03-01T00:00:00Z' AND time < '2025-05-01T00:00:00Z' GROUP BY 1d TZ('Asia/Kolkata')", false},
	{"SELECT count(v), max(v) FROM c WHERE time >= '2025-03-01T00:00:00Z' AND time < '2025-03-05T00:00:00Z' GROUP BY time(1h, 15m)", false},
	{"SELECT count(v), sum(v) FROM c GROUP BY time(1y, 3M)", true},
	{"SELECT count(v), max(v) FROM c WHERE time >= '2025-03-01T00:00:00Z' AND time < '2025-04-01T00:00:00Z' GROUP BY time(2h, 1h)", true},
}

// checkZones runs zoneQueries with and without levels=raw: the answers
// must be equal, rollup rows used where the zone allows, and the
// spring-forward day of Paris must hold 23 hours of points. query runs a
// query with extra URL parameters.
func checkZones(t *testing.T, stage string, query func(q, params string) *rollupAnswer) {
	t.Helper()
	for _, zq := range zoneQueries {
		auto, raw := query(zq.q, ""), query(zq.q, "&levels=raw")
		if auto.rowsJSON() != raw.rowsJSON() {
			t.Errorf("%s: %s\n  auto %s (%s)\n  raw  %s", stage, zq.q, auto.rowsJSON(), auto.levels(), raw.rowsJSON())
		}
		var rollupRows int64
		for _, l := range auto.Stats.Levels {
			rollupRows += l.Rows
		}
		if zq.useRollups != (rollupRows > 0) {
			t.Errorf("%s: %s used %s, want rollup rows: %v", stage, zq.q, auto.levels(), zq.useRollups)
		}
	}
	// 2025-03-30 in Paris runs from 2025-03-29T23:00Z to 2025-03-30T22:00Z:
	// 23 hours of ten-minute points.
	a := query("SELECT count(v) FROM c WHERE time >= '2025-03-29T23:00:00Z' AND time < '2025-03-31T00:00:00Z' GROUP BY 1d TZ('Europe/Paris')", "")
	if len(a.Rows) == 0 || a.Rows[0][0] != "2025-03-29T23:00:00Z" || a.Rows[0][1] != json.Number("138") {
		t.Errorf("%s: Paris's 2025-03-30: %s, want [\"2025-03-29T23:00:00Z\",138] first", stage, a.rowsJSON())
	}
}

// checkZoneExplain checks that EXPLAIN says why a zone reads raw data.
func checkZoneExplain(t *testing.T, query func(q, params string) *rollupAnswer) {
	t.Helper()
	a := query("EXPLAIN SELECT count(v) FROM c WHERE time >= '2025-03-01T00:00:00Z' AND time < '2025-04-01T00:00:00Z' GROUP BY 1d TZ('Asia/Kolkata')", "")
	why := -1
	for i, c := range a.Columns {
		if c == "why" {
			why = i
		}
	}
	if why < 0 || len(a.Rows) != 1 || a.Rows[0][2] != "raw" {
		t.Fatalf("EXPLAIN Kolkata days: columns %v rows %s, want one raw segment and a why column", a.Columns, a.rowsJSON())
	}
	if s, _ := a.Rows[0][why].(string); s != "TZ('Asia/Kolkata') is UTC+05:30 here: bucket boundaries fall inside UTC hours, so rollups cannot be used" {
		t.Errorf("EXPLAIN Kolkata days: why %q", s)
	}
}
