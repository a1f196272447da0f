package planner

import (
	"context"
	"fmt"
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/query"
)

// prepSource wraps a source with Scoper and Preparer and checks that every
// read lies inside what was prepared.
type prepSource struct {
	*rollupSource
	scopes, dones, prepares int
	rs                      *ReadSet
	uncovered               []string // reads outside the ReadSet
	fallbacks               int      // Reads inside a prepared PartSpan (inexact summaries)
}

func (s *prepSource) Scope(ctx context.Context, stmt *query.Statement, opts Options) (Source, func(), error) {
	s.scopes++
	return s, func() { s.dones++ }, nil
}

func (s *prepSource) Prepare(ctx context.Context, rs *ReadSet) error {
	s.prepares++
	s.rs = rs
	return nil
}

func (s *prepSource) find(tags model.Tags) *SeriesRead {
	if s.rs == nil {
		return nil
	}
	for i := range s.rs.Series {
		if s.rs.Series[i].Tags.Equal(tags) {
			return &s.rs.Series[i]
		}
	}
	return nil
}

func (s *prepSource) Read(ctx context.Context, coll string, tags model.Tags, fields []string, min, max int64) ([]model.Column, error) {
	sr := s.find(tags)
	for _, f := range fields {
		covered, inPart := false, false
		if sr != nil {
			for _, v := range sr.Values {
				covered = covered || (v.Field == f && v.Lo <= min && max <= v.Hi)
			}
			for _, p := range sr.Parts {
				inPart = inPart || (p.Field == f && p.Lo <= min && max <= p.Hi)
			}
		}
		switch {
		case covered:
		case inPart:
			s.fallbacks++
		default:
			s.uncovered = append(s.uncovered, fmt.Sprintf("Read %v %s [%d, %d]", tags, f, min, max))
		}
	}
	return s.rollupSource.Read(ctx, coll, tags, fields, min, max)
}

func (s *prepSource) ReadParts(ctx context.Context, coll string, tags model.Tags, field string, min, max int64, whole func(lo, hi int64) bool, level model.Level) ([]Part, error) {
	sr := s.find(tags)
	ok := false
	if sr != nil {
		ok = contains(sr.Parts, PartSpan{Field: field, Lo: min, Hi: max, Level: level})
	}
	if !ok {
		s.uncovered = append(s.uncovered, fmt.Sprintf("ReadParts %v %s [%d, %d] %s", tags, field, min, max, level))
	}
	// The node rebuilds whole from the spec: it must answer alike.
	w := s.rs.Whole.Func()
	for _, probe := range [][2]int64{{min, max}, {min, min}, {max, max}, {min, min + int64(time.Hour) - 1}, {min + 1, min + 48*int64(time.Hour)}} {
		if w(probe[0], probe[1]) != whole(probe[0], probe[1]) {
			s.uncovered = append(s.uncovered, fmt.Sprintf("WholeSpec %+v differs at %v", s.rs.Whole, probe))
		}
	}
	return s.rollupSource.ReadParts(ctx, coll, tags, field, min, max, whole, level)
}

func contains[T comparable](s []T, v T) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// TestScopePrepare runs queries through a Scoper and Preparer and checks
// that the answers do not change, that Scope and done run once per
// statement and Prepare once per SELECT, and that the plan reads nothing it
// did not announce (but re-reads of inexact summaries).
func TestScopePrepare(t *testing.T) {
	m, _ := rollupData(7)
	base := newRollupSource(m, 64, math.MinInt64)
	queries := []string{
		"SELECT count(f), sum(f), min(i), max(u), first(f), last(i) FROM r GROUP BY time(1d)",
		"SELECT avg(i), stddev(f) FROM r WHERE time >= '2025-01-01T00:30:00Z' AND time < '2025-03-01T00:00:00Z' GROUP BY time(1h), s",
		"SELECT percentile(f, 50), count(i) FROM r WHERE time >= '2025-01-01T00:00:00Z' AND time < '2025-02-01T00:00:00Z' GROUP BY time(1M)",
		"SELECT count(f) FROM r WHERE f > 100 AND time >= '2025-01-01T00:00:00Z' AND time < '2025-02-01T00:00:00Z' GROUP BY time(1d)",
		"SELECT f, i FROM r WHERE time >= '2025-01-01T00:00:00Z' AND time < '2025-01-03T00:00:00Z' LIMIT 5",
		"SELECT f FROM r WHERE time >= '2025-01-01T00:00:00Z' AND time < '2025-01-03T00:00:00Z' GROUP BY s ORDER BY time DESC LIMIT 3 OFFSET 2",
		"SELECT count(u) FROM r WHERE s = 'a' GROUP BY time(1y)",
		"SELECT count(u) FROM r WHERE time > 5 AND time < 3",
		"SHOW FIELDS FROM r",
		"EXPLAIN SELECT count(f) FROM r GROUP BY time(1d)",
	}
	for _, q := range queries {
		t.Run(q, func(t *testing.T) {
			want, werr := executeWith(base, q, Options{})
			ps := &prepSource{rollupSource: base}
			got, gerr := executeWith(ps, q, Options{})
			if fmt.Sprint(werr) != fmt.Sprint(gerr) {
				t.Fatalf("error %v, want %v", gerr, werr)
			}
			if werr == nil && !reflect.DeepEqual(got.Rows, want.Rows) {
				t.Fatalf("rows differ through the hooks:\n got %v\nwant %v", got.Rows, want.Rows)
			}
			if ps.scopes != 1 || ps.dones != 1 {
				t.Fatalf("Scope called %d times and done %d times, want 1 and 1", ps.scopes, ps.dones)
			}
			stmt, _ := query.Parse(q)
			wantPrep := 0
			if stmt.Select != nil && !stmt.Explain && q != queries[7] {
				wantPrep = 1
			}
			if ps.prepares != wantPrep {
				t.Fatalf("Prepare called %d times, want %d", ps.prepares, wantPrep)
			}
			if len(ps.uncovered) > 0 {
				t.Fatalf("%d reads outside the ReadSet, first: %s", len(ps.uncovered), ps.uncovered[0])
			}
		})
	}
}

// TestTimeBounds checks the range a router computes before planning.
func TestTimeBounds(t *testing.T) {
	cases := []struct {
		where  string
		lo, hi int64
		empty  bool
	}{
		{"", math.MinInt64, math.MaxInt64, false},
		{"WHERE time >= 10 AND time < 20", 10, 19, false},
		{"WHERE d = 'x' AND time >= 10 AND f > 3 AND time <= 20", 10, 20, false},
		{"WHERE time >= 10 OR time < 5", math.MinInt64, math.MaxInt64, false},
		{"WHERE time > 20 AND time < 10", 0, 0, true},
		{"WHERE time BETWEEN 3 AND 4", 3, 4, false},
	}
	for _, c := range cases {
		stmt, err := query.Parse("SELECT f FROM m " + c.where)
		if err != nil {
			t.Fatal(err)
		}
		lo, hi, empty := TimeBounds(stmt.Select.Where, testNow)
		if empty != c.empty || (!empty && (lo != c.lo || hi != c.hi)) {
			t.Errorf("%s: got [%d, %d] empty %v, want [%d, %d] empty %v", c.where, lo, hi, empty, c.lo, c.hi, c.empty)
		}
	}
}
