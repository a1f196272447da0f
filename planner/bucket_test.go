package planner

import (
	"math"
	"testing"
	"time"

	"github.com/soltixdb/soltix/query"
)

// TestBucketerExtremes checks buckets and bucket counts at both ends of the
// int64 range (issue 11, 5a and 12): the bucket holding math.MinInt64 was
// labelled in 2262 and the count of 1ns buckets over the range wrapped to 0.
func TestBucketerExtremes(t *testing.T) {
	const (
		minT = math.MinInt64
		maxT = math.MaxInt64
	)
	date := func(y int, mo time.Month, d, h int) int64 {
		return time.Date(y, mo, d, h, 0, 0, 0, time.UTC).UnixNano()
	}
	tests := []struct {
		d              query.Duration
		t              int64
		lo, hi         int64
		countMinToMax  uint64
		countMinToZero uint64
	}{
		{query.Duration{N: 1, Unit: query.Nanosecond}, minT, minT, minT, math.MaxUint64, 1 << 63},
		{query.Duration{N: 1, Unit: query.Nanosecond}, maxT, maxT, maxT, math.MaxUint64, 1 << 63},
		{query.Duration{N: 1, Unit: query.Hour}, minT, minT, date(1677, 9, 21, 1) - 1, 5124096, 2562048},
		{query.Duration{N: 1, Unit: query.Hour}, maxT, date(2262, 4, 11, 23), maxT, 5124096, 2562048},
		{query.Duration{N: 1, Unit: query.Day}, minT, minT, date(1677, 9, 22, 0) - 1, 213504, 106752},
		{query.Duration{N: 1, Unit: query.Week}, minT, minT, date(1677, 9, 27, 0) - 1, 30501, 15251},
		{query.Duration{N: 1, Unit: query.Month}, minT, minT, date(1677, 10, 1, 0) - 1, 7016, 3508},
		{query.Duration{N: 1, Unit: query.Year}, maxT, date(2262, 1, 1, 0), maxT, 586, 293},
		{query.Duration{N: 106751, Unit: query.Day}, minT, minT, -106751*24*int64(time.Hour) - 1, 4, 2},
	}
	for _, tt := range tests {
		b, err := newBucketer(tt.d)
		if err != nil {
			t.Fatal(err)
		}
		if lo, hi := b.span(tt.t); lo != tt.lo || hi != tt.hi {
			t.Errorf("GROUP BY %s: bucket of %d: got [%d, %d], want [%d, %d]", tt.d, tt.t, lo, hi, tt.lo, tt.hi)
		}
		if n := b.count(minT, maxT); n != tt.countMinToMax {
			t.Errorf("GROUP BY %s: buckets of the whole range: got %d, want %d", tt.d, n, tt.countMinToMax)
		}
		if n := b.count(minT, -1); n != tt.countMinToZero {
			t.Errorf("GROUP BY %s: buckets before 1970: got %d, want %d", tt.d, n, tt.countMinToZero)
		}
	}
}
