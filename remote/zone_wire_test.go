package remote

import (
	"reflect"
	"testing"
	"time"

	"github.com/soltixdb/soltix/planner"
)

// zonedWhole is the whole predicate of GROUP BY time(1d, 6h)
// TZ('Europe/Paris'): Kind 3, one-day buckets from civil day 0, 6h on the
// zone's clock.
var zonedWhole = planner.WholeSpec{Kind: 3, Width: 1, Origin: 0, Zone: "Europe/Paris", Wall: int64(6 * time.Hour),
	Lo: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano(), Hi: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()}

// TestZonedWholeWire checks that a zoned whole predicate crosses the wire
// intact and that the node's rebuilt predicate follows the zone's days.
func TestZonedWholeWire(t *testing.T) {
	m := fetchMsg{Whole: zonedWhole}
	var got fetchMsg
	if err := got.decode(m.encode()); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Whole, zonedWhole) {
		t.Fatalf("decoded %+v, want %+v", got.Whole, zonedWhole)
	}
	whole := got.Whole.Func()
	paris, _ := time.LoadLocation("Europe/Paris")
	// The Paris day from 06:00 on 2025-03-30 (CEST) to 06:00 on 2025-03-31.
	lo := time.Date(2025, 3, 30, 6, 0, 0, 0, paris).UnixNano()
	hi := time.Date(2025, 3, 31, 6, 0, 0, 0, paris).UnixNano() - 1
	for _, c := range []struct {
		lo, hi int64
		want   bool
	}{
		{lo, hi, true},
		{lo - 1, hi, false},
		{lo, hi + 1, false},
		{lo + int64(time.Hour), lo + 2*int64(time.Hour), true},
	} {
		if g := whole(c.lo, c.hi); g != c.want {
			t.Errorf("whole(%s, %s) = %v, want %v", time.Unix(0, c.lo).UTC(), time.Unix(0, c.hi).UTC(), g, c.want)
		}
	}
	// A spec that does not make sense (an unknown zone) accepts nothing.
	bad := zonedWhole
	bad.Zone = "Mars/Olympus"
	if bad.Func()(lo, lo) {
		t.Error("a spec with an unknown zone accepted a range")
	}
}
