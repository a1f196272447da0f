package colfile

import (
	"container/list"
	"sync"
)

// sharedTimes is the process's cache of the decoded times of blocks whose
// times other columns' blocks share (the block at the same position in an
// earlier column of the series, or a union block; see blockRef). A query
// reading several fields of one series (every field of cpu-only's hosts:
// ten) then reads, checks and decodes those times once instead of once per
// field. The times are immutable once cached: readers select from them or
// copy them.
var sharedTimes = newTimesCache(8 << 20)

// timesCache is a least-recently-used cache of decoded block times, bounded
// by their bytes.
type timesCache struct {
	mu    sync.Mutex
	limit int
	size  int
	m     map[timesKey]*list.Element
	lru   list.List // of *cachedTimes, most recent first
}

// timesKey names block block of column column of series series of r.
type timesKey struct {
	r                     *Reader
	series, column, block int
}

type cachedTimes struct {
	key timesKey
	ts  []int64
}

func newTimesCache(limit int) *timesCache {
	return &timesCache{limit: limit, m: make(map[timesKey]*list.Element)}
}

func (c *timesCache) get(k timesKey) []int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.m[k]
	if e == nil {
		return nil
	}
	c.lru.MoveToFront(e)
	return e.Value.(*cachedTimes).ts
}

// put caches ts, which must not be modified afterwards, as the times of k.
func (c *timesCache) put(k timesKey, ts []int64) {
	size := 8*len(ts) + 128
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m[k] != nil || size > c.limit {
		return
	}
	c.m[k] = c.lru.PushFront(&cachedTimes{key: k, ts: ts})
	c.size += size
	for c.size > c.limit {
		c.remove(c.lru.Back())
	}
}

// drop forgets the times of a Reader (Close).
func (c *timesCache) drop(r *Reader) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for e := c.lru.Front(); e != nil; {
		next := e.Next()
		if e.Value.(*cachedTimes).key.r == r {
			c.remove(e)
		}
		e = next
	}
}

func (c *timesCache) remove(e *list.Element) {
	ct := c.lru.Remove(e).(*cachedTimes)
	delete(c.m, ct.key)
	c.size -= 8*len(ct.ts) + 128
}

// sharesTimes reports whether block k of column column of a series holds
// times that a block of another column of it takes (timesFrom).
func sharesTimes(ds *decodedSeries, column, k int) bool {
	for j := range ds.refs {
		if j != column && k < len(ds.refs[j]) && ds.refs[j][k].timesFrom == column+1 {
			return true
		}
	}
	return false
}
