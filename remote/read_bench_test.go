package remote

import (
	"context"
	"testing"

	"github.com/soltixdb/soltix/planner"
	"github.com/soltixdb/soltix/query"
)

// BenchmarkQuery runs queries against a single DB and through the router
// over three nodes on loopback: the difference is the cost of the hop.
func BenchmarkQuery(b *testing.B) {
	c := newCluster(b)
	c.write(b, testPoints(9, 20000))
	c.flush(b)
	queries := map[string]string{
		"one-device-agg": "SELECT count(f), mean(f) FROM m WHERE device_id = 'd03' GROUP BY time(1d)",
		"one-device-raw": "SELECT f FROM m WHERE device_id = 'd03' AND time >= '2024-02-10T00:00:00Z' AND time < '2024-02-11T00:00:00Z'",
		"all-agg":        "SELECT count(f), max(i) FROM m GROUP BY time(30d), region",
		"all-raw-agg":    "SELECT count(f), max(f), sum(i) FROM m WHERE time >= '2024-02-10T00:00:00Z' AND time < '2024-02-12T00:00:00Z' GROUP BY time(6h), region",
		// a raw select with a field condition, which the nodes evaluate
		"all-raw-filter": "SELECT * FROM m WHERE f > 115 AND time >= '2024-02-10T00:00:00Z' AND time < '2024-02-12T00:00:00Z'",
	}
	for name, q := range queries {
		stmt, err := query.Parse(q)
		if err != nil {
			b.Fatal(err)
		}
		for _, side := range []struct {
			name string
			src  planner.Source
		}{{"serve", c.single}, {"router", c.reader}} {
			b.Run(name+"/"+side.name, func(b *testing.B) {
				for b.Loop() {
					if _, err := planner.ExecuteWith(context.Background(), side.src, stmt, planner.Options{Now: testNow}); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
