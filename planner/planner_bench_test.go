package planner

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/query"
)

// benchColumn returns n float points one second apart from t0.
func benchColumn(n int) model.Column {
	col := model.Column{Name: "v", Kind: model.KindFloat, Times: make([]int64, n), Floats: make([]float64, n)}
	for i := range n {
		col.Times[i] = t0 + int64(i)*int64(time.Second)
		col.Floats[i] = float64(i%1000) * 0.5
	}
	return col
}

func BenchmarkExecute(b *testing.B) {
	w := benchColumn(1_000_000)
	w.Name = "w"
	src := newMemSource().
		put("big", "host=a", benchColumn(1_000_000)).
		put("small", "host=a", benchColumn(10_000)).
		put("big2", "host=a", benchColumn(1_000_000)).
		put("big2", "host=a", w)
	for _, bc := range []struct {
		name, q  string
		wantRows int
	}{
		{"avg_1M_points_group_by_1h", fmt.Sprintf("SELECT avg(v) FROM big WHERE time >= %d AND time < %d GROUP BY 1h", t0, t0+1_000_000*int64(time.Second)), 278},
		{"raw_10k_rows", "SELECT v FROM small", 10_000},
		{"avg_1M_rows_2_fields_where", "SELECT avg(v) FROM big2 WHERE w > 10 GROUP BY 1h", 278},
	} {
		stmt, err := query.Parse(bc.q)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				res, err := Execute(context.Background(), src, stmt, testNow)
				if err != nil {
					b.Fatal(err)
				}
				if len(res.Rows) != bc.wantRows {
					b.Fatalf("%s: %d rows, want %d", bc.q, len(res.Rows), bc.wantRows)
				}
			}
		})
	}
}

// BenchmarkSummaries runs avg over 1M float points GROUP BY 1d reading the
// values, and reading blocks of 1000 values (colstore's default) as
// summaries where they lie inside a day.
func BenchmarkSummaries(b *testing.B) {
	src := newMemSource().put("big", "host=a", benchColumn(1_000_000))
	q := fmt.Sprintf("SELECT avg(v) FROM big WHERE time >= %d AND time < %d GROUP BY 1d", t0, t0+1_000_000*int64(time.Second))
	stmt, err := query.Parse(q)
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		src  Source
	}{
		{"values", src},
		{"summaries", newSummarySource(src, 1000)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				res, err := Execute(context.Background(), bc.src, stmt, testNow)
				if err != nil {
					b.Fatal(err)
				}
				if len(res.Rows) != 12 {
					b.Fatalf("%s: %d rows, want 12", q, len(res.Rows))
				}
			}
		})
	}
}
