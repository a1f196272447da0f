package cold

import (
	"container/list"
	"strings"
	"sync"
)

// cache is the Store's page cache: fetched pages of objects, keyed by
// object key and page number (page i holds bytes [i*PageSize,
// (i+1)*PageSize) of the object, the last one shorter), evicted least
// recently used first so the bytes held stay at most max. A page larger
// than max is handed to its readers but not kept. While a page is being
// fetched, other readers of it wait for that one fetch (one request in
// flight per page).
type cache struct {
	mu       sync.Mutex
	max      int64
	size     int64
	ll       *list.List // of *entry, most recently used first
	items    map[pageKey]*list.Element
	inflight map[pageKey]*call
}

type pageKey struct {
	key  string
	page int64
}

type entry struct {
	k    pageKey
	data []byte
}

// call is one page being fetched; done is closed once data or err is set.
type call struct {
	done chan struct{}
	data []byte
	err  error
}

func newCache(max int64) *cache {
	return &cache{max: max, ll: list.New(), items: map[pageKey]*list.Element{}, inflight: map[pageKey]*call{}}
}

// claim returns the page's bytes when cached; else the call fetching it,
// with owner true when the caller must fetch it and then call finish.
func (c *cache) claim(k pageKey) (data []byte, cl *call, owner bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[k]; ok {
		c.ll.MoveToFront(el)
		return el.Value.(*entry).data, nil, false
	}
	if cl, ok := c.inflight[k]; ok {
		return nil, cl, false
	}
	cl = &call{done: make(chan struct{})}
	c.inflight[k] = cl
	return nil, cl, true
}

// finish ends a claimed fetch: on success the page is cached; its waiters
// get data or err either way.
func (c *cache) finish(k pageKey, cl *call, data []byte, err error) {
	c.mu.Lock()
	if c.inflight[k] == cl {
		delete(c.inflight, k)
		if err == nil {
			c.addLocked(k, data)
		}
	}
	c.mu.Unlock()
	cl.data, cl.err = data, err
	close(cl.done)
}

func (c *cache) addLocked(k pageKey, data []byte) {
	n := int64(len(data))
	if n > c.max {
		return
	}
	if el, ok := c.items[k]; ok {
		c.size -= int64(len(el.Value.(*entry).data))
		c.ll.Remove(el)
		delete(c.items, k)
	}
	for c.size+n > c.max {
		c.removeLocked(c.ll.Back())
	}
	c.items[k] = c.ll.PushFront(&entry{k: k, data: data})
	c.size += n
}

func (c *cache) removeLocked(el *list.Element) {
	e := el.Value.(*entry)
	c.ll.Remove(el)
	delete(c.items, e.k)
	c.size -= int64(len(e.data))
}

// drop forgets the pages of the objects match selects, and detaches
// fetches in flight for them so their results are not cached.
func (c *cache) drop(match func(key string) bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for el := c.ll.Front(); el != nil; {
		next := el.Next()
		if match(el.Value.(*entry).k.key) {
			c.removeLocked(el)
		}
		el = next
	}
	for k := range c.inflight {
		if match(k.key) {
			delete(c.inflight, k)
		}
	}
}

// dropKey forgets one object's pages.
func (c *cache) dropKey(key string) { c.drop(func(k string) bool { return k == key }) }

// dropPrefix forgets the pages of the objects whose keys start with prefix.
func (c *cache) dropPrefix(prefix string) {
	c.drop(func(k string) bool { return strings.HasPrefix(k, prefix) })
}

// used returns the bytes held.
func (c *cache) used() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.size
}

// pages returns the number of pages held.
func (c *cache) pages() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ll.Len()
}
