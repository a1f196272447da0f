package remote

import (
	"fmt"
	"strings"
	"sync"

	"github.com/soltixdb/soltix/model"
)

// The router's cache of series lists. Every query session's catalog holds
// the tag sets of the node's series in the query's groups; an all-device
// query over thousands of series would move and sort them all on every
// query. So the router keeps the last list a node sent for each (node,
// collection, groups, devices) with its digest and series keys, sends the
// digest in the open message, and the node answers "same" instead of the
// list when its own list has that digest. The node still walks its series
// to compute it; only the bytes and the router's decoding and sorting are
// saved.

// maxCachedLists bounds the lists kept; past it the cache starts over.
const maxCachedLists = 4096

// seriesList is a node's series list as last received, sorted by series
// key, with the keys.
type seriesList struct {
	digest uint64
	series []model.Tags
	keys   []string
}

// seriesCache maps a request's cache key to its list.
type seriesCache struct {
	mu    sync.Mutex
	lists map[string]*seriesList
}

func cacheKey(node string, o *openMsg) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\x00%s\x00%d\x00", node, o.Collection, o.Flags)
	for _, g := range o.Groups {
		fmt.Fprintf(&b, "%d,", g.Group)
	}
	b.WriteByte(0)
	for _, d := range o.Devices {
		b.WriteString(d)
		b.WriteByte(0)
	}
	return b.String()
}

func (c *seriesCache) get(key string) *seriesList {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lists[key]
}

func (c *seriesCache) put(key string, l *seriesList) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.lists == nil || len(c.lists) >= maxCachedLists {
		c.lists = map[string]*seriesList{}
	}
	c.lists[key] = l
}

// newSeriesList keys a node's list (sorted by key, as storage lists them).
func newSeriesList(digest uint64, series []model.Tags) *seriesList {
	l := &seriesList{digest: digest, series: series, keys: make([]string, len(series))}
	for i, t := range series {
		l.keys[i] = model.SeriesKey("", t)
	}
	return l
}
