package planner

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/query"
)

func TestErrors(t *testing.T) {
	src := testData()
	for _, tc := range []struct {
		q    string
		want string // substring of the *Error message
	}{
		{"SELECT sum(s) FROM m", `sum does not apply to string field "s"`},
		{"SELECT avg(b) FROM m", `avg does not apply to boolean field "b"`},
		{"SELECT percentile(s, 50) FROM m", `percentile does not apply to string field "s"`},
		{"SELECT count(zz) FROM m", `unknown field "zz"`},
		{"SELECT count(host) FROM m", `unknown field "host"`},
		{"SELECT zz FROM m", `unknown field or tag "zz"`},
		{"SELECT count(v), v FROM m", "cannot mix aggregates"},
		{"SELECT *, count(v) FROM m", "cannot mix aggregates"},
		{"SELECT v FROM m GROUP BY 1h", "GROUP BY an interval needs an aggregate"},
		{"SELECT count(v) FROM m GROUP BY v", `cannot GROUP BY "v"`},
		{"SELECT v FROM m WHERE host > 3", `tag "host" cannot be compared with a number`},
		{"SELECT v FROM m WHERE host IN ('a', 3)", `tag "host" cannot be compared with a number`},
		{"SELECT v FROM m WHERE host = true", `tag "host" cannot be compared with a boolean`},
		{"SELECT v FROM m WHERE s > 3", `string field "s" cannot be compared with a number`},
		{"SELECT v FROM m WHERE v = 'x'", `float field "v" cannot be compared with a string`},
		{"SELECT v FROM m WHERE v =~ /x/", `float field "v" cannot be matched against a regular expression`},
		{"SELECT v FROM m WHERE time =~ /x/", "time cannot be matched"},
		{"SELECT v FROM m WHERE b < true", `boolean field "b" can only be compared with = or !=`},
		{"SELECT v FROM m WHERE b BETWEEN true AND false", `boolean field "b" can only be compared with = or !=`},
		{"SELECT v FROM m WHERE b = 1", `boolean field "b" cannot be compared with a number`},
		{"SELECT v FROM m WHERE time > 'yesterday'", `cannot parse "yesterday" as a time`},
		{"SELECT v FROM m WHERE time > 1.5", "time must be compared with"},
		{"SELECT v FROM m WHERE v > now()", "cannot be compared with a time"},
	} {
		t.Run(tc.q, func(t *testing.T) {
			_, err := execute(src, tc.q)
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("Execute(%q): error %v, want *Error containing %q", tc.q, err, tc.want)
			}
			if !strings.Contains(pe.Msg, tc.want) {
				t.Errorf("Execute(%q): error %q, want it to contain %q", tc.q, pe.Msg, tc.want)
			}
		})
	}
}

func TestErrorPosition(t *testing.T) {
	_, err := execute(testData(), "SELECT sum(s) FROM m")
	if got, want := err.Error(), `1:8: sum does not apply to string field "s"`; got != want {
		t.Errorf("Execute(SELECT sum(s) FROM m): error %q, want %q", got, want)
	}
	if got := (&Error{Msg: "x"}).Error(); got != "x" {
		t.Errorf("Error without position: %q, want %q", got, "x")
	}
}

func TestNotFound(t *testing.T) {
	for _, q := range []string{
		"SELECT v FROM nope",
		"SELECT count(v) FROM nope WHERE time > 0",
		"EXPLAIN SELECT v FROM nope",
		"SHOW TAG KEYS FROM nope",
		"SHOW TAG VALUES FROM nope WITH KEY = k",
		"SHOW FIELDS FROM nope",
		"DELETE FROM nope",
		"DELETE FROM nope WHERE host = 'a' AND time < 5",
	} {
		_, err := execute(testData(), q)
		if !errors.Is(err, ErrNotFound) {
			t.Errorf("Execute(%q): error %v, want ErrNotFound", q, err)
			continue
		}
		if got, want := err.Error(), `collection "nope" not found`; got != want {
			t.Errorf("Execute(%q): error %q, want %q", q, got, want)
		}
	}
}

// failingSource fails every Read.
type failingSource struct {
	*memSource
	err error
}

func (f failingSource) Read(context.Context, string, model.Tags, []string, int64, int64) ([]model.Column, error) {
	return nil, f.err
}

func TestSourceErrorsAndCancel(t *testing.T) {
	boom := errors.New("disk on fire")
	stmt, err := query.Parse("SELECT v FROM m")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Execute(context.Background(), failingSource{testData(), boom}, stmt, testNow); err != boom {
		t.Errorf("Execute with failing Read: error %v, want %v", err, boom)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Execute(ctx, testData(), stmt, testNow); !errors.Is(err, context.Canceled) {
		t.Errorf("Execute with cancelled ctx: error %v, want context.Canceled", err)
	}
}

// cancellingSource cancels the query's context during the first Read.
type cancellingSource struct {
	*memSource
	cancel context.CancelFunc
}

func (c cancellingSource) Read(ctx context.Context, coll string, tags model.Tags, fields []string, min, max int64) ([]model.Column, error) {
	c.cancel()
	return c.memSource.Read(context.Background(), coll, tags, fields, min, max)
}

func TestCancelBetweenSeries(t *testing.T) {
	stmt, err := query.Parse("SELECT count(v) FROM t")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	src := cancellingSource{testData(), cancel}
	if _, err := Execute(ctx, src, stmt, testNow); !errors.Is(err, context.Canceled) {
		t.Errorf("Execute cancelled during the first Read: error %v, want context.Canceled", err)
	}
	if src.reads != 1 {
		t.Errorf("Execute cancelled during the first Read: %d reads, want 1", src.reads)
	}
}

// TestShowBounded checks that SHOW lists stop at the rows limit before
// they are built whole: SHOW SERIES of a collection with more series than
// MaxRows, and SHOW TAG KEYS of every collection, answer a LimitError.
func TestShowBounded(t *testing.T) {
	m := newMemSource()
	for i := range 20 {
		m.write("c", fmt.Sprintf("host=h%02d", i), t0, "v", 1.0)
	}
	for _, tc := range []struct {
		q       string
		max     int64
		limited bool
	}{
		{"SHOW SERIES FROM c", 19, true},
		{"SHOW SERIES FROM c", 20, false},
		{"SHOW TAG KEYS", 1, false},
		{"SHOW FIELD KEYS", 1, false},
	} {
		stmt, err := query.Parse(tc.q)
		if err != nil {
			t.Fatal(err)
		}
		res, err := ExecuteWith(context.Background(), m, stmt, Options{Now: testNow, MaxRows: tc.max})
		if got := errors.Is(err, ErrLimit); got != tc.limited {
			t.Errorf("%s with MaxRows %d: %v, rows %v", tc.q, tc.max, err, res)
		}
	}
	m.write("c", "host=a,rack=r1", t0, "v", 1.0)
	stmt, _ := query.Parse("SHOW TAG KEYS")
	if _, err := ExecuteWith(context.Background(), m, stmt, Options{Now: testNow, MaxRows: 1}); !errors.Is(err, ErrLimit) {
		t.Errorf("SHOW TAG KEYS of 2 keys with MaxRows 1: %v, want ErrLimit", err)
	}
}
