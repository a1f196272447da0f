package httpapi

import (
	"fmt"
	"testing"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/planner"
	"github.com/soltixdb/soltix/query"
)

// TestSplitSeries checks how a SELECT's rows become InfluxDB series: one
// per combination of the GROUP BY tags, each tag once in "tags" and not
// among the columns, also where SELECT * lists the tag as a column too
// (TSBS's lastpoint: SELECT * ... GROUP BY "hostname").
func TestSplitSeries(t *testing.T) {
	s, i := model.String, model.Int
	tests := []struct {
		q       string
		columns []string
		rows    [][]model.Value
		want    string
	}{
		{
			q:       `SELECT * FROM cpu GROUP BY "host" ORDER BY time DESC LIMIT 1`,
			columns: []string{"time", "host", "host", "region", "v"},
			rows:    [][]model.Value{{i(2), s("a"), s("a"), s("eu"), i(7)}, {i(2), s("b"), s("b"), s("us"), i(8)}},
			want:    `cpu [{host a}] [time region v] [[2 "eu" 7]]; cpu [{host b}] [time region v] [[2 "us" 8]]`,
		},
		{
			q:       `SELECT * FROM cpu GROUP BY host, region`,
			columns: []string{"time", "host", "region", "host", "region", "v"},
			rows:    [][]model.Value{{i(1), s("a"), s("eu"), s("a"), s("eu"), i(7)}, {i(2), s("a"), s("eu"), s("a"), s("eu"), i(9)}},
			want:    "cpu [{host a} {region eu}] [time v] [[1 7] [2 9]]",
		},
		{
			q:       `SELECT max(v) FROM cpu GROUP BY 1h, host`,
			columns: []string{"time", "host", "max"},
			rows:    [][]model.Value{{i(0), s("b"), i(3)}, {i(0), s("a"), i(4)}},
			want:    "cpu [{host a}] [time max] [[0 4]]; cpu [{host b}] [time max] [[0 3]]",
		},
		{
			q:       `SELECT max(v) FROM cpu`,
			columns: []string{"time", "max"},
			rows:    [][]model.Value{{i(0), i(4)}},
			want:    "cpu [] [time max] [[0 4]]",
		},
	}
	for _, tc := range tests {
		stmt, err := query.Parse(tc.q)
		if err != nil {
			t.Fatalf("%s: %v", tc.q, err)
		}
		res := &planner.Result{Columns: tc.columns, TimeColumn: 0, Rows: tc.rows}
		var got string
		for k, sr := range splitSeries(stmt, res) {
			if k > 0 {
				got += "; "
			}
			var rows [][]string
			for _, r := range sr.rows {
				var row []string
				for _, v := range r {
					row = append(row, v.String())
				}
				rows = append(rows, row)
			}
			got += fmt.Sprintf("%s %v %v %v", sr.name, sr.tags, sr.columns, rows)
		}
		if got != tc.want {
			t.Errorf("%s:\ngot  %s\nwant %s", tc.q, got, tc.want)
		}
	}
}
