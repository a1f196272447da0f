package storage

import (
	"context"
	"slices"
	"testing"

	"github.com/soltixdb/soltix/model"
)

// TestWriteKeepsNoPointArrays checks that once Write returns the store
// refers to none of the written points' Tags and Fields arrays (the HTTP
// layer reuses them for the next batch: lineproto.Arena), and that points
// sharing a Tags slice, new series and known ones, are stored under their
// own series.
func TestWriteKeepsNoPointArrays(t *testing.T) {
	db := openTest(t, t.TempDir())
	defer db.Close()
	ctx := context.Background()
	tagsA := model.Tags{{Key: "host", Value: "a"}, {Key: "rack", Value: "1"}}
	tagsB := model.Tags{{Key: "host", Value: "b"}, {Key: "rack", Value: "2"}}
	fields := []model.Field{{Key: "v", Value: model.Int(1)}, {Key: "w", Value: model.Float(2)}}
	for round := range 2 { // new series, then known ones
		pts := []model.Point{
			{Collection: "cpu", Tags: tagsA, Fields: fields[:1], Time: int64(10 + round)},
			{Collection: "cpu", Tags: tagsA, Fields: fields[1:], Time: int64(20 + round)},
			{Collection: "cpu", Tags: tagsB, Fields: fields, Time: int64(30 + round)},
		}
		if err := db.Write(ctx, pts); err != nil {
			t.Fatal(err)
		}
		// Reuse the arrays, as the next batch would.
		for _, ts := range []model.Tags{tagsA, tagsB} {
			for i := range ts {
				ts[i] = model.Tag{Key: "x", Value: "reused"}
			}
		}
		clear(fields)
		tagsA = model.Tags{{Key: "host", Value: "a"}, {Key: "rack", Value: "1"}}
		tagsB = model.Tags{{Key: "host", Value: "b"}, {Key: "rack", Value: "2"}}
		fields = []model.Field{{Key: "v", Value: model.Int(1)}, {Key: "w", Value: model.Float(2)}}
	}
	got := db.Series("cpu", nil)
	want := []model.Tags{
		{{Key: "host", Value: "a"}, {Key: "rack", Value: "1"}},
		{{Key: "host", Value: "b"}, {Key: "rack", Value: "2"}},
	}
	slices.SortFunc(got, func(a, b model.Tags) int { return compareTags(a, b) })
	if len(got) != len(want) || !slices.Equal(got[0], want[0]) || !slices.Equal(got[1], want[1]) {
		t.Fatalf("series %v, want %v", got, want)
	}
	a := readAll(t, db, "cpu", want[0], "v", "w")
	wantA := map[string]map[int64]model.Value{
		"v": {10: model.Int(1), 11: model.Int(1)},
		"w": {20: model.Float(2), 21: model.Float(2)},
	}
	for f, vals := range wantA {
		if len(a[f]) != len(vals) {
			t.Fatalf("series a, field %s: %v, want %v", f, a[f], vals)
		}
		for tm, v := range vals {
			if !a[f][tm].Equal(v) {
				t.Errorf("series a, field %s at %d: %v, want %v", f, tm, a[f][tm], v)
			}
		}
	}
	if b := readAll(t, db, "cpu", want[1], "v", "w"); len(b["v"]) != 2 || len(b["w"]) != 2 {
		t.Errorf("series b: %v, want two values of v and w", b)
	}
}

func compareTags(a, b model.Tags) int {
	return slices.CompareFunc(a, b, func(x, y model.Tag) int {
		if x.Key != y.Key {
			if x.Key < y.Key {
				return -1
			}
			return 1
		}
		if x.Value < y.Value {
			return -1
		}
		if x.Value > y.Value {
			return 1
		}
		return 0
	})
}
