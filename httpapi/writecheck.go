package httpapi

import (
	"fmt"
	"maps"
	"time"

	"github.com/soltixdb/soltix/lineproto"
	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/storage"
)

// writeChecks holds the rules a write body must follow beyond its syntax:
// collection names that fit, keys other than "time", field kinds that agree
// with the collections' schemas and with the earlier points of the same
// body, and schemas of at most model.MaxFieldsPerCollection fields. They are
// checked while the body is decoded, so that a body with syntax errors and
// type clashes reports all of them, each on its line (and, for line
// protocol, at its column), before anything is written.
type writeChecks struct {
	store Store
	now   int64 // the server's clock, for retention
	// retention caches the raw retention of each collection met.
	retention map[string]time.Duration
	// schema holds, per collection met so far, the store's fields and
	// those the body added.
	schema map[string]map[string]model.Kind
	// shardTag is the name a field may not have (a cluster router's shard
	// tag, see ShardTagStore); "" on a single node.
	shardTag string
}

// ShardTagStore is implemented by stores that place series by a shard tag
// (a cluster router): a field may not be named like that tag, because a
// query naming it (device_id = 'x') is sent only to the nodes of device x,
// and a field of that name on other nodes would be missed.
type ShardTagStore interface {
	ShardTag() string
}

func newWriteChecks(store Store, now int64) *writeChecks {
	w := &writeChecks{store: store, now: now, schema: map[string]map[string]model.Kind{}, retention: map[string]time.Duration{}}
	if st, ok := store.(ShardTagStore); ok {
		w.shardTag = st.ShardTag()
	}
	return w
}

// time refuses a time older than the collection's raw retention by the
// server's clock, which storage would refuse.
func (w *writeChecks) time(collection string, t int64) string {
	r, ok := w.retention[collection]
	if !ok {
		r = w.store.CollectionSettings(collection).Retention[model.LevelRaw]
		w.retention[collection] = r
	}
	if r > 0 && t < w.now-int64(r) {
		return tooOldReason(t, collection, r)
	}
	return ""
}

// tooOldReason says that t is older than the raw retention r.
func tooOldReason(t int64, collection string, r time.Duration) string {
	return fmt.Sprintf("time %s is older than the raw retention of collection %q (%s)",
		formatNanos(t), collection, storage.FormatRetention(r))
}

// lineproto returns the checks in the form the line protocol parser takes.
func (w *writeChecks) lineproto() lineproto.Checks {
	return lineproto.Checks{Collection: collectionProblem, Key: keyReserved, Field: w.field, Time: w.time}
}

// collectionProblem refuses a collection name longer than storage accepts.
func collectionProblem(name string) string {
	if len(name) > storage.MaxCollectionLen {
		return fmt.Sprintf("collection name of %d bytes is longer than the limit of %d", len(name), storage.MaxCollectionLen)
	}
	return ""
}

// keyReserved refuses the key "time", which names the timestamp.
func keyReserved(key string, tag bool) string {
	if key != "time" {
		return ""
	}
	if tag {
		return `tag key "time" is reserved for the timestamp`
	}
	return `field key "time" is reserved for the timestamp`
}

// field checks one field's kind, remembering it for later points as
// storage does when it writes the batch.
func (w *writeChecks) field(collection, key string, kind model.Kind) string {
	if key == w.shardTag && key != "" {
		return fmt.Sprintf("field key %q is reserved for the cluster's shard tag", key)
	}
	fs, ok := w.schema[collection]
	if !ok {
		stored, _ := w.store.Fields(collection)
		fs = maps.Clone(stored)
		if fs == nil {
			fs = map[string]model.Kind{}
		}
		w.schema[collection] = fs
	}
	have, ok := fs[key]
	switch {
	case !ok && len(fs) >= model.MaxFieldsPerCollection:
		return fmt.Sprintf("collection %q would have more than %d fields (max fields per collection)", collection, model.MaxFieldsPerCollection)
	case !ok:
		fs[key] = kind
	case have != kind:
		return storage.Conflict{Collection: collection, Field: key, Have: have, Got: kind}.Reason()
	}
	return ""
}

// point checks a decoded point (of a JSON body) and returns the first
// problem, or "".
func (w *writeChecks) point(p *model.Point) string {
	if r := collectionProblem(p.Collection); r != "" {
		return r
	}
	for _, t := range p.Tags {
		if r := keyReserved(t.Key, true); r != "" {
			return r
		}
	}
	for _, f := range p.Fields {
		if r := keyReserved(f.Key, false); r != "" {
			return r
		}
	}
	for _, f := range p.Fields {
		if r := w.field(p.Collection, f.Key, f.Value.Kind); r != "" {
			return r
		}
	}
	return w.time(p.Collection, p.Time)
}

// lineStarts returns the offsets at which the lines of body start.
func lineStarts(body []byte) []int {
	starts := []int{0}
	for i, c := range body {
		if c == '\n' {
			starts = append(starts, i+1)
		}
	}
	return starts
}

// fieldColumn returns the 1-based column of the key of field in the line
// protocol line number line of body (its last occurrence, whose value
// counts), or 0 when it is not found on that line (a string value before
// it spans lines, say).
func fieldColumn(body []byte, starts []int, line int, field string) int {
	return lineColumn(body, starts, line, lineproto.Checks{
		Field: func(_, key string, _ model.Kind) string {
			if key == field {
				return "found"
			}
			return ""
		},
	})
}

// timeColumn returns the 1-based column of the timestamp of the line
// protocol line number line of body, or 0.
func timeColumn(body []byte, starts []int, line int) int {
	return lineColumn(body, starts, line, lineproto.Checks{
		Time: func(string, int64) string { return "found" },
	})
}

// lineColumn parses line number line of body alone with checks that
// answer "found" at the element sought, and returns that element's column
// (0 when no check found it). It is for errors that storage reports by
// point, after parsing.
func lineColumn(body []byte, starts []int, line int, checks lineproto.Checks) int {
	if line < 1 || line > len(starts) {
		return 0
	}
	end := len(body)
	if line < len(starts) {
		end = starts[line]
	}
	_, _, errs := lineproto.ParseWith(body[starts[line-1]:end], lineproto.Nanosecond, 0, checks)
	if len(errs) > 0 && errs[0].Line == 1 && errs[0].Reason == "found" {
		return errs[0].Column
	}
	return 0
}
