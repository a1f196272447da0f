package planner

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/query"
)

// partSource is the series of src that keep admits: one node's share.
type partSource struct {
	Source
	keep func(model.Tags) bool
}

func (s *partSource) Series(coll string, match func(model.Tags) bool) []model.Tags {
	return s.Source.Series(coll, func(t model.Tags) bool { return s.keep(t) && (match == nil || match(t)) })
}

// fragSource answers fragment requests by running ExecuteFragment over
// parts of src, as a router over nodes does; calls counts the requests.
type fragSource struct {
	Source
	parts []Source
	calls int
}

func (s *fragSource) AggregateFragments(ctx context.Context, req *FragmentRequest) ([]*Fragment, error) {
	s.calls++
	var out []*Fragment
	for _, p := range s.parts {
		// The statement travels as text, as it does to a node.
		stmt, err := query.Parse((&query.Statement{Select: req.Select}).String())
		if err != nil {
			return nil, err
		}
		r := *req
		r.Select = stmt.Select
		f, err := ExecuteFragment(ctx, p, &r)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}

// TestFragmentsMatchOneSource splits random series over three parts and
// checks that merging their fragments answers what reading every series
// answers, row for row and in the statistics, for fragmentable queries;
// and that queries that are not fragmentable are not asked as fragments.
func TestFragmentsMatchOneSource(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 9))
	src := newMemSource()
	src.create("m", map[string]model.Kind{"i": model.KindInt, "u": model.KindUint, "f": model.KindFloat, "s": model.KindString, "b": model.KindBool})
	defer func(f func() int) { fragmentWorkers = f }(fragmentWorkers)
	fragmentWorkers = func() int { return 3 } // 90 series, 30 a part: each part aggregates on 3 goroutines
	for d := range 90 {
		tags := fmt.Sprintf("dev=d%02d,site=s%d", d, d%3)
		for range 60 {
			// Few distinct times: series share them, so first and last tie.
			ts := int64(r.IntN(40)) * int64(time.Minute)
			kv := []any{"i", int64(r.IntN(2000) - 1000)}
			switch r.IntN(4) {
			case 0:
				kv = append(kv, "u", uint64(r.Uint64()>>1))
			case 1:
				f := r.NormFloat64()
				switch r.IntN(8) {
				case 0:
					f = 0
				case 1:
					f = math.Copysign(0, -1)
				}
				if (d == 0 && r.IntN(10) == 0) || (d == 45 && r.IntN(2) == 0) {
					f = math.NaN() // min and max stop at a NaN that comes first
				}
				kv = append(kv, "f", f)
			case 2:
				kv = append(kv, "s", fmt.Sprint("v", r.IntN(5)))
			case 3:
				kv = append(kv, "b", r.IntN(2) == 0, "i", int64(math.MaxInt64-r.IntN(3)))
			}
			src.write("m", tags, ts, kv...)
		}
	}
	var parts []Source
	for k := range 3 {
		parts = append(parts, &partSource{Source: src, keep: func(tg model.Tags) bool {
			var h int
			for _, c := range tg.Get("dev") {
				h = h*31 + int(c)
			}
			return h%3 == k
		}})
	}
	fs := &fragSource{Source: src, parts: parts}
	now := time.Unix(0, 0).Add(time.Hour)
	for _, q := range []string{
		"SELECT count(i), sum(i), min(i), max(i), spread(i), avg(i), first(i), last(i) FROM m",
		"SELECT count(f), first(f), last(f), count(s), first(s), last(s), last(b), sum(u), avg(u), max(u) FROM m GROUP BY time(10m)",
		"SELECT first(i), last(i), first(s), last(s) FROM m GROUP BY time(1m), site FILL(previous)",
		"SELECT max(i), avg(i) FROM m WHERE f > 0 OR site = 's1' GROUP BY time(7m), dev ORDER BY time DESC LIMIT 3",
		"SELECT count(i) FROM m WHERE s = 'v2' AND time >= now() - 30m GROUP BY time(5m) FILL(0)",
		"SELECT sum(i), avg(i) FROM m WHERE dev = 'd03' OR dev = 'd11' GROUP BY dev",
		"SELECT first(i), last(s), min(f), max(u), count(b) FROM m WHERE dev > 'd05' GROUP BY time(4m)",
		"SELECT count(i) FROM m WHERE dev = 'none'",
		"SELECT min(f), max(f), spread(f) FROM m WHERE dev != 'd00' AND dev != 'd45' GROUP BY time(1m), site",
		"SELECT min(f), max(f) FROM m WHERE f <= 0 GROUP BY time(2m)",
		"SELECT min(f), max(f), spread(f) FROM m GROUP BY time(3m), dev",
		"SELECT min(f), max(f) FROM m GROUP BY time(10m)",
		"SELECT min(f), max(f), spread(f) FROM m GROUP BY time(1m)",
	} {
		stmt, err := query.Parse(q)
		if err != nil {
			t.Fatal(err)
		}
		want, werr := ExecuteWith(context.Background(), src, stmt, Options{Now: now})
		before := fs.calls
		got, gerr := ExecuteWith(context.Background(), fs, stmt, Options{Now: now})
		if werr != nil || gerr != nil {
			t.Fatalf("%s: %v, want %v", q, gerr, werr)
		}
		if fs.calls == before {
			t.Errorf("%s: not asked as fragments", q)
		}
		if !reflect.DeepEqual(got.Rows, want.Rows) || !reflect.DeepEqual(got.Stats, want.Stats) {
			t.Errorf("%s\n got %v %+v\nwant %v %+v", q, got.Rows, got.Stats, want.Rows, want.Stats)
		}
	}
	for _, q := range []string{"SELECT sum(f) FROM m", "SELECT avg(f), min(f) FROM m", "SELECT stddev(i) FROM m", "SELECT percentile(i, 90) FROM m"} {
		stmt, _ := query.Parse(q)
		before := fs.calls
		if _, err := ExecuteWith(context.Background(), fs, stmt, Options{Now: now}); err != nil {
			t.Fatal(err)
		}
		if fs.calls != before {
			t.Errorf("%s: asked as fragments", q)
		}
	}
	// The points limit holds over the fragments together, with the
	// single source's error.
	stmt, _ := query.Parse("SELECT count(i) FROM m")
	_, werr := ExecuteWith(context.Background(), src, stmt, Options{Now: now, MaxPoints: 100})
	_, gerr := ExecuteWith(context.Background(), fs, stmt, Options{Now: now, MaxPoints: 100})
	if werr == nil || fmt.Sprint(gerr) != fmt.Sprint(werr) {
		t.Errorf("limit: %v, want %v", gerr, werr)
	}
}

// TestFragmentWorkersNaN: a node aggregating its series on several
// goroutines must not merge a range whose float min or max is stuck at its
// first value, a NaN, after an earlier range (the serial read passes that
// NaN over and counts the values after it).
func TestFragmentWorkersNaN(t *testing.T) {
	defer func(f func() int) { fragmentWorkers = f }(fragmentWorkers)
	fragmentWorkers = func() int { return 3 }
	src := newMemSource()
	for d := range 24 {
		tags := fmt.Sprintf("dev=d%02d", d)
		if d == 8 { // the first series of the second range
			src.write("m", tags, 0, "f", math.NaN())
			src.write("m", tags, 1, "f", -1000.0)
			src.write("m", tags, 2, "f", 1000.0)
			continue
		}
		src.write("m", tags, 0, "f", float64(d))
	}
	fs := &fragSource{Source: src, parts: []Source{src}}
	stmt, _ := query.Parse("SELECT min(f), max(f), spread(f), count(f) FROM m")
	want, werr := ExecuteWith(context.Background(), src, stmt, Options{Now: time.Unix(100, 0)})
	got, gerr := ExecuteWith(context.Background(), fs, stmt, Options{Now: time.Unix(100, 0)})
	if werr != nil || gerr != nil || fs.calls != 1 {
		t.Fatalf("%v, %v, %d calls", gerr, werr, fs.calls)
	}
	if fmt.Sprint(got.Rows) != fmt.Sprint(want.Rows) || want.Rows[0][1].Float() != -1000 {
		t.Fatalf("rows %v, want %v (min -1000)", got.Rows, want.Rows)
	}
}
