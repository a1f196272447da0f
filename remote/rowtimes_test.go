package remote

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/soltixdb/soltix/model"
)

// TestRowTimes checks rowTimes against sorting and compacting every
// column's times, for equal, merged and unordered columns.
func TestRowTimes(t *testing.T) {
	col := func(ts ...int64) model.Column { return model.Column{Times: ts} }
	cases := []struct {
		name string
		cols []model.Column
		want []int64
	}{
		{"none", nil, nil},
		{"one", []model.Column{col(1, 5, 9)}, []int64{1, 5, 9}},
		{"equal", []model.Column{col(1, 5, 9), col(1, 5, 9), col(1, 5, 9)}, []int64{1, 5, 9}},
		{"equal empty", []model.Column{col(), col()}, nil},
		{"interleaved", []model.Column{col(1, 5, 9), col(2, 5, 10), col(0)}, []int64{0, 1, 2, 5, 9, 10}},
		{"one empty", []model.Column{col(), col(3, 4)}, []int64{3, 4}},
		{"prefix", []model.Column{col(1, 2, 3), col(1, 2)}, []int64{1, 2, 3}},
		{"unordered", []model.Column{col(9, 1, 5), col(5, 2)}, []int64{1, 2, 5, 9}},
		{"equal unordered", []model.Column{col(9, 1, 9), col(9, 1, 9)}, []int64{1, 9}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := rowTimes(c.cols); !slices.Equal(got, c.want) {
				t.Fatalf("rowTimes = %v, want %v", got, c.want)
			}
		})
	}
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 200 {
		cols := make([]model.Column, 1+r.IntN(4))
		var all []int64
		for j := range cols {
			for k := range r.IntN(30) {
				if r.IntN(3) > 0 {
					cols[j].Times = append(cols[j].Times, int64(k))
				}
			}
			all = append(all, cols[j].Times...)
		}
		slices.Sort(all)
		want := slices.Compact(all)
		if got := rowTimes(cols); !slices.Equal(got, want) && (len(got) != 0 || len(want) != 0) {
			t.Fatalf("case %d: rowTimes(%v) = %v, want %v", i, cols, got, want)
		}
	}
}
