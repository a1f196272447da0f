package model

import (
	"fmt"
	"testing"
)

func TestTagsGet(t *testing.T) {
	for _, n := range []int{0, 1, 16, 17, 300} {
		var ts Tags
		for i := range n {
			ts = append(ts, Tag{Key: fmt.Sprintf("k%04d", i), Value: fmt.Sprint(i)})
		}
		for i := range n {
			if got := ts.Get(fmt.Sprintf("k%04d", i)); got != fmt.Sprint(i) {
				t.Errorf("%d tags: Get(k%04d) = %q, want %d", n, i, got, i)
			}
		}
		for _, missing := range []string{"", "a", "k", "k00005x", "z"} {
			if got := ts.Get(missing); got != "" {
				t.Errorf("%d tags: Get(%q) = %q, want \"\"", n, missing, got)
			}
		}
	}
}

func TestSeriesKeyLen(t *testing.T) {
	tags := Tags{{Key: "a", Value: "1"}, {Key: "b,=", Value: "x y"}}
	// Escaping adds bytes to SeriesKey that the limit does not count.
	if got, want := SeriesKeyLen("c", tags), len("c,a=1,b,==x y"); got != want {
		t.Errorf("SeriesKeyLen = %d, want %d", got, want)
	}
}
