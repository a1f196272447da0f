package gctune

import (
	"runtime"
	"runtime/metrics"
	"testing"
	"time"
)

func TestPercent(t *testing.T) {
	const mib = 1 << 20
	for _, c := range []struct {
		floor, live, roots uint64
		want               int
	}{
		{96 * mib, 24 * mib, 0, 300},
		{96 * mib, 32 * mib, 0, 200},
		{96 * mib, 24 * mib, 8 * mib, 225}, // roots count in Go's goal
		{96 * mib, 4 * mib, 4 * mib, 1150}, // a router between queries
		{96 * mib, 48 * mib, 0, 100},       // exactly Go's default
		{96 * mib, 64 * mib, 0, 100},       // above half the floor: the default
		{96 * mib, 200 * mib, 0, 100},      // above the floor
		{96 * mib, 96 * mib, 0, 100},       // at the floor
		{96 * mib, 0, 0, maxPercent},       // nothing live
		{96 * mib, 1, 0, maxPercent},       // capped
		{100 * mib, mib, 0, 9_900},         // just under the cap
		{1 << 62, 1 << 20, 0, maxPercent},  // no overflow
		{0, 1 << 20, 0, MinPercent},        // no floor
		{1 << 62, 1 << 61, 1 << 60, MinPercent},
	} {
		if got := Percent(c.floor, c.live, c.roots); got != c.want {
			t.Errorf("Percent(%d, %d, %d) = %d, want %d", c.floor, c.live, c.roots, got, c.want)
		}
	}
}

// gogc reads the collector's GOGC as the runtime sees it.
func gogc(t *testing.T) int {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		t.Fatal("runtime/metrics has no /gc/gogc:percent")
	}
	return int(s[0].Value.Uint64())
}

// waitPercent collects until the floor has set GOGC to what want says,
// after the collection (the finalizer runs asynchronously).
func waitPercent(t *testing.T, f *Floor, want func(int) bool) int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
		if p := f.Percent(); want(p) && gogc(t) == p {
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("GOGC %d (floor says %d) never became what the test wants", gogc(t), f.Percent())
		}
	}
}

func TestFloorFollowsLiveHeap(t *testing.T) {
	// The test binary's own live heap is a few MiB: a 1 GiB floor makes
	// GOGC large.
	f := Start(1 << 30)
	defer f.Stop()
	p := waitPercent(t, f, func(p int) bool { return p > 5000 })
	t.Logf("small heap: GOGC %d", p)

	// 64 MiB held live, against the same floor: about 1 GiB/64 MiB − 1.
	hold := make([]byte, 64<<20)
	for i := range hold {
		hold[i] = byte(i)
	}
	p = waitPercent(t, f, func(p int) bool { return p > 1000 && p < 1600 })
	t.Logf("64 MiB live: GOGC %d", p)

	// What matters: the runtime's goal for the next collection is the
	// floor, give or take what the runtime adds (a few percent).
	goal := []metrics.Sample{{Name: "/gc/heap/goal:bytes"}}
	metrics.Read(goal)
	if g := goal[0].Value.Uint64(); g < 900<<20 || g > 1100<<20 {
		t.Errorf("with 64 MiB live and a 1 GiB floor the heap goal is %d MiB, want about 1024", g>>20)
	}
	runtime.KeepAlive(hold)

	f.Stop()
	if g := gogc(t); g != MinPercent {
		t.Errorf("after Stop GOGC is %d, want %d", g, MinPercent)
	}
	// Stopped: collections no longer change it.
	runtime.GC()
	runtime.GC()
	time.Sleep(20 * time.Millisecond)
	if g := gogc(t); g != MinPercent {
		t.Errorf("after Stop and two collections GOGC is %d, want %d", g, MinPercent)
	}
}

func TestFloorBelowLiveHeapIsDefault(t *testing.T) {
	hold := make([]byte, 32<<20)
	for i := range hold {
		hold[i] = byte(i)
	}
	f := Start(1 << 20) // a 1 MiB floor under 32 MiB live
	defer f.Stop()
	waitPercent(t, f, func(p int) bool { return p == MinPercent })
	runtime.KeepAlive(hold)
}
