package freelist

import "testing"

// TestList checks that a list returns what was put, keeps no more than
// its count, and reports an empty list.
func TestList(t *testing.T) {
	l := New[int](2)
	if v, ok := l.Get(); ok || v != 0 {
		t.Fatalf("empty list: Get = %d, %v", v, ok)
	}
	for i, want := range []bool{true, true, false} {
		if got := l.Put(i + 1); got != want {
			t.Fatalf("Put %d = %v, want %v", i+1, got, want)
		}
	}
	seen := map[int]bool{}
	for range 2 {
		v, ok := l.Get()
		if !ok {
			t.Fatal("Get on a list of two values: empty")
		}
		seen[v] = true
	}
	if !seen[1] || !seen[2] {
		t.Fatalf("got %v, want 1 and 2", seen)
	}
	if _, ok := l.Get(); ok {
		t.Fatal("Get after taking both: not empty")
	}
}
