package planner

import (
	"context"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/soltixdb/soltix/query"
)

func TestDelete(t *testing.T) {
	// Series of t, in series-key order: t,dc=1,host=a (v 1 at t0, 2 at
	// t0+1h), t,dc=2 (100 at t0+30m), t,dc=2,host=a (1000 at t0), t,host=b
	// (10 at t0).
	all := []string{"t,dc=1,host=a", "t,dc=2", "t,dc=2,host=a", "t,host=b"}
	for _, tc := range []struct {
		q      string
		series int64
		// The one Delete call expected (nil: none): series keys, min, max.
		call  []any
		check queryCase // run afterwards: the deleted points are gone
	}{
		{
			q:      "DELETE FROM t WHERE host = 'a'",
			series: 2,
			call:   []any{[]string{"t,dc=1,host=a", "t,dc=2,host=a"}, int64(math.MinInt64), int64(math.MaxInt64)},
			check:  queryCase{q: "SELECT sum(v), count(v) FROM t", want: [][]any{{0, 110.0, 2}}},
		},
		{
			q:      "DELETE FROM t WHERE time >= '2025-01-01T00:00:00Z' AND time < '2025-01-01T00:30:00Z'",
			series: 4,
			call:   []any{all, t0, t0 + 30*min_ - 1},
			check:  queryCase{q: "SELECT sum(v) FROM t", want: [][]any{{0, 102.0}}},
		},
		{
			q:      "DELETE FROM t WHERE time > '2025-01-01T00:30:00Z' AND (host = 'a' OR dc = '2')",
			series: 3,
			call:   []any{[]string{"t,dc=1,host=a", "t,dc=2", "t,dc=2,host=a"}, t0 + 30*min_ + 1, int64(math.MaxInt64)},
			check:  queryCase{q: "SELECT sum(v) FROM t", want: [][]any{{0, 1111.0}}},
		},
		{
			q:      "delete from t where time <= '2025-01-01T00:30:00Z' and host in ('a', 'b') and time >= '2025-01-01';",
			series: 3,
			call:   []any{[]string{"t,dc=1,host=a", "t,dc=2,host=a", "t,host=b"}, t0, t0 + 30*min_},
			check:  queryCase{q: "SELECT sum(v) FROM t", want: [][]any{{0, 102.0}}},
		},
		{
			q:      "DELETE FROM t",
			series: 4,
			call:   []any{all, int64(math.MinInt64), int64(math.MaxInt64)},
			check:  queryCase{q: "SELECT count(v) FROM t", want: [][]any{}},
		},
		{
			q:      "DELETE FROM t WHERE host !~ /a/ AND dc NOT IN ('1')",
			series: 2,
			call:   []any{[]string{"t,dc=2", "t,host=b"}, int64(math.MinInt64), int64(math.MaxInt64)},
			check:  queryCase{q: "SELECT sum(v) FROM t", want: [][]any{{0, 1003.0}}},
		},
		{
			q:      "DELETE FROM t WHERE host <> '' AND (dc =~ /^2$/ OR dc = '')",
			series: 2,
			call:   []any{[]string{"t,dc=2,host=a", "t,host=b"}, int64(math.MinInt64), int64(math.MaxInt64)},
			check:  queryCase{q: "SELECT sum(v) FROM t", want: [][]any{{0, 103.0}}},
		},
		{
			q:      "DELETE FROM t WHERE time IN ('2025-01-01T00:00:00Z') AND time BETWEEN 0 AND '2025-01-02'",
			series: 4,
			call:   []any{all, t0, t0},
			check:  queryCase{q: "SELECT sum(v) FROM t", want: [][]any{{0, 102.0}}},
		},
		// now() is 00:25.
		{
			q:      "DELETE FROM m WHERE time < now()",
			series: 1,
			call:   []any{[]string{"m,host=a"}, int64(math.MinInt64), t0 + 25*min_ - 1},
			check:  queryCase{q: "SELECT count(v), count(n) FROM m", want: [][]any{{0, 1, 1}}},
		},
		// Nothing to delete: Delete is not called.
		{
			q:     "DELETE FROM t WHERE host = 'zz'",
			check: queryCase{q: "SELECT sum(v) FROM t", want: [][]any{{0, 1113.0}}},
		},
		{
			q:     "DELETE FROM t WHERE time > 10 AND time < 5 AND host = 'a'",
			check: queryCase{q: "SELECT sum(v) FROM t", want: [][]any{{0, 1113.0}}},
		},
		{
			q:     "DELETE FROM empty",
			check: queryCase{q: "SELECT count(v) FROM empty", want: [][]any{}},
		},
		// Bounds past the int64 range saturate (issue 11, 5a: these wrapped
		// and the first deleted everything).
		{
			q:     "DELETE FROM t WHERE time < now() - 1000y",
			check: queryCase{q: "SELECT sum(v) FROM t", want: [][]any{{0, 1113.0}}},
		},
		{
			q:     "DELETE FROM t WHERE time <= '1678-01-01' - 2y",
			check: queryCase{q: "SELECT sum(v) FROM t", want: [][]any{{0, 1113.0}}},
		},
		{
			q:     "DELETE FROM t WHERE time >= now() + 300y",
			check: queryCase{q: "SELECT sum(v) FROM t", want: [][]any{{0, 1113.0}}},
		},
		{
			q:     "DELETE FROM t WHERE time BETWEEN now() + 300y AND now() + 400y",
			check: queryCase{q: "SELECT sum(v) FROM t", want: [][]any{{0, 1113.0}}},
		},
		{
			q:      "DELETE FROM t WHERE time < now() + 1000y AND time > now() - 1000y",
			series: 4,
			call:   []any{all, int64(math.MinInt64), int64(math.MaxInt64)},
			check:  queryCase{q: "SELECT count(v) FROM t", want: [][]any{}},
		},
	} {
		t.Run(tc.q, func(t *testing.T) {
			src := testData()
			res, err := execute(src, tc.q)
			if err != nil {
				t.Fatalf("Execute(%q): error %v", tc.q, err)
			}
			want := wantRows([][]any{{tc.series}})
			if strings.Join(res.Columns, "|") != "deleted_series" || res.TimeColumn != -1 || !sameRows(res.Rows, want) {
				t.Errorf("Execute(%q): got %q (time column %d)%s\nwant [deleted_series] (time column -1)%s",
					tc.q, res.Columns, res.TimeColumn, formatRows(res.Rows), formatRows(want))
			}
			var wantCalls [][]any
			if tc.call != nil {
				wantCalls = [][]any{tc.call}
			}
			if !reflect.DeepEqual(src.deleted, wantCalls) {
				t.Errorf("Execute(%q): Delete calls %v, want %v", tc.q, src.deleted, wantCalls)
			}
			runCases(t, src, []queryCase{tc.check})
		})
	}
}

func TestDeleteErrors(t *testing.T) {
	const (
		interval = "join time conditions to the rest of WHERE with AND at the top level"
		notOne   = "does not select one; use =, <, <=, >, >=, BETWEEN or IN with one value"
		byField  = "DELETE cannot select by field values; use tags and time"
		tagOps   = "DELETE compares tags with =, !=, IN, NOT IN, =~ or !~ only"
	)
	for _, tc := range []struct {
		q    string
		pos  string // line:column of the *Error, "" when not checked
		want string // a substring of its message
	}{
		{"DELETE FROM t WHERE time < 5 OR host = 'x'", "1:21", interval},
		{"DELETE FROM t WHERE host = 'a' AND (time < 5 OR host = 'b')", "1:37", interval},
		{"DELETE FROM t WHERE (time < 5 AND host = 'a') OR host = 'b'", "1:22", interval},
		{"DELETE FROM t WHERE time < 5 OR time > 10", "1:21", interval},
		{"DELETE FROM t WHERE time != 5", "1:21", "time != 5 " + notOne},
		{"DELETE FROM t WHERE time = '2262-01-01' + 1y", "1:21", "time '2262-01-01' + 1y is outside the range of nanosecond timestamps"},
		{"DELETE FROM t WHERE time < '2263-01-01'", "1:21", `time "2263-01-01" is outside the range`},
		{"DELETE FROM t WHERE host = 'a' AND time IN (1, 2)", "1:36", "time IN (1, 2) " + notOne},
		{"DELETE FROM t WHERE time NOT IN (1)", "1:21", "time NOT IN (1) " + notOne},
		{"DELETE FROM m WHERE v > 1", "1:21", byField + ` ("v" is a field)`},
		{"DELETE FROM m WHERE host = 'a' OR s = 'x'", "1:35", byField},
		{"DELETE FROM m WHERE time < 5 AND n IN (1)", "1:34", byField},
		{"DELETE FROM t WHERE host > 'a'", "1:21", tagOps + ", not >"},
		{"DELETE FROM t WHERE host BETWEEN 'a' AND 'b'", "1:21", tagOps + ", not BETWEEN"},
		{"DELETE FROM t WHERE host = 1", "1:21", `tag "host" cannot be compared with a number`},
		{"DELETE FROM t WHERE host IN ('a', now())", "1:21", `tag "host" cannot be compared with a time`},
		{"DELETE FROM t WHERE time > 'yesterday'", "1:21", `cannot parse "yesterday" as a time`},
		{"DELETE FROM t WHERE time =~ /x/", "1:21", "time cannot be matched against a regular expression"},
		{"DELETE FROM t WHERE time > 1.5", "1:21", "time must be compared with"},
	} {
		t.Run(tc.q, func(t *testing.T) {
			src := testData()
			_, err := execute(src, tc.q)
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("Execute(%q): error %v, want *Error containing %q", tc.q, err, tc.want)
			}
			if !strings.Contains(pe.Msg, tc.want) || (tc.pos != "" && pe.Pos.String() != tc.pos) {
				t.Errorf("Execute(%q): error %q, want %s: ...%s...", tc.q, err, tc.pos, tc.want)
			}
			if src.deletes != 0 {
				t.Errorf("Execute(%q): Delete called %d times, want 0", tc.q, src.deletes)
			}
		})
	}
}

// readOnlySource hides the Delete method of the source it wraps.
type readOnlySource struct{ Source }

func TestDeleteSourceErrors(t *testing.T) {
	stmt, err := query.Parse("DELETE FROM t WHERE host = 'a'")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	if _, err := Execute(ctx, readOnlySource{testData()}, stmt, testNow); !errors.Is(err, ErrDeleteUnsupported) {
		t.Errorf("DELETE on a source without Delete: error %v, want ErrDeleteUnsupported", err)
	}

	boom := errors.New("wal on fire")
	src := testData()
	src.delErr = boom
	if _, err := Execute(ctx, src, stmt, testNow); !errors.Is(err, boom) {
		t.Errorf("DELETE with failing Delete: error %v, want %v", err, boom)
	}

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	src = testData()
	if _, err := Execute(cancelled, src, stmt, testNow); !errors.Is(err, context.Canceled) || src.deletes != 0 {
		t.Errorf("DELETE with cancelled ctx: error %v and %d Delete calls, want context.Canceled and none", err, src.deletes)
	}

	explain := &query.Statement{Explain: true, Delete: stmt.Delete}
	src = testData()
	var pe *Error
	if _, err := Execute(ctx, src, explain, testNow); !errors.As(err, &pe) || !strings.Contains(pe.Msg, "EXPLAIN applies to SELECT statements only") || src.deletes != 0 {
		t.Errorf("EXPLAIN DELETE: error %v, want *Error about EXPLAIN and no Delete call", err)
	}
}

// TestDeleteThenWrite checks that a point written after a DELETE is seen.
func TestDeleteThenWrite(t *testing.T) {
	src := testData()
	if _, err := execute(src, "DELETE FROM t WHERE host = 'b'"); err != nil {
		t.Fatal(err)
	}
	src.write("t", "host=b", t0, "v", 7.0)
	runCases(t, src, []queryCase{
		{q: "SELECT v FROM t WHERE host = 'b'", want: [][]any{{t0, 7.0}}},
		{q: "SHOW TAG VALUES FROM t WITH KEY = host", want: [][]any{{"host", "a"}, {"host", "b"}}},
	})
}
