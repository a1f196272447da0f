package planner

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// TestShowAndBudgetLimits checks that the rows of SHOW statements count
// against Options.MaxRows like those of a SELECT, and that a Budget makes
// the row and point limits bound several statements together.
func TestShowAndBudgetLimits(t *testing.T) {
	m := newMemSource()
	for i := range 50 {
		m.write("s", fmt.Sprintf("host=h%02d,dc=d%d", i, i%2), t0, "v", 1.0)
	}
	src := limitData()
	for _, tc := range []struct {
		name    string
		src     Source
		stmts   []string
		opts    Options
		budget  bool
		errText string // "" for none; checked on the last statement
	}{
		{name: "show tag values under", src: m, stmts: []string{"SHOW TAG VALUES FROM s WITH KEY = host"}, opts: Options{MaxRows: 50}},
		{name: "show tag values over", src: m, stmts: []string{"SHOW TAG VALUES FROM s WITH KEY = host"}, opts: Options{MaxRows: 49}, errText: "query returns more than 49 rows (query.max_rows)"},
		{name: "show tag keys over", src: m, stmts: []string{"SHOW TAG KEYS FROM s"}, opts: Options{MaxRows: 1}, errText: "(query.max_rows)"},
		{name: "rows without budget", src: src, stmts: []string{"SELECT v FROM l WHERE host = 'a'", "SELECT v FROM l WHERE host = 'a'"}, opts: Options{MaxRows: 3000}},
		{name: "rows with budget", src: src, stmts: []string{"SELECT v FROM l WHERE host = 'a'", "SELECT v FROM l WHERE host = 'a'"}, opts: Options{MaxRows: 3000}, budget: true, errText: "query returns more than 3000 rows (query.max_rows)"},
		{name: "rows with budget and show", src: m, stmts: []string{"SHOW TAG VALUES FROM s WITH KEY = host", "SHOW TAG VALUES FROM s WITH KEY = dc"}, opts: Options{MaxRows: 51}, budget: true, errText: "(query.max_rows)"},
		{name: "points without budget", src: src, stmts: []string{"SELECT sum(v) FROM l WHERE host = 'a'", "SELECT sum(v) FROM l WHERE host = 'a'"}, opts: Options{MaxPoints: 3000}},
		{name: "points with budget", src: src, stmts: []string{"SELECT sum(v) FROM l WHERE host = 'a'", "SELECT sum(v) FROM l WHERE host = 'a'"}, opts: Options{MaxPoints: 3000}, budget: true, errText: "query reads more than 3000 points (query.max_points)"},
	} {
		opts := tc.opts
		if tc.budget {
			opts.Budget = &Budget{}
		}
		var err error
		for _, q := range tc.stmts {
			if _, err = executeOpts(t, tc.src, q, opts); err != nil {
				break
			}
		}
		switch {
		case tc.errText == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.errText != "" && (!errors.Is(err, ErrLimit) || !strings.Contains(err.Error(), tc.errText)):
			t.Errorf("%s: error %v, want a limit error containing %q", tc.name, err, tc.errText)
		}
	}
}
