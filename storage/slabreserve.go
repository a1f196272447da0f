// Full-size slabs faulted in ahead of the writes that need them.

package storage

import "sync"

// slab is a full-size slab of memory columns' chunks (memslab.go).
type slab = [maxSlabWords]uint64

// reservedSlabs is how many full-size slabs wait, faulted in, for the
// writes (2 MiB): at 2.4 M values/s a process takes one every 6 ms or
// so, and the refiller makes one in under a millisecond.
const reservedSlabs = 8

// slabReserve keeps a few full-size slabs whose pages are already
// backed, made by a goroutine of their own: a write that starts a new
// slab then stores into memory that is there, instead of taking a page
// fault per 4 KiB of it while it holds the DB's lock. On the 2-core
// Firecracker machine of issue 17 a fault costs ~11 us, so a fresh
// slab cost a write ~0.75 ms, and the writes that began one (a fifth of
// the 1,000-line batches of the write-latency load) took 2.8 ms to apply
// against 0.9 for the others (docs/benchmarks-latency.md, "Issue 17,
// sixth wave"). The faults are paid all the same, by the refiller, off
// the writes' path.
//
// The refiller starts with the first slab taken and runs for the life of
// the process, blocked while the reserve is full: it holds 2 MiB.
var slabReserve struct {
	once  sync.Once
	ready chan *slab
}

// takeSlab returns a zeroed full-size slab, faulted in when the reserve
// has one.
func takeSlab() *slab {
	slabReserve.once.Do(func() {
		slabReserve.ready = make(chan *slab, reservedSlabs)
		go refillSlabs(slabReserve.ready)
	})
	select {
	case s := <-slabReserve.ready:
		return s
	default:
		return new(slab)
	}
}

// refillSlabs makes slabs, touching every page of each, and hands them
// to ready for ever.
func refillSlabs(ready chan<- *slab) {
	for {
		s := new(slab)
		// A store into every page makes the kernel back it; the
		// slab stays zeroed.
		for i := 0; i < len(s); i += 512 {
			s[i] = 0
		}
		ready <- s
	}
}
