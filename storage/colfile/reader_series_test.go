package colfile

import (
	"fmt"
	"path/filepath"
	"sync"
	"testing"
)

// TestSeriesDecodedOnDemand checks that a series' entry decoded when it is
// asked for (SeriesAt, the cache, AllSeries) equals the one Open checked,
// and that Find and Key answer without decoding.
func TestSeriesDecodedOnDemand(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f.col")
	series := goldenSeriesV2()
	if _, err := Write(path, "cpu", 1, 2, series); err != nil {
		t.Fatal(err)
	}
	r := checkFile(t, path, "cpu", series)
	defer r.Close()
	all := r.AllSeries()
	if len(all) != r.NumSeries() {
		t.Fatalf("AllSeries: got %d series, want %d", len(all), r.NumSeries())
	}
	for round := range 3 { // decoded, then from the Reader's last, then the cache
		for i := range r.NumSeries() {
			// Printed, since NaN statistics are never equal to themselves.
			if got := r.SeriesAt(i); fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", all[i]) {
				t.Errorf("round %d: SeriesAt(%d) = %+v, want %+v", round, i, got, all[i])
			}
			if got := r.Key(i); got != all[i].Key {
				t.Errorf("Key(%d) = %q, want %q", i, got, all[i].Key)
			}
			if got, ok := r.Find(all[i].Key); !ok || got != i {
				t.Errorf("Find(%q) = %d, %v, want %d, true", all[i].Key, got, ok, i)
			}
		}
	}
	if _, ok := r.Find("nope"); ok {
		t.Errorf("Find(nope) found a series")
	}
}

// TestEntryCache checks the cache of decoded entries: bounded by its
// estimate of their bytes, least recently used out first, and a closed
// Reader's entries dropped.
func TestEntryCache(t *testing.T) {
	ra, rb := &Reader{}, &Reader{}
	ds := func(i int) *decodedSeries { return &decodedSeries{i: i} }
	size := entrySize(ds(0))
	c := newLRU[entryKey, *decodedSeries](3 * size)
	for i := range 3 {
		c.put(entryKey{ra, i}, ds(i), size)
	}
	if _, ok := c.get(entryKey{ra, 0}); !ok { // 0 becomes the most recent
		t.Fatalf("entry 0 missing from a cache with room for it")
	}
	c.put(entryKey{rb, 0}, ds(0), size) // evicts ra's 1, the least recently used
	for _, tc := range []struct {
		r    *Reader
		i    int
		want bool
	}{{ra, 0, true}, {ra, 1, false}, {ra, 2, true}, {rb, 0, true}, {rb, 1, false}} {
		if _, got := c.get(entryKey{tc.r, tc.i}); got != tc.want {
			t.Errorf("reader %p entry %d cached: got %v, want %v", tc.r, tc.i, got, tc.want)
		}
	}
	c.drop(ra)
	if c.cached(ra) || !c.cached(rb) {
		t.Errorf("after drop(ra): ra's entries must be gone and rb's kept")
	}
	if c.size != size || c.order.Len() != 1 || len(c.m) != 1 {
		t.Errorf("after drop: size %d, %d listed, %d mapped; want %d, 1, 1", c.size, c.order.Len(), len(c.m), size)
	}
}

// TestSeriesAtConcurrent reads every series from many goroutines at once
// (under -race: the Reader's last entry and the shared cache).
func TestSeriesAtConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f.col")
	series := goldenSeriesV2()
	if _, err := Write(path, "cpu", 1, 2, series); err != nil {
		t.Fatal(err)
	}
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	want := r.AllSeries()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for k := range 200 {
				i := (g + k) % r.NumSeries()
				if got := r.SeriesAt(i); got.Key != want[i].Key || len(got.Columns) != len(want[i].Columns) {
					t.Errorf("SeriesAt(%d) = %q with %d columns, want %q with %d", i, got.Key, len(got.Columns), want[i].Key, len(want[i].Columns))
					return
				}
				for j := range want[i].Columns {
					if _, err := r.ReadColumn(i, j); err != nil {
						t.Errorf("ReadColumn(%d, %d): %v", i, j, err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
}

// cached reports whether any value of Reader r is cached.
func (c *lru[K, V]) cached(r *Reader) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k := range c.m {
		if k.reader() == r {
			return true
		}
	}
	return false
}
