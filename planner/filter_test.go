package planner

import (
	"context"
	"fmt"
	"reflect"
	"testing"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/query"
)

// filterSource is a limitSource that filters rows itself, as a storage
// node does for a router: it compiles the ReadSet's Filter, checks that
// every ReadFiltered is the chunk the ReadSet announced, and leaves out
// the rows that do not satisfy the condition.
type filterSource struct {
	*limitSource
	t        *testing.T
	rf       *Filter
	compiled *RowFilter
	next     map[string]int // the rows of each series' next chunk
	read     map[string]int64
	dropped  int
}

func (f *filterSource) Prepare(_ context.Context, rs *ReadSet) error {
	f.rf, f.compiled, f.next, f.read = rs.Filter, nil, map[string]int{}, map[string]int64{}
	if rs.Filter == nil {
		return nil
	}
	c, err := rs.Filter.Compile()
	if err != nil {
		return err
	}
	f.compiled = c
	for _, sr := range rs.Series {
		if sr.Chunk > 0 {
			f.next[model.SeriesKey("", sr.Tags)] = sr.Chunk
		}
	}
	return nil
}

func (f *filterSource) ReadFiltered(ctx context.Context, coll string, tags model.Tags, fields []string, min, max int64, n int, desc bool) ([]model.Column, Scan, error) {
	key := model.SeriesKey("", tags)
	want, ok := f.next[key]
	if f.compiled == nil || !ok {
		return nil, Scan{}, fmt.Errorf("ReadFiltered of %s, which the ReadSet does not read filtered", key)
	}
	if n != want || !reflect.DeepEqual(fields, f.rf.Fields) {
		f.t.Errorf("ReadFiltered of %s: %d rows of %v, the ReadSet announced %d of %v", key, n, fields, want, f.rf.Fields)
	}
	f.next[key] = 2 * n
	if f.next[key] > f.rf.MaxChunk {
		f.next[key] = f.rf.MaxChunk
	}
	cols, err := f.ReadLimit(ctx, coll, tags, fields, min, max, n, desc)
	if err != nil {
		return nil, Scan{}, err
	}
	kinds := make([]model.Kind, len(cols))
	for i := range cols {
		kinds[i] = f.rf.Kinds[i]
	}
	kept, scan, err := f.compiled.Series(tags).Apply(cols, kinds)
	if err != nil {
		return nil, Scan{}, err
	}
	if scan != ScanOf(cols) {
		f.t.Errorf("Apply's scan %+v, ScanOf's %+v", scan, ScanOf(cols))
	}
	f.dropped += scan.Rows - ScanOf(kept).Rows
	return kept, scan, nil
}

// TestFilterSource: raw selects read through a FilterSource that leaves
// out the rows its condition rejects answer as the plan filtering them
// itself does, with the same statistics (points read), in chunks as
// announced, also when the chunks are tiny and LIMIT stops early.
func TestFilterSource(t *testing.T) {
	defer func(b, lo, hi int) { rawChunkBudget, minChunkRows, maxChunkRows = b, lo, hi }(rawChunkBudget, minChunkRows, maxChunkRows)
	for _, sizes := range [][3]int{{rawChunkBudget, minChunkRows, maxChunkRows}, {16, 2, 7}} {
		rawChunkBudget, minChunkRows, maxChunkRows = sizes[0], sizes[1], sizes[2]
		for _, q := range []string{
			"SELECT v, n FROM l WHERE v > 0.9",
			"SELECT v FROM l WHERE n > 2000 ORDER BY time DESC LIMIT 17 OFFSET 3",
			"SELECT n, host FROM l WHERE v < 0.05 GROUP BY dc ORDER BY time DESC LIMIT 40",
			"SELECT v FROM l WHERE n > 100 OR host = 'b' LIMIT 30",
			"SELECT v FROM l WHERE (n < 50 OR v > 0.99) AND dc = '1'",
			"SELECT * FROM l WHERE n >= 0",
			"SELECT v FROM l WHERE n > 99999",
			"SELECT v FROM l WHERE v > 0.5 OR time < 100",
		} {
			want, werr := executeOpts(t, &limitSource{memSource: limitData()}, q, Options{})
			src := &filterSource{limitSource: &limitSource{memSource: limitData()}, t: t}
			got, gerr := executeOpts(t, src, q, Options{})
			if werr != nil || gerr != nil {
				t.Fatalf("%s: %v, want %v", q, gerr, werr)
			}
			if !sameRows(got.Rows, want.Rows) || !reflect.DeepEqual(got.Stats, want.Stats) {
				t.Errorf("chunks %v %s: %d rows %+v, want %d rows %+v", sizes, q, len(got.Rows), got.Stats, len(want.Rows), want.Stats)
			}
			if q != "SELECT * FROM l WHERE n >= 0" && src.dropped == 0 && len(want.Rows) < 12000 {
				t.Errorf("chunks %v %s: the source left out no row", sizes, q)
			}
		}
	}
}

// TestFilterCompileErrors: conditions a plan could not have compiled are
// errors of Compile, never a panic of Apply.
func TestFilterCompileErrors(t *testing.T) {
	for _, tc := range []struct {
		where  string
		fields []string
		kinds  []model.Kind
	}{
		{"v > 'x'", []string{"v"}, []model.Kind{model.KindFloat}},
		{"v =~ /a/", []string{"v"}, []model.Kind{model.KindInt}},
		{"b > true", []string{"b"}, []model.Kind{model.KindBool}},
		{"v > 1", []string{"v", "v"}, []model.Kind{model.KindFloat, model.KindFloat}},
		{"v > 1", []string{"v"}, []model.Kind{model.KindNull}},
		{"v > 1", []string{"v"}, nil},
		{"time > 'nope'", nil, nil},
	} {
		stmt, err := parseWhereForTest(tc.where)
		if err != nil {
			t.Fatal(err)
		}
		f := &Filter{Where: stmt, Now: testNow, Fields: tc.fields, Kinds: tc.kinds, Lo: 0, Hi: 10, MaxChunk: 4}
		if _, err := f.Compile(); err == nil {
			t.Errorf("%s over %v %v: compiled", tc.where, tc.fields, tc.kinds)
		}
	}
	// Columns of another kind than the filter's are an error of Apply.
	where, _ := parseWhereForTest("v > 1")
	rf, err := (&Filter{Where: where, Now: testNow, Fields: []string{"v"}, Kinds: []model.Kind{model.KindFloat}, Lo: 0, Hi: 10, MaxChunk: 4}).Compile()
	if err != nil {
		t.Fatal(err)
	}
	col := model.Column{Name: "v", Kind: model.KindInt, Times: []int64{1}, Ints: []int64{5}}
	if _, _, err := rf.Series(nil).Apply([]model.Column{col}, []model.Kind{model.KindFloat}); err == nil {
		t.Errorf("Apply of an int column to a float condition: no error")
	}
}

func parseWhereForTest(where string) (query.Expr, error) {
	stmt, err := query.Parse("SELECT * FROM x WHERE " + where)
	if err != nil {
		return nil, err
	}
	return stmt.Select.Where, nil
}
