package timex

import (
	"math"
	"math/big"
	"math/rand/v2"
	"testing"
	"time"
)

const (
	hour = int64(time.Hour)
	day  = 24 * hour
)

func TestAddSubMul(t *testing.T) {
	tests := []struct {
		op     string
		a, b   int64
		want   int64
		wantOK bool
	}{
		{"add", 1, 2, 3, true},
		{"add", Max, 0, Max, true},
		{"add", Max, 1, Max, false},
		{"add", Max - 1, 1, Max, true},
		{"add", Min, -1, Min, false},
		{"add", Min, Max, -1, true},
		{"add", Max, Min, -1, true},
		{"add", 0, Min, Min, true},
		{"add", -1, Min, Min, false},
		{"add", 365 * day, Max, Max, false},
		{"sub", 0, Min, Max, false},
		{"sub", -1, Min, Max, true},
		{"sub", Min, 1, Min, false},
		{"sub", Min + 1, 1, Min, true},
		{"sub", Max, -1, Max, false},
		{"sub", 5, 7, -2, true},
		{"mul", 0, Max, 0, true},
		{"mul", Min, 0, 0, true},
		{"mul", Min, 1, Min, true},
		{"mul", Min, -1, Max, false},
		{"mul", Max, -1, -Max, true},
		{"mul", 9_300_000_000, int64(time.Second), Max, false},
		{"mul", -9_300_000_000, int64(time.Second), Min, false},
		{"mul", 9_200_000_000, int64(time.Second), 9_200_000_000 * int64(time.Second), true},
		{"mul", math.MinInt64 / 1000, 1000, math.MinInt64 / 1000 * 1000, true},
		{"mul", math.MinInt64/1000 - 1, 1000, Min, false},
		{"mul", 1 << 32, 1 << 31, Max, false},
		{"mul", -(1 << 32), 1 << 31, Min, true},
		{"mul", 1 << 32, -(1 << 32), Min, false},
	}
	for _, tt := range tests {
		var got int64
		var ok bool
		switch tt.op {
		case "add":
			got, ok = Add(tt.a, tt.b)
		case "sub":
			got, ok = Sub(tt.a, tt.b)
		case "mul":
			got, ok = Mul(tt.a, tt.b)
		}
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("%s(%d, %d): got %d, %v, want %d, %v", tt.op, tt.a, tt.b, got, ok, tt.want, tt.wantOK)
		}
	}
}

// bigFloor is Floor computed with big integers, unclamped.
func bigFloor(t, w, origin int64) *big.Int {
	bt, bw, bo := big.NewInt(t), big.NewInt(w), big.NewInt(origin)
	d := new(big.Int).Sub(bt, bo)
	k := new(big.Int).Div(d, bw) // Euclidean: floor for positive w
	return k.Mul(k, bw).Add(k, bo)
}

func TestFloorCeilSpanBuckets(t *testing.T) {
	widths := []int64{1, 2, 7, int64(time.Second), hour, day, 7 * day, Max / 3, Max}
	origins := []int64{0, 4 * day, -1, Min, Max}
	times := []int64{Min, Min + 1, Min + hour, -day - 1, -1, 0, 1, day, Max - hour, Max - 1, Max}
	bmin, bmax := big.NewInt(Min), big.NewInt(Max)
	for _, w := range widths {
		for _, o := range origins {
			for _, tm := range times {
				want := bigFloor(tm, w, o)
				got, ok := Floor(tm, w, o)
				wantOK := want.Cmp(bmin) >= 0
				if (wantOK && (got != want.Int64() || !ok)) || (!wantOK && (got != Min || ok)) {
					t.Errorf("Floor(%d, %d, %d): got %d, %v, want %s", tm, w, o, got, ok, want)
				}
				// FloorTime: the true start, even below Min.
				wantT := time.Unix(0, want.Int64()).UTC()
				if !wantOK {
					wantT = MinTime().Add(-time.Duration(new(big.Int).Sub(bmin, want).Int64()))
				}
				if ft := FloorTime(tm, w, o); !ft.Equal(wantT) {
					t.Errorf("FloorTime(%d, %d, %d): got %v, want %v", tm, w, o, ft, wantT)
				}
				// Ceil: the floor, or the next start.
				cw := new(big.Int).Set(want)
				if cw.Cmp(big.NewInt(tm)) < 0 {
					cw.Add(cw, big.NewInt(w))
				}
				c, cok := Ceil(tm, w, o)
				cwOK := cw.Cmp(bmax) <= 0
				if (cwOK && (c != cw.Int64() || !cok)) || (!cwOK && (c != Max || cok)) {
					t.Errorf("Ceil(%d, %d, %d): got %d, %v, want %s", tm, w, o, c, cok, cw)
				}
				// Span: [floor, next-1], clipped.
				lo, hi := Span(tm, w, o)
				next := new(big.Int).Add(want, big.NewInt(w))
				wantHi := new(big.Int).Sub(next, big.NewInt(1))
				if wantHi.Cmp(bmax) > 0 {
					wantHi = bmax
				}
				if lo != got || hi != wantHi.Int64() || tm < lo || tm > hi {
					t.Errorf("Span(%d, %d, %d): got [%d, %d], want [%d, %s]", tm, w, o, lo, hi, got, wantHi)
				}
				// Buckets from Min to tm.
				n := Buckets(Min, tm, w, o)
				wantN := new(big.Int).Sub(want, bigFloor(Min, w, o))
				wantN.Div(wantN, big.NewInt(w)).Add(wantN, big.NewInt(1))
				if !wantN.IsUint64() {
					wantN.SetUint64(math.MaxUint64)
				}
				if n != wantN.Uint64() {
					t.Errorf("Buckets(Min, %d, %d, %d): got %d, want %s", tm, w, o, n, wantN)
				}
			}
		}
	}
}

func TestBucketsEdges(t *testing.T) {
	tests := []struct {
		lo, hi, w, origin int64
		want              uint64
	}{
		{Min, Max, 1, 0, math.MaxUint64}, // 1<<64 buckets saturate
		{Min + 1, Max, 1, 0, math.MaxUint64},
		{Min, Max - 1, 1, 0, math.MaxUint64},
		{Min + 1, Max - 1, 1, 0, math.MaxUint64 - 1},
		{Min, Max, 2, 0, 1 << 63},
		{Min, Max, 2, 1, 1<<63 + 1},
		{Min, Max, hour, 0, uint64(math.MaxUint64/uint64(hour)) + 1},
		{0, 0, hour, 0, 1},
		{5, 4, 1, 0, 0},
		{-1, 0, hour, 0, 2},
		{Min, Min, day, 0, 1},
		{Max, Max, day, 0, 1},
		{Min, Max, Max, 0, 4}, // [..Min], [Min+1, -1], [0, Max-1], [Max]
	}
	for _, tt := range tests {
		if got := Buckets(tt.lo, tt.hi, tt.w, tt.origin); got != tt.want {
			t.Errorf("Buckets(%d, %d, %d, %d): got %d, want %d", tt.lo, tt.hi, tt.w, tt.origin, got, tt.want)
		}
	}
	if got := SatMul(math.MaxUint64, 2); got != math.MaxUint64 {
		t.Errorf("SatMul(max, 2): got %d", got)
	}
	if got := SatMul(1<<32, 1<<31); got != 1<<63 {
		t.Errorf("SatMul(1<<32, 1<<31): got %d", got)
	}
}

func TestCalendar(t *testing.T) {
	date := func(y int, m time.Month, d int) int64 { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC).UnixNano() }
	minMonth, maxMonth := MonthIndex(Min), MonthIndex(Max)
	if got, want := minMonth, int64(1677*12+8); got != want {
		t.Errorf("MonthIndex(Min): got %d, want %d", got, want)
	}
	if got, want := maxMonth, int64(2262*12+3); got != want {
		t.Errorf("MonthIndex(Max): got %d, want %d", got, want)
	}
	starts := []struct {
		m      int64
		want   int64
		wantOK bool
	}{
		{minMonth, Min, false}, // 1677-09-01 is before Min
		{minMonth + 1, date(1677, 10, 1), true},
		{maxMonth, date(2262, 4, 1), true},
		{maxMonth + 1, Max, false},
		{-1, Min, false},
		{1970 * 12, 0, true},
	}
	for _, tt := range starts {
		if got, ok := MonthStart(tt.m); got != tt.want || ok != tt.wantOK {
			t.Errorf("MonthStart(%d): got %d, %v, want %d, %v", tt.m, got, ok, tt.want, tt.wantOK)
		}
	}
	if got := MonthTime(minMonth); !got.Equal(time.Date(1677, 9, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("MonthTime(min month): got %v", got)
	}
	spans := []struct {
		t, n   int64
		lo, hi int64
	}{
		{Min, 1, Min, date(1677, 10, 1) - 1},
		{Min, 12, Min, date(1678, 1, 1) - 1},
		{Max, 1, date(2262, 4, 1), Max},
		{Max, 12, date(2262, 1, 1), Max},
		{date(2025, 5, 17), 3, date(2025, 4, 1), date(2025, 7, 1) - 1},
	}
	for _, tt := range spans {
		if lo, hi := MonthSpan(tt.t, tt.n); lo != tt.lo || hi != tt.hi {
			t.Errorf("MonthSpan(%d, %d): got [%d, %d], want [%d, %d]", tt.t, tt.n, lo, hi, tt.lo, tt.hi)
		}
	}
	if got, want := MonthBuckets(Min, Max, 1), uint64(maxMonth-minMonth+1); got != want {
		t.Errorf("MonthBuckets(Min, Max, 1): got %d, want %d", got, want)
	}
	if got := MonthBuckets(Max, Min, 1); got != 0 {
		t.Errorf("MonthBuckets(Max, Min, 1): got %d, want 0", got)
	}
	adds := []struct {
		t, n   int64
		want   int64
		wantOK bool
	}{
		{date(2262, 1, 1), 12, Max, false}, // '2262-01-01' + 1y
		{date(2262, 1, 1), 3, date(2262, 4, 1), true},
		{date(1678, 1, 1), -12, Min, false},
		{date(1678, 1, 1), -3, date(1677, 10, 1), true},
		{date(2025, 1, 31), 1, date(2025, 3, 3), true},
		{0, 1 << 50, Max, false},
		{0, -(1 << 50), Min, false},
		{0, 12 * (math.MaxInt32 / 12), Max, false},
		{Min, 0, Min, true},
		{Max, 0, Max, true},
	}
	for _, tt := range adds {
		if got, ok := AddMonths(tt.t, tt.n); got != tt.want || ok != tt.wantOK {
			t.Errorf("AddMonths(%d, %d): got %d, %v, want %d, %v", tt.t, tt.n, got, ok, tt.want, tt.wantOK)
		}
	}
}

func TestFromTimeAndUnits(t *testing.T) {
	tests := []struct {
		tm     time.Time
		want   int64
		wantOK bool
	}{
		{MinTime(), Min, true},
		{MaxTime(), Max, true},
		{MinTime().Add(-1), Min, false},
		{MaxTime().Add(1), Max, false},
		{time.Date(2263, 1, 1, 0, 0, 0, 0, time.UTC), Max, false},
		{time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC), Min, false},
		{time.Unix(0, 0), 0, true},
	}
	for _, tt := range tests {
		if got, ok := FromTime(tt.tm); got != tt.want || ok != tt.wantOK {
			t.Errorf("FromTime(%v): got %d, %v, want %d, %v", tt.tm, got, ok, tt.want, tt.wantOK)
		}
	}
	if got := ToUnit(-1, int64(time.Millisecond)); got != -1 {
		t.Errorf("ToUnit(-1, ms): got %d, want -1", got)
	}
	if got := ToUnit(Min, int64(time.Second)); got != -9223372037 {
		t.Errorf("ToUnit(Min, s): got %d", got)
	}
	if got, ok := FromUnit(math.MaxInt64/int64(time.Second)+1, int64(time.Second)); ok || got != Max {
		t.Errorf("FromUnit(too many seconds): got %d, %v", got, ok)
	}
	if got := Format(Min); got != "1677-09-21T00:12:43.145224192Z" {
		t.Errorf("Format(Min): got %s", got)
	}
	if got := Mod(-1, 24); got != 23 {
		t.Errorf("Mod(-1, 24): got %d", got)
	}
}

// TestBucketsRandom compares Buckets, Floor and Ceil with big integers over
// random ranges, widths and origins, most of them near the ends.
func TestBucketsRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 5))
	pick := func() int64 {
		switch r.IntN(4) {
		case 0:
			return Min + r.Int64N(1<<40)
		case 1:
			return Max - r.Int64N(1<<40)
		case 2:
			return r.Int64N(1<<41) - 1<<40
		}
		return int64(r.Uint64())
	}
	for range 20000 {
		lo, hi := pick(), pick()
		if lo > hi {
			lo, hi = hi, lo
		}
		w := []int64{1, 2, 3, 1000, hour, day, 7 * day, r.Int64N(Max) + 1}[r.IntN(8)]
		o := pick()
		want := new(big.Int).Sub(bigFloor(hi, w, o), bigFloor(lo, w, o))
		want.Div(want, big.NewInt(w)).Add(want, big.NewInt(1))
		if !want.IsUint64() {
			want.SetUint64(math.MaxUint64)
		}
		if got := Buckets(lo, hi, w, o); got != want.Uint64() {
			t.Fatalf("Buckets(%d, %d, %d, %d): got %d, want %s", lo, hi, w, o, got, want)
		}
		if f, ok := Floor(hi, w, o); ok && (f > hi || bigFloor(hi, w, o).Int64() != f) {
			t.Fatalf("Floor(%d, %d, %d): got %d", hi, w, o, f)
		}
		if c, ok := Ceil(lo, w, o); ok && (c < lo || Dist(lo, c) >= uint64(w)) {
			t.Fatalf("Ceil(%d, %d, %d): got %d", lo, w, o, c)
		}
	}
}
