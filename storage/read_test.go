package storage

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/soltixdb/soltix/internal/timex"
	"github.com/soltixdb/soltix/model"
)

// TestReadPartsAgreesWithRead builds data in several files (overlapping,
// overwritten, partly deleted) and in memory, and checks for random ranges
// and bucket widths that ReadParts returns exactly what Read does: values
// outside summaries equal, and every summary equal to the statistics of the
// values Read has in its range. After compaction it must also summarise.
//
// With disjoint, each round's points lie after the previous round's, so
// the files do not overlap and ReadParts returns each file's values as
// parts of their own (not merged into one column): the check then also
// wants some answer made of two values parts in a row.
func TestReadPartsAgreesWithRead(t *testing.T) {
	adjacent := 0 // answers from disjoint files with two values parts in a row
	for seed := range uint64(8) {
		for _, disjoint := range []bool{false, true} {
			t.Run(fmt.Sprintf("seed %d disjoint %v", seed, disjoint), func(t *testing.T) {
				n := testReadPartsAgreesWithRead(t, seed, disjoint)
				if disjoint {
					adjacent += n
				}
			})
		}
	}
	if adjacent == 0 {
		t.Errorf("disjoint files: no answer made of two values parts in a row (each file's values its own part)")
	}
}

func testReadPartsAgreesWithRead(t *testing.T, seed uint64, disjoint bool) (adjacent int) {
	r := rand.New(rand.NewPCG(seed, 99))
	dir := t.TempDir()
	db, err := Open(dir, &Options{Logger: quiet, FlushInterval: -1, NumGroups: 1, BlockSize: 4, PartitionDuration: 1 << 40})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	dev := model.Tags{{Key: "device_id", Value: "d"}}
	for round := range 4 {
		var pts []model.Point
		for range 30 {
			ts := r.Int64N(300)
			if disjoint {
				ts = int64(round)*75 + r.Int64N(75)
			}
			pts = append(pts, pt("c", "d", ts, iv("n", r.Int64N(100)-50), fv("f", r.NormFloat64())))
		}
		if err := db.Write(ctx, pts); err != nil {
			t.Fatal(err)
		}
		if round == 2 {
			lo := r.Int64N(300)
			if err := db.Delete(ctx, "c", []model.Tags{dev}, lo, lo+r.Int64N(30)); err != nil {
				t.Fatal(err)
			}
		}
		if round < 3 {
			if err := db.Flush(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	check := func(stage string) int {
		summaries := 0
		for q := range 60 {
			min := r.Int64N(320) - 10
			max := min + r.Int64N(320)
			width := int64(1 + r.IntN(200))
			if q%5 == 0 {
				min, max, width = math.MinInt64, math.MaxInt64, 1<<62
			}
			bucket := func(t int64) int64 { return timex.FloorDiv(t, width) }
			whole := func(lo, hi int64) bool { return bucket(lo) == bucket(hi) }
			for _, field := range []string{"n", "f"} {
				want, err := db.Read(ctx, "c", dev, []string{field}, min, max)
				if err != nil {
					t.Fatal(err)
				}
				parts, err := db.ReadParts(ctx, "c", dev, field, min, max, whole, model.LevelRaw)
				if err != nil {
					t.Fatal(err)
				}
				summaries += checkParts(t, fmt.Sprintf("%s: %s [%d, %d] width %d", stage, field, min, max, width), want[0], parts, whole)
				for k := 1; k < len(parts); k++ {
					if parts[k-1].Summary == nil && parts[k].Summary == nil {
						adjacent++
						break
					}
				}
			}
		}
		return summaries
	}
	check("files, memory, a delete")
	if err := db.Compact(ctx); err != nil {
		t.Fatal(err)
	}
	if err := db.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := db.Compact(ctx); err != nil {
		t.Fatal(err)
	}
	if n := check("compacted"); n == 0 {
		t.Errorf("no summary at all after compaction into blocks of 4")
	}
	// A delete over compacted blocks: those blocks must not be
	// summarised any more.
	lo := r.Int64N(250)
	if err := db.Delete(ctx, "c", []model.Tags{dev}, lo, lo+40); err != nil {
		t.Fatal(err)
	}
	check("compacted, then a delete")
	return adjacent
}

// checkParts compares parts with the column Read returned and returns the
// number of summaries.
func checkParts(t *testing.T, what string, want model.Column, parts []model.Part, whole func(lo, hi int64) bool) int {
	t.Helper()
	i, n := 0, 0
	last := int64(math.MinInt64)
	for k, p := range parts {
		if p.Summary == nil {
			for j := 0; j < p.Values.Len(); j++ {
				if i >= want.Len() || p.Values.Times[j] != want.Times[i] || !p.Values.Value(j).Equal(want.Value(i)) {
					t.Fatalf("%s: part %d value %d differs from Read", what, k, j)
				}
				if p.Values.Times[j] < last {
					t.Fatalf("%s: parts out of order", what)
				}
				last = p.Values.Times[j]
				i++
			}
			continue
		}
		n++
		s := p.Summary
		if !whole(s.MinTime, s.MaxTime) || s.MinTime < last {
			t.Fatalf("%s: summary [%d, %d] not whole or out of order", what, s.MinTime, s.MaxTime)
		}
		// The values Read has in the summary's range.
		j := i
		for j < want.Len() && want.Times[j] <= s.MaxTime {
			j++
		}
		run := want.Slice(i, j)
		if run.Len() != s.Count || run.Times[0] != s.MinTime || run.Times[run.Len()-1] != s.MaxTime ||
			!run.Value(0).Equal(s.First) || !run.Value(run.Len()-1).Equal(s.Last) {
			t.Fatalf("%s: summary %+v does not match the %d values Read has there", what, s, run.Len())
		}
		mn, mx := run.Value(0), run.Value(0)
		var si int64
		var sf float64
		for x := 0; x < run.Len(); x++ {
			v := run.Value(x)
			switch run.Kind {
			case model.KindInt:
				si += v.Int()
				if v.Int() < mn.Int() {
					mn = v
				}
				if v.Int() > mx.Int() {
					mx = v
				}
			case model.KindFloat:
				sf += v.Float()
				if v.Float() < mn.Float() {
					mn = v
				}
				if v.Float() > mx.Float() {
					mx = v
				}
			}
		}
		if !mn.Equal(s.Min) || !mx.Equal(s.Max) || si != s.SumInt || math.Abs(sf-s.SumFloat) > 1e-9*math.Max(1, math.Abs(sf)) {
			t.Fatalf("%s: summary %+v, values give min %v max %v sum %v/%v", what, s, mn, mx, si, sf)
		}
		last = s.MaxTime + 1
		i = j
	}
	if i != want.Len() {
		t.Fatalf("%s: parts cover %d values, Read has %d", what, i, want.Len())
	}
	return n
}
