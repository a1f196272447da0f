package httpapi

import (
	"fmt"
	"math"
	"net/http"
	"strconv"

	"github.com/valyala/fastjson"

	"github.com/soltixdb/soltix/internal/timex"
	"github.com/soltixdb/soltix/model"
)

// deleteRequest is a decoded body of POST /api/v1/admin/delete: the series
// of collection whose tags include every one of tags, over [min, max].
type deleteRequest struct {
	collection string
	tags       model.Tags
	min, max   int64
}

// adminDelete serves POST /api/v1/admin/delete: it deletes the points of the
// matching series whose times lie in [start, end) and answers
// {"deleted_series": n}, n being the number of series matched.
func (s *server) adminDelete(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	body, code, err := s.readBody(w, r)
	if err != nil {
		writeError(w, code, err.Error())
		return
	}
	req, problem := decodeDeleteRequest(body)
	if problem != "" {
		writeError(w, http.StatusBadRequest, "bad delete request: "+problem)
		return
	}
	if err := checkCollection(ctx, "delete from", req.collection); err != nil {
		s.metrics.authDenials.Add(1)
		writeError(w, http.StatusForbidden, err.Error())
		return
	}
	fields, ok, err := checkedFields(s.store, req.collection)
	if err != nil {
		code, msg := storeErrorStatus(err)
		writeError(w, code, "delete: "+msg)
		return
	}
	if !ok {
		writeError(w, http.StatusNotFound, fmt.Sprintf("collection %q not found", req.collection))
		return
	}
	for _, t := range req.tags {
		if _, isField := fields[t.Key]; isField {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("bad delete request: %q is a field of collection %q, not a tag; deletes select series by tags and time", t.Key, req.collection))
			return
		}
	}
	series, err := checkedSeries(s.store, req.collection, func(ts model.Tags) bool {
		for _, t := range req.tags {
			if ts.Get(t.Key) != t.Value {
				return false
			}
		}
		return true
	})
	if err != nil {
		code, msg := storeErrorStatus(err)
		writeError(w, code, "delete: "+msg)
		return
	}
	if len(series) > 0 {
		if err := s.store.Delete(ctx, req.collection, series, req.min, req.max); err != nil {
			code, msg := storeErrorStatus(err)
			if code == http.StatusInternalServerError {
				s.log.ErrorContext(ctx, "delete", "collection", req.collection, "err", err)
			}
			writeError(w, code, "delete: "+msg)
			return
		}
		s.log.InfoContext(ctx, "delete", "collection", req.collection, "series", len(series), "min", req.min, "max", req.max)
	}
	b := append([]byte(`{"deleted_series":`), strconv.Itoa(len(series))...)
	writeJSON(w, http.StatusOK, append(b, "}\n"...))
}

// decodeDeleteRequest decodes
//
//	{"collection": "c", "tags": {"k": "v", ...}, "start": t, "end": t}
//
// where collection is required, tags may be missing, null or {} (every
// series), and start (inclusive) and end (exclusive) are each an RFC 3339
// string, integer nanoseconds, missing or null (unbounded). problem is
// non-empty when the body is bad.
func decodeDeleteRequest(body []byte) (req deleteRequest, problem string) {
	p := parsers.Get()
	defer parsers.Put(p)
	v, bad := parseJSON(p, body)
	if bad != nil {
		return req, "body is not JSON: " + bad.Reason
	}
	o, err := v.Object()
	if err != nil {
		return req, fmt.Sprintf("body is a %s, want an object", v.Type())
	}
	vals, problem := objectKeys(o, "collection", "tags", "start", "end")
	if problem != "" {
		return req, problem
	}
	collection, tags, start, end := vals[0], vals[1], vals[2], vals[3]

	if collection == nil {
		return req, `missing "collection"`
	}
	c, err := collection.StringBytes()
	if err != nil {
		return req, fmt.Sprintf("collection is a %s, want a string", collection.Type())
	}
	if len(c) == 0 {
		return req, "empty collection"
	}
	req.collection = string(c)

	if tags != nil && tags.Type() != fastjson.TypeNull {
		if req.tags, problem = decodeTags(tags, `"time" is not a tag: use start and end`); problem != "" {
			return req, problem
		}
		if problem = sortTags(req.tags); problem != "" {
			return req, problem
		}
	}

	req.min, req.max = math.MinInt64, math.MaxInt64
	if start != nil && start.Type() != fastjson.TypeNull {
		t, reason := decodeJSONTime(start, 1)
		if reason != "" {
			return req, "start: " + reason
		}
		req.min = t
	}
	if end != nil && end.Type() != fastjson.TypeNull {
		t, reason := decodeJSONTime(end, 1)
		if reason != "" {
			return req, "end: " + reason
		}
		if t <= req.min {
			return req, fmt.Sprintf("empty range: end %s is not after start %s", formatNanos(t), formatNanos(req.min))
		}
		req.max = t - 1
	}
	return req, ""
}

// formatNanos formats a nanosecond timestamp as RFC 3339. Every int64 has a
// form the query language reads back, the smallest one included.
func formatNanos(t int64) string { return timex.Format(t) }

// adminCompact serves POST /api/v1/admin/compact: it returns once storage
// has merged its files, dropping deleted and overwritten points.
func (s *server) adminCompact(w http.ResponseWriter, r *http.Request) {
	if err := s.store.Compact(r.Context()); err != nil {
		code, msg := storeErrorStatus(err)
		if code == http.StatusInternalServerError {
			s.log.ErrorContext(r.Context(), "compact", "err", err)
		}
		writeError(w, code, "compact: "+msg)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// CheckedCatalog is implemented by stores whose catalog can be incomplete
// (a cluster router with a storage node down): a delete must then fail
// rather than miss the series it cannot see.
type CheckedCatalog interface {
	FieldsChecked(collection string) (map[string]model.Kind, bool, error)
	SeriesChecked(collection string, match func(model.Tags) bool) ([]model.Tags, error)
}

func checkedFields(st Store, collection string) (map[string]model.Kind, bool, error) {
	if cc, ok := st.(CheckedCatalog); ok {
		return cc.FieldsChecked(collection)
	}
	f, ok := st.Fields(collection)
	return f, ok, nil
}

func checkedSeries(st Store, collection string, match func(model.Tags) bool) ([]model.Tags, error) {
	if cc, ok := st.(CheckedCatalog); ok {
		return cc.SeriesChecked(collection, match)
	}
	return st.Series(collection, match), nil
}
