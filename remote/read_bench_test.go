package remote

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/soltixdb/soltix/model"
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

// BenchmarkDoubleGroupby is TSBS's double-groupby-5 on dense data: 100
// hosts, five integer fields every 10 s for a day, flushed (rollups built),
// avg of the five over 12 hours by hour and host. The hours inside the
// range come from rollup rows; the two edge hours from raw values, which
// the nodes reduce to a summary per host and hour (avg of integers).
func BenchmarkDoubleGroupby(b *testing.B) {
	c := newCluster(b)
	r := rand.New(rand.NewPCG(1, 1))
	pts := make([]model.Point, 0, 100*8640)
	for h := range 100 {
		tags := model.Tags{{Key: rtShard, Value: fmt.Sprintf("host_%d", h)}}
		for i := range 8640 {
			fs := make([]model.Field, 5)
			for f := range fs {
				fs[f] = model.Field{Key: fmt.Sprintf("usage_%d", f), Value: model.Int(r.Int64N(100))}
			}
			pts = append(pts, model.Point{Collection: "cpu", Tags: tags, Time: tBase + int64(i)*int64(10*time.Second), Fields: fs})
		}
	}
	c.write(b, pts)
	c.flush(b)
	stmt, err := query.Parse("SELECT avg(usage_0), avg(usage_1), avg(usage_2), avg(usage_3), avg(usage_4) FROM cpu " +
		"WHERE time >= '2024-01-01T05:26:00Z' AND time < '2024-01-01T17:26:00Z' GROUP BY time(1h), device_id")
	if err != nil {
		b.Fatal(err)
	}
	for _, side := range []struct {
		name string
		src  planner.Source
	}{{"serve", c.single}, {"router", c.reader}} {
		b.Run(side.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := planner.ExecuteWith(context.Background(), side.src, stmt, planner.Options{Now: testNow}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
