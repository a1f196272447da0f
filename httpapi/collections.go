package httpapi

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"
	"github.com/valyala/fastjson"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/storage"
)

// adminCollections serves GET /api/v1/admin/collections: the settings of
// every collection that exists or has settings of its own, sorted by name:
//
//	{"collections":[{"name":"c","rollups":true,"retention":{"raw":"7d","1h":"forever",...}},...]}
func (s *server) adminCollections(w http.ResponseWriter, r *http.Request) {
	settings := s.store.Settings()
	names := slices.Clone(s.store.Collections())
	for name := range settings {
		names = append(names, name)
	}
	names = visibleCollections(r.Context(), names)
	slices.Sort(names)
	names = slices.Compact(names)
	b := []byte(`{"collections":[`)
	for i, name := range names {
		if i > 0 {
			b = append(b, ',')
		}
		cs, ok := settings[name]
		if !ok {
			cs = s.store.CollectionSettings(name)
		}
		b = appendSettings(b, name, cs)
	}
	writeJSON(w, http.StatusOK, append(b, "]}\n"...))
}

// adminCollection serves GET /api/v1/admin/collections/{name}: the
// collection's settings, the defaults when it has none (it need not exist).
func (s *server) adminCollection(w http.ResponseWriter, r *http.Request) {
	name, problem := collectionParam(r)
	if problem != "" {
		writeError(w, http.StatusBadRequest, problem)
		return
	}
	if err := checkCollection(r.Context(), "read the settings of", name); err != nil {
		s.metrics.authDenials.Add(1)
		writeError(w, http.StatusForbidden, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, append(appendSettings(nil, name, s.store.CollectionSettings(name)), '\n'))
}

// adminSetCollection serves PUT /api/v1/admin/collections/{name}: it
// changes the collection's settings by a storage.SettingsSpec (levels the
// body does not name keep their retention) and answers the resulting
// settings, as GET does.
func (s *server) adminSetCollection(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	name, problem := collectionParam(r)
	if problem != "" {
		writeError(w, http.StatusBadRequest, problem)
		return
	}
	if err := checkCollection(ctx, "change the settings of", name); err != nil {
		s.metrics.authDenials.Add(1)
		writeError(w, http.StatusForbidden, err.Error())
		return
	}
	body, code, err := s.readBody(w, r)
	if err != nil {
		writeError(w, code, err.Error())
		return
	}
	spec, problem := decodeSettingsSpec(body)
	if problem != "" {
		writeError(w, http.StatusBadRequest, "bad collection settings: "+problem)
		return
	}

	s.settingsMu.Lock()
	defer s.settingsMu.Unlock()
	old := s.store.CollectionSettings(name)
	next, err := spec.Apply(old)
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad collection settings: "+err.Error())
		return
	}
	if next != old {
		if err := s.store.SetSettings(ctx, name, next); err != nil {
			code, msg := storeErrorStatus(err)
			if code == http.StatusInternalServerError {
				s.log.ErrorContext(ctx, "set collection settings", "collection", name, "err", err)
			}
			writeError(w, code, "set collection settings: "+msg)
			return
		}
		s.log.InfoContext(ctx, "collection settings changed", "collection", name,
			"rollups", !next.NoRollups, "retention", formatRetentions(next))
	}
	writeJSON(w, http.StatusOK, append(appendSettings(nil, name, s.store.CollectionSettings(name)), '\n'))
}

// collectionParam returns the {name} of the route, unescaped (a name may
// hold any byte, "/" included, when percent-encoded).
func collectionParam(r *http.Request) (name, problem string) {
	name = chi.URLParam(r, "name")
	if r.URL.RawPath != "" {
		// chi routes on the escaped path when there is one.
		n, err := url.PathUnescape(name)
		if err != nil {
			return "", fmt.Sprintf("bad collection name %q: %v", name, err)
		}
		name = n
	}
	if name == "" || len(name) > storage.MaxCollectionLen {
		return "", fmt.Sprintf("collection name must be 1 to %d bytes, got %d", storage.MaxCollectionLen, len(name))
	}
	return name, ""
}

// decodeSettingsSpec decodes {"rollups": bool, "retention": {"level":
// "duration", ...}, "ack": "local"|"replicated", "cold_after": {"level":
// "duration"|"off", ...}}, each optional (null is the same as missing). Unknown
// or repeated keys and values of the wrong type are problems; level names
// and durations are checked by storage.SettingsSpec.Apply.
func decodeSettingsSpec(body []byte) (sp storage.SettingsSpec, problem string) {
	p := parsers.Get()
	defer parsers.Put(p)
	v, bad := parseJSON(p, body)
	if bad != nil {
		return sp, "body is not JSON: " + bad.Reason
	}
	o, err := v.Object()
	if err != nil {
		return sp, fmt.Sprintf("body is a %s, want an object", v.Type())
	}
	vals, problem := objectKeys(o, "rollups", "retention", "ack", "cold_after")
	if problem != "" {
		return sp, problem
	}
	rollups, retention, ack, coldAfter := vals[0], vals[1], vals[2], vals[3]
	if ack != nil && ack.Type() != fastjson.TypeNull {
		a, err := ack.StringBytes()
		if err != nil {
			return sp, fmt.Sprintf(`ack is a %s, want "local" or "replicated"`, ack.Type())
		}
		s := string(a)
		sp.Ack = &s
	}
	if rollups != nil && rollups.Type() != fastjson.TypeNull {
		b, err := rollups.Bool()
		if err != nil {
			return sp, fmt.Sprintf("rollups is a %s, want true or false", rollups.Type())
		}
		sp.Rollups = &b
	}
	if sp.Retention, problem = levelDurations(retention, "retention", `"7d" or "forever"`); problem != "" {
		return sp, problem
	}
	if sp.ColdAfter, problem = levelDurations(coldAfter, "cold_after", `"30d" or "off"`); problem != "" {
		return sp, problem
	}
	return sp, ""
}

// levelDurations decodes {"level": "duration", ...} (nil for null or
// missing); name and example word the problems.
func levelDurations(v *fastjson.Value, name, example string) (m map[string]string, problem string) {
	if v == nil || v.Type() == fastjson.TypeNull {
		return nil, ""
	}
	o, err := v.Object()
	if err != nil {
		return nil, fmt.Sprintf(`%s is a %s, want an object such as {"raw": %s}`, name, v.Type(), strings.Split(example, " ")[0])
	}
	m = make(map[string]string)
	o.Visit(func(key []byte, val *fastjson.Value) {
		if problem != "" {
			return
		}
		d, err := val.StringBytes()
		_, dup := m[string(key)]
		switch {
		case dup:
			problem = fmt.Sprintf("%s of level %q given twice", name, key)
		case err != nil:
			problem = fmt.Sprintf(`%s of level %q is a %s, want a string such as %s`, name, key, val.Type(), example)
		default:
			m[string(key)] = string(d)
		}
	})
	return m, problem
}

// appendSettings appends {"name":...,"rollups":...,"retention":{...}},
// with "ack" and "cold_after" when set, the levels in the order raw, 1h,
// 1d, 1M, 1y.
func appendSettings(b []byte, name string, cs storage.CollectionSettings) []byte {
	b = append(b, `{"name":`...)
	b = appendJSONString(b, name)
	b = append(b, `,"rollups":`...)
	b = strconv.AppendBool(b, !cs.NoRollups)
	b = append(b, `,"retention":{`...)
	for l, d := range cs.Retention {
		if l > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, model.Level(l).String())
		b = append(b, ':')
		b = appendJSONString(b, storage.FormatRetention(d))
	}
	b = append(b, '}')
	if cs.Ack != "" {
		b = append(b, `,"ack":`...)
		b = appendJSONString(b, cs.Ack)
	}
	if sp := cs.Spec(); sp.ColdAfter != nil {
		b = append(b, `,"cold_after":{`...)
		for l := range cs.ColdAfter {
			if l > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, model.Level(l).String())
			b = append(b, ':')
			b = appendJSONString(b, sp.ColdAfter[model.Level(l).String()])
		}
		b = append(b, '}')
	}
	return append(b, '}')
}

// formatRetentions writes the retention of every level for a log line,
// e.g. "raw=7d 1h=365d 1d=forever 1M=forever 1y=forever".
func formatRetentions(cs storage.CollectionSettings) string {
	var b []byte
	for l, d := range cs.Retention {
		if l > 0 {
			b = append(b, ' ')
		}
		b = append(b, model.Level(l).String()...)
		b = append(b, '=')
		b = append(b, storage.FormatRetention(d)...)
	}
	return string(b)
}
