// Package freelist keeps a few values for reuse between uses, up to a
// fixed count. Unlike a sync.Pool it is not emptied by the collector: the
// write path keeps its buffers, arenas and encoders across batches even
// when a heavy load makes the collector run several times a second, and
// the count bounds what it holds (each caller also bounds the size of
// what it puts back).
package freelist

// List holds at most the count given to New values of T. It is safe for
// concurrent use.
type List[T any] struct {
	c chan T
}

// New returns a list that keeps at most n values.
func New[T any](n int) *List[T] {
	return &List[T]{c: make(chan T, n)}
}

// Get returns a kept value and true, or the zero value and false when the
// list is empty.
func (l *List[T]) Get() (T, bool) {
	select {
	case v := <-l.c:
		return v, true
	default:
		var zero T
		return zero, false
	}
}

// Put keeps v for a later Get, unless the list is full, and reports
// whether it did.
func (l *List[T]) Put(v T) bool {
	select {
	case l.c <- v:
		return true
	default:
		return false
	}
}
