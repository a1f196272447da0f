package colfile

import (
	"container/list"
	"sync"
)

// lru is a least-recently-used cache, safe for concurrent use and bounded
// by an estimate of its values' bytes. Each key names the Reader its value
// came from, so that a Reader's Close drops what it cached (drop). The
// process keeps two: decoded index entries (decodedCache) and the decoded
// times blocks share (sharedTimes).
type lru[K lruKey, V any] struct {
	mu    sync.Mutex
	limit int
	size  int
	m     map[K]*list.Element
	order list.List // of *lruEntry[K, V], most recent first
}

// lruKey is a cache key that knows its Reader.
type lruKey interface {
	comparable
	reader() *Reader
}

type lruEntry[K lruKey, V any] struct {
	key  K
	val  V
	size int
}

func newLRU[K lruKey, V any](limit int) *lru[K, V] {
	return &lru[K, V]{limit: limit, m: make(map[K]*list.Element)}
}

// get returns the value cached for k, and makes it the most recent.
func (c *lru[K, V]) get(k K) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.m[k]
	if e == nil {
		var zero V
		return zero, false
	}
	c.order.MoveToFront(e)
	return e.Value.(*lruEntry[K, V]).val, true
}

// put caches v, of about size bytes, as k's value unless k has one
// already or v alone is over the limit, and evicts the least recently used
// values while the cache is over it.
func (c *lru[K, V]) put(k K, v V, size int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m[k] != nil || size > c.limit {
		return
	}
	c.m[k] = c.order.PushFront(&lruEntry[K, V]{key: k, val: v, size: size})
	c.size += size
	for c.size > c.limit {
		c.remove(c.order.Back())
	}
}

// drop forgets the values of Reader r (Close).
func (c *lru[K, V]) drop(r *Reader) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for e := c.order.Front(); e != nil; {
		next := e.Next()
		if e.Value.(*lruEntry[K, V]).key.reader() == r {
			c.remove(e)
		}
		e = next
	}
}

// forget removes the values of keys that are still cached: a Reader's
// Close when it knows which keys it put, instead of drop's scan of the
// whole cache.
func (c *lru[K, V]) forget(keys []K) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, k := range keys {
		if e := c.m[k]; e != nil {
			c.remove(e)
		}
	}
}

func (c *lru[K, V]) remove(e *list.Element) {
	le := c.order.Remove(e).(*lruEntry[K, V])
	delete(c.m, le.key)
	c.size -= le.size
}
