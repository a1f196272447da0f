package seriesrate

import (
	"slices"
	"testing"
	"time"

	"github.com/soltixdb/soltix/model"
)

func pt(coll, dev string) model.Point {
	return model.Point{Collection: coll, Tags: model.Tags{{Key: "device_id", Value: dev}}}
}

// TestAdmit: which points a limiter of 2 new series per minute refuses,
// batch after batch, at the times given.
func TestAdmit(t *testing.T) {
	t0 := time.Unix(1000, 0)
	type batch struct {
		at      time.Duration // after t0
		points  []model.Point
		isNew   []bool
		refused []int
	}
	for _, tc := range []struct {
		name    string
		batches []batch
	}{
		{"known series take nothing", []batch{
			{0, []model.Point{pt("m", "a"), pt("m", "b"), pt("m", "c")}, []bool{false, false, false}, nil},
		}},
		{"a series' points count once", []batch{
			{0, []model.Point{pt("m", "a"), pt("m", "a"), pt("m", "b"), pt("m", "a")}, []bool{true, true, true, true}, nil},
		}},
		{"over the bucket: every point of the later series", []batch{
			{0, []model.Point{pt("m", "a"), pt("m", "b"), pt("m", "c"), pt("m", "a"), pt("m", "c")}, []bool{true, true, true, true, true}, []int{2, 4}},
		}},
		{"per collection", []batch{
			{0, []model.Point{pt("m", "a"), pt("m", "b"), pt("n", "a"), pt("n", "b")}, []bool{true, true, true, true}, nil},
			{0, []model.Point{pt("m", "c"), pt("n", "c")}, []bool{true, true}, []int{0, 1}},
		}},
		{"refilled with time", []batch{
			{0, []model.Point{pt("m", "a"), pt("m", "b")}, []bool{true, true}, nil},
			{10 * time.Second, []model.Point{pt("m", "c")}, []bool{true}, []int{0}},
			{30 * time.Second, []model.Point{pt("m", "c"), pt("m", "d")}, []bool{true, true}, []int{1}},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := New(2, 100)
			for i, b := range tc.batches {
				refused, _ := l.Admit(b.points, b.isNew, t0.Add(b.at))
				if !slices.Equal(refused, b.refused) {
					t.Fatalf("batch %d: refused %v, want %v", i, refused, b.refused)
				}
			}
		})
	}
}

// TestGiveBack: tokens of a batch not written are given back; a nil
// limiter admits everything; 0 takes the default and -1 is no limit.
func TestGiveBack(t *testing.T) {
	t0 := time.Unix(1000, 0)
	l := New(2, 100)
	two := []model.Point{pt("m", "a"), pt("m", "b")}
	if r, g := l.Admit(two, []bool{true, true}, t0); r != nil || g["m"] != 2 {
		t.Fatalf("first: %v %v", r, g)
	} else {
		l.GiveBack(g)
	}
	if r, _ := l.Admit(two, []bool{true, true}, t0); r != nil {
		t.Fatalf("after giving back: refused %v", r)
	}
	if r, _ := l.Admit([]model.Point{pt("m", "c")}, []bool{true}, t0); !slices.Equal(r, []int{0}) {
		t.Fatalf("bucket empty: refused %v", r)
	}
	if l.Rate() != 2 || l.RetryAfter() != 30 {
		t.Fatalf("rate %d retry after %d", l.Rate(), l.RetryAfter())
	}
	if New(0, 100).Rate() != 100 || New(-1, 100) != nil {
		t.Fatal("New(0) must take the default and New(-1) be nil")
	}
	var none *Limiter
	if r, g := none.Admit(two, []bool{true, true}, t0); r != nil || g != nil {
		t.Fatalf("nil limiter: %v %v", r, g)
	}
	none.GiveBack(Grant{"m": 1})
}
