package storage

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/planner"
	"github.com/soltixdb/soltix/query"
	"github.com/soltixdb/soltix/storage/wal"
)

// scanOnly is a planner.Source without the postings index: the planner
// selects its series through Series, testing each one.
type scanOnly struct{ planner.Source }

// randomTagClause returns a random WHERE clause over tags a, b, c and d
// (and sometimes the field v), mixing =, !=, regular expressions, AND and
// OR, with values some series have and some none has.
func randomTagClause(r *rand.Rand, depth int) string {
	if depth == 0 || r.IntN(3) == 0 {
		key := []string{"a", "b", "c", "d"}[r.IntN(4)]
		val := fmt.Sprintf("%s%d", key, r.IntN(6))
		switch r.IntN(9) {
		case 8:
			return fmt.Sprintf("%s !~ /^%s/", key, val[:1+r.IntN(len(val))])
		case 0:
			return fmt.Sprintf("%s != '%s'", key, val)
		case 1:
			return fmt.Sprintf("%s =~ /^%s/", key, val[:1+r.IntN(len(val))])
		case 2:
			return fmt.Sprintf("%s !~ /%d$/", key, r.IntN(6))
		case 3:
			return fmt.Sprintf("%s = ''", key)
		case 4:
			return fmt.Sprintf("v > %d", r.IntN(10))
		case 5:
			return fmt.Sprintf("%s =~ /%d|%d/", key, r.IntN(6), r.IntN(6))
		default:
			return fmt.Sprintf("%s = '%s'", key, val)
		}
	}
	n := 2 + r.IntN(3)
	kids := make([]string, n)
	for i := range kids {
		kids[i] = randomTagClause(r, depth-1)
	}
	op := []string{" AND ", " OR "}[r.IntN(2)]
	return "(" + strings.Join(kids, op) + ")"
}

// TestPostingsMatchScan: for random tag filters, queries answered through
// the postings index (planner.IndexedSource) return what the same queries
// return when every series is tested (Source.Series), also after series
// were removed (a dropped group) and added again, and for a DELETE's
// selection.
func TestPostingsMatchScan(t *testing.T) {
	ctx := context.Background()
	db, err := Open(t.TempDir(), &Options{Logger: quiet, FlushInterval: -1, Sync: wal.SyncNever, NumGroups: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	r := rand.New(rand.NewPCG(17, 2))
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	write := func(n int) {
		var pts []model.Point
		for range n {
			var tags model.Tags
			for _, k := range []string{"a", "b", "c", "d"} {
				if r.IntN(5) > 0 { // some series lack a key
					tags = append(tags, model.Tag{Key: k, Value: fmt.Sprintf("%s%d", k, r.IntN(5))})
				}
			}
			pts = append(pts, model.Point{Collection: "m", Tags: tags, Time: base + int64(r.IntN(100))*1e9,
				Fields: []model.Field{{Key: "v", Value: model.Int(int64(r.IntN(10)))}}})
		}
		if err := db.Write(ctx, pts); err != nil {
			t.Fatal(err)
		}
	}
	check := func(round int) {
		for i := range 150 {
			where := randomTagClause(r, 3)
			q := "SELECT count(v), sum(v) FROM m WHERE " + where + " GROUP BY a, b, c, d"
			stmt, err := query.Parse(q)
			if err != nil {
				t.Fatalf("%s: %v", q, err)
			}
			now := time.Unix(0, base).Add(time.Hour)
			got, err := planner.Execute(ctx, db, stmt, now)
			if err != nil {
				t.Fatalf("round %d, %d: %s: %v", round, i, q, err)
			}
			want, err := planner.Execute(ctx, scanOnly{db}, stmt, now)
			if err != nil {
				t.Fatalf("round %d, %d: %s (scan): %v", round, i, q, err)
			}
			if !reflect.DeepEqual(got.Columns, want.Columns) || !reflect.DeepEqual(got.Rows, want.Rows) {
				t.Fatalf("round %d, %d: %s:\npostings %v\nscan     %v", round, i, q, got.Rows, want.Rows)
			}
		}
	}
	write(400)
	check(0)
	if err := db.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := db.DropGroup(ctx, 1); err != nil {
		t.Fatal(err)
	}
	check(1)
	write(300)
	check(2)

	// A DELETE selects through the index too: deleting what a filter
	// selects leaves what the scan counted outside it.
	for i := range 20 {
		where := randomTagClause(r, 2)
		if strings.Contains(where, "v >") {
			continue
		}
		count := func(src planner.Source, w string) int64 {
			stmt, err := query.Parse("SELECT count(v) FROM m WHERE " + w)
			if err != nil {
				t.Fatal(err)
			}
			res, err := planner.Execute(ctx, src, stmt, time.Unix(0, base).Add(time.Hour))
			if err != nil {
				t.Fatalf("%s: %v", w, err)
			}
			if len(res.Rows) == 0 {
				return 0
			}
			return res.Rows[0][1].Int()
		}
		outside := count(scanOnly{db}, "time > 0") - count(scanOnly{db}, where)
		stmt, err := query.Parse("DELETE FROM m WHERE " + where)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := planner.Execute(ctx, db, stmt, time.Unix(0, base).Add(time.Hour)); err != nil {
			t.Fatalf("%d: DELETE WHERE %s: %v", i, where, err)
		}
		if got := count(db, "time > 0"); got != outside {
			t.Fatalf("%d: after DELETE WHERE %s: count %v, want %v", i, where, got, outside)
		}
		write(50)
	}
}

// TestPostingsConcurrent reads through the postings index while writers
// add series and a group is dropped (run it under -race): every answer
// counts whole series, and the index stays consistent with a scan once the
// writers stop.
func TestPostingsConcurrent(t *testing.T) {
	ctx := context.Background()
	db, err := Open(t.TempDir(), &Options{Logger: quiet, FlushInterval: -1, Sync: wal.SyncNever, NumGroups: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	now := time.Unix(0, base).Add(time.Hour)
	stmt, err := query.Parse("SELECT count(v) FROM m WHERE (h =~ /1/ OR k = 'k1') AND k != 'k2'")
	if err != nil {
		t.Fatal(err)
	}
	first := []model.Point{{Collection: "m", Tags: model.Tags{{Key: "h", Value: "h"}}, Time: base, Fields: []model.Field{{Key: "v", Value: model.Int(1)}}}}
	if err := db.Write(ctx, first); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Go(func() {
			for i := range 200 {
				pts := []model.Point{{Collection: "m", Tags: model.Tags{{Key: "h", Value: fmt.Sprintf("h%d_%d", w, i)}, {Key: "k", Value: fmt.Sprintf("k%d", i%3)}},
					Time: base, Fields: []model.Field{{Key: "v", Value: model.Int(1)}}}}
				if err := db.Write(ctx, pts); err != nil {
					t.Error(err)
					return
				}
				if i == 100 && w == 0 {
					if err := db.DropGroup(ctx, 2); err != nil {
						t.Error(err)
					}
				}
			}
		})
	}
	wg.Go(func() {
		for range 100 {
			if _, err := planner.Execute(ctx, db, stmt, now); err != nil {
				t.Error(err)
				return
			}
		}
	})
	wg.Wait()
	got, err := planner.Execute(ctx, db, stmt, now)
	if err != nil {
		t.Fatal(err)
	}
	want, err := planner.Execute(ctx, scanOnly{db}, stmt, now)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Rows, want.Rows) {
		t.Fatalf("postings %v, scan %v", got.Rows, want.Rows)
	}
}

// TestSeriesIndexView: a view holds the series that existed when it was
// taken (later ones are left out, removed ones leave Series), lists come
// ascending, Series sorts by key, and Values with a prefix visits exactly
// the values starting with it.
func TestSeriesIndexView(t *testing.T) {
	ctx := context.Background()
	db, err := Open(t.TempDir(), &Options{Logger: quiet, FlushInterval: -1, Sync: wal.SyncNever, NumGroups: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	write := func(hosts ...string) {
		var pts []model.Point
		for _, h := range hosts {
			pts = append(pts, model.Point{Collection: "m", Tags: model.Tags{{Key: "host", Value: h}, {Key: "dc", Value: h[:1]}},
				Time: 1, Fields: []model.Field{{Key: "v", Value: model.Int(1)}}})
		}
		if err := db.Write(ctx, pts); err != nil {
			t.Fatal(err)
		}
	}
	hosts := func(tags []model.Tags) []string {
		var out []string
		for _, tg := range tags {
			out = append(out, tg.Get("host"))
		}
		return out
	}
	if ix := db.SeriesIndex("none"); ix.Len() != 0 || ix.Postings("host", "a") != nil {
		t.Fatalf("missing collection: Len %d", ix.Len())
	}
	write("b2", "a1", "b1", "a2")
	ix := db.SeriesIndex("m")
	write("a3", "c1")
	if got := ix.Len(); got != 4 {
		t.Fatalf("Len = %d, want 4", got)
	}
	if got := ix.Postings("dc", "a"); !reflect.DeepEqual(got, []int32{1, 3}) {
		t.Errorf("Postings(dc, a) = %v, want [1 3] (a3 came after the view)", got)
	}
	ids, tags := ix.Series(nil, true)
	if want := []string{"a1", "a2", "b1", "b2"}; !reflect.DeepEqual(hosts(tags), want) || len(ids) != 4 {
		t.Errorf("Series(all) = %v %v, want hosts %v", ids, hosts(tags), want)
	}
	if _, tags := ix.Series([]int32{0, 3}, false); !reflect.DeepEqual(hosts(tags), []string{"a2", "b2"}) {
		t.Errorf("Series([0 3]) = %v, want [a2 b2]", hosts(tags))
	}
	if _, tags := ix.Series([]int32{0, 3}, true); !reflect.DeepEqual(hosts(tags), []string{"a1", "b1"}) {
		t.Errorf("Series(not [0 3]) = %v, want [a1 b1]", hosts(tags))
	}
	for _, tc := range []struct {
		prefix string
		want   []string
	}{
		{"", []string{"a1", "a2", "b1", "b2"}},
		{"a", []string{"a1", "a2"}},
		{"b2", []string{"b2"}},
		{"b3", nil},
		{"z", nil},
	} {
		var got []string
		ix.Values("host", tc.prefix, func(v string, ids []int32) {
			if len(ids) != 1 {
				t.Errorf("Values(host, %q): %s has ids %v", tc.prefix, v, ids)
			}
			got = append(got, v)
		})
		slices.Sort(got)
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Values(host, %q) = %v, want %v", tc.prefix, got, tc.want)
		}
	}
	if err := db.DropGroup(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if _, tags := ix.Series(nil, true); len(tags) != 0 {
		t.Errorf("after the drop: Series(all) = %v, want none", hosts(tags))
	}
	write("d1")
	ix = db.SeriesIndex("m")
	if _, tags := ix.Series(nil, true); !reflect.DeepEqual(hosts(tags), []string{"d1"}) || ix.Len() != 7 {
		t.Errorf("after the drop and a write: Series(all) = %v (Len %d), want [d1] (Len 7: ids are not reused)", hosts(tags), ix.Len())
	}
	if got := db.TagValues("m", "dc"); !reflect.DeepEqual(got, []string{"d"}) {
		t.Errorf("TagValues(dc) = %v, want [d]", got)
	}
}
