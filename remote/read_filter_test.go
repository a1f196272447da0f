package remote

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/planner"
	"github.com/soltixdb/soltix/query"
)

// filterPoints makes the rows of collection cpu: 14 series (12 devices,
// two series without the shard tag) of rows minutes apart, with fields
// missing at some times (nulls) and a float field above 90 in about one
// row of ten.
func filterPoints(rows int) []model.Point {
	var pts []model.Point
	base := tBase + 40*int64(24*time.Hour)
	for s := range 14 {
		tags := model.Tags{{Key: rtShard, Value: fmt.Sprintf("d%02d", s)}, {Key: "region", Value: []string{"eu", "us", "ap"}[s%3]}}
		if s >= 12 {
			tags = model.Tags{{Key: "host", Value: fmt.Sprintf("h%d", s)}}
		}
		for r := range rows {
			var fs []model.Field
			if r%11 != 0 {
				fs = append(fs, model.Field{Key: "f", Value: model.Float(float64((r*37+s*13)%100) + 0.5)})
			}
			if r%7 != 3 {
				fs = append(fs, model.Field{Key: "i", Value: model.Int(int64((r*53+s)%100) - 50)})
			}
			if r%3 == 0 {
				fs = append(fs, model.Field{Key: "s", Value: model.String(fmt.Sprintf("x%d", (r+s)%4))})
			}
			if r%2 == 0 || len(fs) == 0 {
				fs = append(fs, model.Field{Key: "b", Value: model.Bool((r/2+s)%3 == 0)})
			}
			pts = append(pts, model.Point{Collection: "cpu", Tags: tags, Fields: fs, Time: base + int64(r)*int64(time.Minute)})
		}
	}
	return pts
}

var filterQueries = []string{
	"SELECT * FROM cpu WHERE f > 90 AND time >= '2024-02-10T03:00:00Z' AND time < '2024-02-11T12:00:00Z'",
	"SELECT * FROM cpu WHERE f > 90 AND device_id = 'd07' AND time >= '2024-02-10T03:00:00Z'",
	"SELECT f, i FROM cpu WHERE f > 98 ORDER BY time DESC LIMIT 5 OFFSET 2",
	"SELECT f FROM cpu WHERE f > 99 LIMIT 3",
	"SELECT f FROM cpu WHERE f >= 99 AND device_id = 'd02' LIMIT 4 OFFSET 9",
	"SELECT f, region FROM cpu WHERE f > 95 GROUP BY region ORDER BY time DESC LIMIT 7",
	"SELECT * FROM cpu WHERE f > 97 GROUP BY device_id LIMIT 2",
	"SELECT f, i FROM cpu WHERE (f > 95 OR device_id = 'd03') AND time < '2024-02-10T20:00:00Z'",
	"SELECT i, s FROM cpu WHERE i < -45 OR s = 'x2'",
	"SELECT * FROM cpu WHERE b = true AND f < 5",
	"SELECT s FROM cpu WHERE i > 45",
	"SELECT b FROM cpu WHERE i > 40 AND s != 'x1' ORDER BY time DESC",
	"SELECT i FROM cpu WHERE f > 50 OR time < '2024-02-10T01:00:00Z'",
	"SELECT f FROM cpu WHERE host = 'h12' OR f < 1",
	"SELECT f FROM cpu WHERE region =~ /e/ AND i IN (3, 7, -50) ORDER BY time DESC LIMIT 6",
	"SELECT f FROM cpu WHERE f BETWEEN 10 AND 10.5 OR s =~ /3/ LIMIT 20",
	"SELECT f FROM cpu WHERE f > 90 AND time >= now() - 3000d",
	"SELECT f FROM cpu WHERE nope > 1",
	"SELECT f FROM cpu WHERE f = 'x'",
}

// TestFilterDifferential: raw selects with conditions on fields, which the
// nodes evaluate and answer with the rows that satisfy them, answer as a
// single DB does, with the same query statistics, and a point limit fails
// the same way.
func TestFilterDifferential(t *testing.T) {
	c := newCluster(t)
	pts := filterPoints(3000)
	c.write(t, pts[:len(pts)/2])
	c.flush(t)
	c.write(t, pts[len(pts)/2:])
	ctx := testContext(t)
	check := func(t *testing.T) {
		for _, q := range filterQueries {
			for _, opts := range []planner.Options{{}, {MaxPoints: 5000}} {
				want, werr := run(ctx, c.single, q, opts)
				got, gerr := run(ctx, c.reader, q, opts)
				if opts.MaxPoints > 0 && errors.Is(werr, planner.ErrLimit) && errors.Is(gerr, planner.ErrLimit) {
					// The node may find the query over the limit
					// first, naming itself.
					continue
				}
				if fmt.Sprint(werr) != fmt.Sprint(gerr) {
					t.Errorf("%s (max points %d)\nerror %v, want %v", q, opts.MaxPoints, gerr, werr)
					continue
				}
				if werr != nil {
					continue
				}
				if !reflect.DeepEqual(got.Columns, want.Columns) || !reflect.DeepEqual(got.Rows, want.Rows) {
					t.Errorf("%s\n got %d rows %v\nwant %d rows %v", q, len(got.Rows), head(got.Rows), len(want.Rows), head(want.Rows))
				}
				if !reflect.DeepEqual(got.Stats, want.Stats) {
					t.Errorf("%s\nstats %+v, want %+v", q, got.Stats, want.Stats)
				}
			}
		}
	}
	t.Run("memory and files", check)
	c.flush(t)
	t.Run("flushed", check)
	var read, sent uint64
	for _, n := range c.nodes {
		m := n.Metrics()
		read, sent = read+m.FilteredRowsRead, sent+m.FilteredRowsSent
	}
	if read == 0 || sent*3 > read {
		t.Fatalf("nodes read %d rows to filter and sent %d, want some read and under a third sent", read, sent)
	}
}

// TestFilterShipsLess: a raw select keeping about one row in ten receives
// from the nodes under a third of the bytes it receives when the nodes do
// not filter, with the same answer.
func TestFilterShipsLess(t *testing.T) {
	c := newCluster(t)
	c.write(t, filterPoints(2000))
	c.flush(t)
	ctx := testContext(t)
	q := "SELECT * FROM cpu WHERE f > 90"
	recv := func() uint64 {
		var n uint64
		for _, m := range c.reader.NodeMetrics() {
			n += m.BytesReceived
		}
		return n
	}
	measure := func(push bool) (*planner.Result, uint64) {
		t.Helper()
		pushFilters = push
		defer func() { pushFilters = true }()
		before := recv()
		res, err := run(ctx, c.reader, q, planner.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return res, recv() - before
	}
	whole, wholeBytes := measure(false)
	filtered, filteredBytes := measure(true)
	if !reflect.DeepEqual(whole, filtered) || len(filtered.Rows) < 100 {
		t.Fatalf("answers differ: %d rows filtered on the nodes, %d on the router", len(filtered.Rows), len(whole.Rows))
	}
	if filteredBytes*3 > wholeBytes {
		t.Fatalf("received %d bytes with filtering on the nodes, %d without: want under a third", filteredBytes, wholeBytes)
	}
}

// TestFilterFallback: when what a node sends for a filtered series is not
// what the plan reads (a chunk of another size), the router reads the rows
// unfiltered in the session and the answer and statistics stay a single
// node's.
func TestFilterFallback(t *testing.T) {
	c := newCluster(t)
	c.write(t, filterPoints(500))
	ctx := testContext(t)
	for _, q := range []string{
		"SELECT f, i FROM cpu WHERE f > 90 LIMIT 3",
		"SELECT f FROM cpu WHERE f > 90 ORDER BY time DESC",
	} {
		want, werr := run(ctx, c.single, q, planner.Options{})
		// The plan asks for chunks other than those the ReadSet
		// announced: every chunk the nodes send is not the one read.
		src := &chunkSkew{c: c.reader}
		got, gerr := run(ctx, src, q, planner.Options{})
		if werr != nil || gerr != nil || !reflect.DeepEqual(got.Rows, want.Rows) || !reflect.DeepEqual(got.Stats, want.Stats) {
			t.Fatalf("%s: %v %v, want %v %v", q, got, gerr, want, werr)
		}
		if !strings.Contains(q, "LIMIT") && src.unfiltered == 0 {
			t.Fatalf("%s: no read fell back to unfiltered rows", q)
		}
	}
}

// chunkSkew is a router Client whose scoped sources see a ReadSet whose
// first chunks are one row larger than the plan reads.
type chunkSkew struct {
	c          *Client
	unfiltered int
}

func (s *chunkSkew) Scope(ctx context.Context, stmt *query.Statement, opts planner.Options) (planner.Source, func(), error) {
	src, done, err := s.c.Scope(ctx, stmt, opts)
	if err != nil || src == nil {
		return src, done, err
	}
	return &skewed{scoped: src.(*scoped), s: s}, done, nil
}

type skewed struct {
	*scoped
	s *chunkSkew
}

func (k *skewed) Prepare(ctx context.Context, rs *planner.ReadSet) error {
	for i := range rs.Series {
		switch c := &rs.Series[i].Chunk; {
		case *c > 1:
			*c--
		case *c == 1:
			*c++
		}
	}
	return k.scoped.Prepare(ctx, rs)
}

func (k *skewed) ReadFiltered(ctx context.Context, collection string, tags model.Tags, fields []string, min, max int64, n int, desc bool) ([]model.Column, planner.Scan, error) {
	cols, scan, err := k.scoped.ReadFiltered(ctx, collection, tags, fields, min, max, n, desc)
	if err == nil && scan.Rows == len(rowTimes(cols)) && scan.Rows > 0 {
		k.s.unfiltered++
	}
	return cols, scan, err
}

// The rest of planner.Source goes to the Client.
func (s *chunkSkew) Collections() []string { return s.c.Collections() }
func (s *chunkSkew) Fields(coll string) (map[string]model.Kind, bool) {
	return s.c.Fields(coll)
}
func (s *chunkSkew) TagKeys(coll string) []string        { return s.c.TagKeys(coll) }
func (s *chunkSkew) TagValues(coll, key string) []string { return s.c.TagValues(coll, key) }
func (s *chunkSkew) Series(coll string, match func(model.Tags) bool) []model.Tags {
	return s.c.Series(coll, match)
}
func (s *chunkSkew) Read(ctx context.Context, coll string, tags model.Tags, fields []string, min, max int64) ([]model.Column, error) {
	return s.c.Read(ctx, coll, tags, fields, min, max)
}
func (s *chunkSkew) Explain(coll string, series []model.Tags, min, max int64, level model.Level) model.ReadPlan {
	return s.c.Explain(coll, series, min, max, level)
}
