package remote

import (
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/soltixdb/soltix/query"
)

// TestShardValuesLargeStatements: statements at the parser's term limit
// are pruned right and in linear memory: a chain of 20,000 ORed
// conditions allocated gigabytes (a copy of the values so far per OR).
func TestShardValuesLargeStatements(t *testing.T) {
	const n = 20000
	var or, in1, in2 []string
	for i := range n {
		or = append(or, fmt.Sprintf("device_id = 'd%d'", i))
		in1 = append(in1, fmt.Sprintf("'d%d'", i))
		in2 = append(in2, fmt.Sprintf("'d%d'", i+n/2))
	}
	for _, tc := range []struct {
		q    string
		vals int
	}{
		{"SELECT f FROM m WHERE " + strings.Join(or, " OR "), n},
		{"SELECT f FROM m WHERE (" + strings.Join(or, " OR ") + ") AND time > 0 AND host = 'h'", n},
		{"SELECT f FROM m WHERE device_id IN (" + strings.Join(in1, ",") + ") AND device_id IN (" + strings.Join(in2, ",") + ")", n / 2},
		{"SELECT f FROM m WHERE " + strings.Join(or, " OR ") + " OR host = 'h'", -1},
	} {
		stmt, err := query.Parse(tc.q)
		if err != nil {
			t.Fatal(err)
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		gs, vals, ok := statementGroups(stmt, "device_id", 64)
		runtime.ReadMemStats(&after)
		if tc.vals < 0 {
			if ok {
				t.Fatalf("%.60s…: pruned to %d groups, want every group", tc.q, len(gs))
			}
			continue
		}
		if !ok || len(vals) != tc.vals || len(gs) != 64 {
			t.Fatalf("%.60s…: %v %d values %d groups, want %d values", tc.q, ok, len(vals), len(gs), tc.vals)
		}
		if grew := after.TotalAlloc - before.TotalAlloc; grew > 32<<20 {
			t.Fatalf("%.60s…: pruning allocated %d MiB", tc.q, grew>>20)
		}
	}
}
