package model

import (
	"context"
	"sync"
)

// ColdReads counts what the reads of one query took from the cold tier
// (data files kept in an object store): a query puts one in the context of
// its reads (WithColdReads) and storage adds to it. It is safe for
// concurrent use.
type ColdReads struct {
	// Parent, when set, is counted in too (the counts of a request
	// spanning several queries).
	Parent *ColdReads

	mu      sync.Mutex
	objects map[string]struct{}
	st      ColdReadStats
}

// ColdReadStats are the counts of a ColdReads.
type ColdReadStats struct {
	// Objects is the number of distinct cold objects whose blocks were
	// read; Bytes the block bytes read from them.
	Objects, Bytes int64
	// Fetched is the bytes fetched from the object store for those reads;
	// CacheHits the cache pages that answered without a fetch.
	Fetched, CacheHits int64
}

// Add counts a read of bytes from the object key, of which fetched bytes
// came from the object store and hits pages from the cache.
func (c *ColdReads) Add(key string, bytes, fetched, hits int64) {
	if c.Parent != nil {
		c.Parent.Add(key, bytes, fetched, hits)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.objects == nil {
		c.objects = make(map[string]struct{})
	}
	if _, ok := c.objects[key]; !ok {
		c.objects[key] = struct{}{}
		c.st.Objects++
	}
	c.st.Bytes += bytes
	c.st.Fetched += fetched
	c.st.CacheHits += hits
}

// Merge adds counts made elsewhere (another node's share of a query).
func (c *ColdReads) Merge(st ColdReadStats) {
	if c.Parent != nil {
		c.Parent.Merge(st)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.st.Objects += st.Objects
	c.st.Bytes += st.Bytes
	c.st.Fetched += st.Fetched
	c.st.CacheHits += st.CacheHits
}

// Stats returns the counts so far.
func (c *ColdReads) Stats() ColdReadStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.st
}

type coldReadsKey struct{}

// WithColdReads returns ctx carrying c.
func WithColdReads(ctx context.Context, c *ColdReads) context.Context {
	return context.WithValue(ctx, coldReadsKey{}, c)
}

// ColdReadsFrom returns the ColdReads ctx carries, or nil.
func ColdReadsFrom(ctx context.Context) *ColdReads {
	c, _ := ctx.Value(coldReadsKey{}).(*ColdReads)
	return c
}
