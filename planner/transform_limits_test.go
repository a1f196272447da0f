package planner

import (
	"context"
	"errors"
	"testing"

	"github.com/soltixdb/soltix/query"
)

// TestFnLimits checks that transformations and selectors stay within the
// query's limits: the raw points they read count against MaxPoints, the
// rows they return (and the values distinct keeps) against MaxRows, and a
// Budget shared by statements counts them.
func TestFnLimits(t *testing.T) {
	src := newMemSource()
	for i := range 100 {
		src.write("c", "h=a", t0+int64(i)*sec, "v", float64(i%40))
	}
	for _, tc := range []struct {
		q       string
		opts    Options
		setting string // "" for no error
		rows    int
	}{
		{"SELECT top(v, 3) FROM c", Options{MaxPoints: 10}, SettingMaxPoints, 0},
		{"SELECT derivative(mean(v)) FROM c GROUP BY 1s", Options{MaxPoints: 10}, SettingMaxPoints, 0},
		{"SELECT distinct(v) FROM c", Options{MaxRows: 5}, SettingMaxRows, 0},
		{"SELECT derivative(v) FROM c", Options{MaxRows: 5}, SettingMaxRows, 0},
		{"SELECT derivative(v) FROM c LIMIT 5", Options{MaxRows: 5}, "", 5},
		{"SELECT derivative(v) FROM c ORDER BY time DESC LIMIT 5 OFFSET 90", Options{MaxRows: 5}, "", 5},
		{"SELECT top(v, 3) FROM c GROUP BY 10s", Options{MaxRows: 29}, SettingMaxRows, 0},
		{"SELECT top(v, 3) FROM c GROUP BY 10s", Options{MaxRows: 30}, "", 30},
		{"SELECT difference(v) FROM c", Options{MaxBytes: 100}, SettingMaxBytes, 0},
	} {
		stmt, err := query.Parse(tc.q)
		if err != nil {
			t.Fatal(err)
		}
		tc.opts.Now = testNow
		res, err := ExecuteWith(context.Background(), src, stmt, tc.opts)
		var le *LimitError
		switch {
		case tc.setting != "" && (!errors.As(err, &le) || le.Setting != tc.setting):
			t.Errorf("%s %+v: error %v, want a limit error on %s", tc.q, tc.opts, err, tc.setting)
		case tc.setting == "" && err != nil:
			t.Errorf("%s %+v: error %v", tc.q, tc.opts, err)
		case tc.setting == "" && len(res.Rows) != tc.rows:
			t.Errorf("%s %+v: %d rows, want %d", tc.q, tc.opts, len(res.Rows), tc.rows)
		}
	}

	// A Budget counts the points read and the rows returned.
	b := &Budget{}
	stmt, _ := query.Parse("SELECT difference(v) FROM c")
	res, err := ExecuteWith(context.Background(), src, stmt, Options{Now: testNow, Budget: b})
	if err != nil {
		t.Fatal(err)
	}
	if b.Rows != int64(len(res.Rows)) || b.Points != 100 || b.Bytes == 0 {
		t.Errorf("budget after %d rows of 100 points: %+v", len(res.Rows), *b)
	}
	if _, err := ExecuteWith(context.Background(), src, stmt, Options{Now: testNow, Budget: b, MaxPoints: 150}); err == nil {
		t.Errorf("a second statement over a budget of 150 points: no error")
	}

	// A cancelled context stops them.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := ExecuteWith(ctx, src, stmt, Options{Now: testNow}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: error %v", err)
	}
}
