//go:build linux

package storage

import (
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// resident returns how many of the 4 KiB pages of s the kernel backs
// (mincore).
func resident(t *testing.T, s *slab) int {
	t.Helper()
	const page = 4096
	addr := uintptr(unsafe.Pointer(s))
	start := addr &^ (page - 1)
	end := addr + unsafe.Sizeof(*s)
	vec := make([]byte, (end-start+page-1)/page)
	if _, _, errno := syscall.Syscall(syscall.SYS_MINCORE, start, end-start, uintptr(unsafe.Pointer(&vec[0]))); errno != 0 {
		t.Fatalf("mincore: %v", errno)
	}
	n := 0
	for _, v := range vec[1 : len(vec)-1] { // the edge pages may be shared
		n += int(v & 1)
	}
	return n
}

// TestSlabReserve checks that the reserve fills up with slabs whose pages
// are backed already (so that the write taking one stores into memory
// that is there), and that the slabs it hands out are zeroed and distinct.
func TestSlabReserve(t *testing.T) {
	first := takeSlab()
	deadline := time.Now().Add(5 * time.Second)
	for len(slabReserve.ready) < reservedSlabs && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if n := len(slabReserve.ready); n < reservedSlabs {
		t.Fatalf("the reserve holds %d slabs after 5 s, want %d", n, reservedSlabs)
	}
	seen := map[*slab]bool{first: true}
	for range 2 * reservedSlabs {
		s := takeSlab()
		if seen[s] {
			t.Fatal("the reserve handed out one slab twice")
		}
		seen[s] = true
		for i, w := range s {
			if w != 0 {
				t.Fatalf("slab word %d is %d, want zeroed", i, w)
			}
		}
	}
	// A slab that came from the reserve: every page backed.
	for len(slabReserve.ready) == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	s := <-slabReserve.ready
	pages := int(unsafe.Sizeof(*s)/4096) - 2
	if got := resident(t, s); got < pages {
		t.Errorf("a reserved slab has %d of its %d inner pages backed, want all", got, pages)
	}
	for _, w := range s {
		if w != 0 {
			t.Fatal("a reserved slab is not zeroed")
		}
	}
}
