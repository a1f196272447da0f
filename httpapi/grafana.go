package httpapi

// The Grafana JSON datasource: the protocol of the simpod-json-datasource
// plugin (github.com/simPod/GrafanaJsonDatasource, its README and
// openapi.yaml), served under /grafana/. docs/grafana.md describes what
// each route takes and answers; this file holds the routes that list
// things (metrics, payload options, tag keys and values, search), and
// grafana_query.go the ones that run queries (query, variable,
// annotations).

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/soltixdb/soltix/model"
)

// grafanaRoutes serves the Grafana JSON datasource under /grafana/ (a
// subrouter, so that /grafana without the slash answers too); each route
// is guarded as "METHOD /grafana/...".
func (s *server) grafanaRoutes(r chi.Router) {
	route := func(method, pattern string, h http.HandlerFunc) {
		r.Method(method, pattern, s.guard(method+" /grafana"+pattern, s.admit(method+" /grafana"+pattern, h)))
	}
	route(http.MethodGet, "/", s.grafanaHealth)
	route(http.MethodPost, "/metrics", s.grafanaMetrics)
	route(http.MethodPost, "/metric-payload-options", s.grafanaPayloadOptions)
	route(http.MethodPost, "/query", s.grafanaQuery)
	route(http.MethodPost, "/variable", s.grafanaVariable)
	route(http.MethodPost, "/tag-keys", s.grafanaTagKeys)
	route(http.MethodPost, "/tag-values", s.grafanaTagValues)
	route(http.MethodPost, "/search", s.grafanaSearch)
	route(http.MethodPost, "/annotations", s.grafanaAnnotations)
}

// grafanaHealth answers the datasource's "Save & test".
func (s *server) grafanaHealth(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, []byte(`{"status":"ok"}`))
}

// writeGrafanaError sends {"error": msg, "message": msg}: Grafana shows the
// "message" of a failed request's JSON body in the panel.
func writeGrafanaError(w http.ResponseWriter, code int, msg string) {
	m := appendJSONString(nil, msg)
	b := append([]byte(`{"error":`), m...)
	b = append(b, `,"message":`...)
	b = append(b, m...)
	b = append(b, '}')
	writeJSON(w, code, b)
}

// readGrafanaBody reads a JSON request body into v. An empty body is {}.
// On failure it has answered the request and returns false.
func (s *server) readGrafanaBody(w http.ResponseWriter, r *http.Request, v any) bool {
	body, code, err := s.readBody(w, r)
	if err != nil {
		writeGrafanaError(w, code, err.Error())
		return false
	}
	if strings.TrimSpace(string(body)) == "" {
		return true
	}
	// What the body decodes to lives until the handler returns: take its
	// share of the decode gate until then (decodegate.go).
	if err := s.holdDecode(r, decodeEstimate(body, true)); err != nil {
		w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds))
		writeGrafanaError(w, http.StatusServiceUnavailable, "waiting to decode the body: "+err.Error())
		return false
	}
	if err := json.Unmarshal(body, v); err != nil {
		writeGrafanaError(w, http.StatusBadRequest, "bad request body: "+err.Error())
		return false
	}
	return true
}

// sendGrafanaJSON marshals v and sends it with 200.
func (s *server) sendGrafanaJSON(w http.ResponseWriter, r *http.Request, v any) {
	writeJSON(w, http.StatusOK, marshalNoEscape(v))
}

// gfOption is one entry of a payload's drop-down list.
type gfOption struct {
	Label string `json:"label"`
	Value string `json:"value"`
}

// gfPayloadConfig describes one payload input of a metric in the plugin's
// builder mode.
type gfPayloadConfig struct {
	Label        string     `json:"label"`
	Name         string     `json:"name"`
	Type         string     `json:"type"` // select, multi-select, input
	Placeholder  string     `json:"placeholder,omitempty"`
	ReloadMetric bool       `json:"reloadMetric,omitempty"`
	Width        int        `json:"width,omitempty"`
	Options      []gfOption `json:"options,omitempty"`
}

// gfMetric is one metric (a collection) of the /metrics answer.
type gfMetric struct {
	Label    string            `json:"label"`
	Value    string            `json:"value"`
	Payloads []gfPayloadConfig `json:"payloads"`
}

// gfMetricsRequest is the body of /metrics and /metric-payload-options.
type gfMetricsRequest struct {
	Metric  string          `json:"metric"`
	Payload json.RawMessage `json:"payload"`
	Name    string          `json:"name"` // /metric-payload-options only
}

// The names of the structured payload's keys.
const (
	gfField     = "field"
	gfAggregate = "aggregate"
	gfGroupBy   = "groupBy"
	gfTagPrefix = "tag."
	gfWhere     = "where"
	gfInterval  = "interval"
	gfFill      = "fill"
	gfAlias     = "alias"
	gfFormat    = "format"
)

// gfAggregates are the aggregate options, in the order offered. pNN is
// percentile(field, NN).
var gfAggregates = []string{"avg", "min", "max", "sum", "count", "first", "last", "spread", "stddev", "p50", "p90", "p95", "p99"}

// gfAnyKindAggregates apply to fields of every kind.
var gfAnyKindAggregates = []string{"last", "first", "count"}

var gfFillOptions = []gfOption{
	{"null (gaps)", "null"}, {"none (skip empty buckets)", "none"}, {"previous", "previous"},
	{"linear", "linear"}, {"0", "0"},
}

var gfFormatOptions = []gfOption{{"Time series", "time_series"}, {"Table", "table"}}

// grafanaMetrics lists the collections as metrics, each with the payload
// inputs of a structured query. The collection named by the request's
// metric (the one selected in the panel) also gets the values of its tags
// as options, and its aggregate options follow the kind of the payload's
// field; the other collections leave those lists empty, which makes the
// plugin ask /metric-payload-options when a list is opened.
func (s *server) grafanaMetrics(w http.ResponseWriter, r *http.Request) {
	var req gfMetricsRequest
	if !s.readGrafanaBody(w, r, &req) {
		return
	}
	payload, err := decodeGrafanaPayload(req.Payload)
	if err != nil {
		writeGrafanaError(w, http.StatusBadRequest, err.Error())
		return
	}
	names := slices.Clone(visibleCollections(r.Context(), s.store.Collections()))
	slices.Sort(names)
	metrics := make([]gfMetric, 0, len(names))
	for _, c := range names {
		metrics = append(metrics, gfMetric{Label: c, Value: c, Payloads: s.gfPayloadConfigs(c, c == req.Metric, payload)})
	}
	s.sendGrafanaJSON(w, r, metrics)
}

// gfPayloadConfigs returns the payload inputs of collection c. selected
// adds the options that cost more or depend on the current payload.
func (s *server) gfPayloadConfigs(c string, selected bool, payload map[string]any) []gfPayloadConfig {
	fields, _ := s.store.Fields(c)
	keys := s.store.TagKeys(c)
	cfg := []gfPayloadConfig{
		{Label: "Field", Name: gfField, Type: "select", Placeholder: "numeric fields", ReloadMetric: true, Options: gfFieldOptions(fields)},
		{Label: "Aggregate", Name: gfAggregate, Type: "select", Placeholder: "avg", Options: gfAggregateOptions(fields, payload)},
		{Label: "Group by", Name: gfGroupBy, Type: "multi-select", Placeholder: "tags", Options: gfValueOptions(keys)},
	}
	for _, k := range keys {
		p := gfPayloadConfig{Label: k, Name: gfTagPrefix + k, Type: "multi-select", Placeholder: "any"}
		if selected {
			p.Options = gfValueOptions(s.store.TagValues(c, k))
		}
		cfg = append(cfg, p)
	}
	return append(cfg,
		gfPayloadConfig{Label: "Where", Name: gfWhere, Type: "input", Placeholder: "v > 0 AND site = 'a'", Width: 30},
		gfPayloadConfig{Label: "Interval", Name: gfInterval, Type: "input", Placeholder: "auto", Width: 10},
		gfPayloadConfig{Label: "Fill", Name: gfFill, Type: "select", Placeholder: "null", Options: gfFillOptions},
		gfPayloadConfig{Label: "Alias", Name: gfAlias, Type: "input", Placeholder: "$col {$tag_device_id}", Width: 20},
		gfPayloadConfig{Label: "Format", Name: gfFormat, Type: "select", Placeholder: "time_series", Options: gfFormatOptions},
	)
}

// gfFieldOptions lists a collection's fields, labelled with their kinds.
func gfFieldOptions(fields map[string]model.Kind) []gfOption {
	opts := make([]gfOption, 0, len(fields))
	for _, f := range sortedFieldNames(fields) {
		opts = append(opts, gfOption{Label: f + " (" + fields[f].String() + ")", Value: f})
	}
	return opts
}

// gfAggregateOptions lists the aggregates; when the payload names fields
// that are not all numeric, only those that apply to every kind.
func gfAggregateOptions(fields map[string]model.Kind, payload map[string]any) []gfOption {
	list := gfAggregates
	for _, f := range payloadList(payload[gfField], true) {
		if k, ok := fields[f]; ok && !k.Numeric() {
			list = gfAnyKindAggregates
			break
		}
	}
	opts := make([]gfOption, 0, len(list))
	for _, a := range list {
		label := a
		if strings.HasPrefix(a, "p") {
			label = a + " (percentile " + a[1:] + ")"
		}
		opts = append(opts, gfOption{Label: label, Value: a})
	}
	return opts
}

// gfValueOptions makes options whose labels are their values.
func gfValueOptions(values []string) []gfOption {
	opts := make([]gfOption, 0, len(values))
	for _, v := range values {
		opts = append(opts, gfOption{Label: v, Value: v})
	}
	return opts
}

func sortedFieldNames(fields map[string]model.Kind) []string {
	names := make([]string, 0, len(fields))
	for f := range fields {
		names = append(names, f)
	}
	slices.Sort(names)
	return names
}

// grafanaPayloadOptions answers the options of one payload input of a
// metric (collection): its fields, the aggregates, its tag keys or the
// values of one tag. An unknown metric or input has no options.
func (s *server) grafanaPayloadOptions(w http.ResponseWriter, r *http.Request) {
	var req gfMetricsRequest
	if !s.readGrafanaBody(w, r, &req) {
		return
	}
	payload, err := decodeGrafanaPayload(req.Payload)
	if err != nil {
		writeGrafanaError(w, http.StatusBadRequest, err.Error())
		return
	}
	if err := checkCollection(r.Context(), "read", req.Metric); err != nil {
		s.metrics.authDenials.Add(1)
		writeGrafanaError(w, http.StatusForbidden, err.Error())
		return
	}
	opts := []gfOption{}
	fields, ok := s.store.Fields(req.Metric)
	switch {
	case !ok:
	case req.Name == gfField:
		opts = gfFieldOptions(fields)
	case req.Name == gfAggregate:
		opts = gfAggregateOptions(fields, payload)
	case req.Name == gfGroupBy:
		opts = gfValueOptions(s.store.TagKeys(req.Metric))
	case strings.HasPrefix(req.Name, gfTagPrefix):
		opts = gfValueOptions(s.store.TagValues(req.Metric, strings.TrimPrefix(req.Name, gfTagPrefix)))
	case req.Name == gfFill:
		opts = gfFillOptions
	case req.Name == gfFormat:
		opts = gfFormatOptions
	}
	s.sendGrafanaJSON(w, r, opts)
}

// gfTagKey is one entry of the /tag-keys answer.
type gfTagKey struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

// gfText is one entry of the /tag-values answer.
type gfText struct {
	Text string `json:"text"`
}

// grafanaTagKeys lists the tag keys of every collection, sorted and
// without repeats, for ad-hoc filters.
func (s *server) grafanaTagKeys(w http.ResponseWriter, r *http.Request) {
	var req struct{}
	if !s.readGrafanaBody(w, r, &req) {
		return
	}
	var keys []string
	for _, c := range visibleCollections(r.Context(), s.store.Collections()) {
		keys = append(keys, s.store.TagKeys(c)...)
	}
	slices.Sort(keys)
	keys = slices.Compact(keys)
	out := make([]gfTagKey, 0, len(keys))
	for _, k := range keys {
		out = append(out, gfTagKey{Type: "string", Text: k})
	}
	s.sendGrafanaJSON(w, r, out)
}

// grafanaTagValues lists the values of one tag key across every
// collection, sorted and without repeats.
func (s *server) grafanaTagValues(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Key string `json:"key"`
	}
	if !s.readGrafanaBody(w, r, &req) {
		return
	}
	if req.Key == "" {
		writeGrafanaError(w, http.StatusBadRequest, "missing key: send {\"key\": \"<tag key>\"}")
		return
	}
	var vals []string
	for _, c := range visibleCollections(r.Context(), s.store.Collections()) {
		vals = append(vals, s.store.TagValues(c, req.Key)...)
	}
	slices.Sort(vals)
	vals = slices.Compact(vals)
	out := make([]gfText, 0, len(vals))
	for _, v := range vals {
		out = append(out, gfText{Text: v})
	}
	s.sendGrafanaJSON(w, r, out)
}

// grafanaSearch is the legacy metric search: {"target": "..."} answers the
// names of the collections containing target (every collection for an
// empty target or "*"); a target that is a statement (SHOW ..., SELECT
// ...) answers the texts /variable would.
func (s *server) grafanaSearch(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Target string          `json:"target"`
		Range  json.RawMessage `json:"range"`
	}
	if !s.readGrafanaBody(w, r, &req) {
		return
	}
	target := strings.TrimSpace(req.Target)
	if isGrafanaStatement(target) {
		vals, code, err := s.gfVariableValues(r, target, gfRequestContext{Range: req.Range})
		if err != nil {
			writeGrafanaError(w, code, err.Error())
			return
		}
		out := make([]string, 0, len(vals))
		for _, v := range vals {
			out = append(out, v.Text)
		}
		s.sendGrafanaJSON(w, r, out)
		return
	}
	names := slices.Clone(visibleCollections(r.Context(), s.store.Collections()))
	slices.Sort(names)
	out := []string{}
	needle := strings.ToLower(target)
	for _, n := range names {
		if needle == "" || needle == "*" || strings.Contains(strings.ToLower(n), needle) {
			out = append(out, n)
		}
	}
	s.sendGrafanaJSON(w, r, out)
}

// decodeGrafanaPayload decodes a target's payload: a JSON object, or a
// string holding one (an empty string and null are an empty payload).
func decodeGrafanaPayload(raw json.RawMessage) (map[string]any, error) {
	p := map[string]any{}
	t := strings.TrimSpace(string(raw))
	if t == "" || t == "null" {
		return p, nil
	}
	if strings.HasPrefix(t, `"`) {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, fmt.Errorf("bad payload: %v", err)
		}
		if strings.TrimSpace(s) == "" {
			return p, nil
		}
		raw = json.RawMessage(s)
	}
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, fmt.Errorf("bad payload: want a JSON object: %v", err)
	}
	if p == nil {
		p = map[string]any{}
	}
	return p, nil
}

// payloadList returns a payload value as a list of strings: a string (split
// at commas when split is set), or an array of strings and numbers. Empty
// entries are dropped.
func payloadList(v any, split bool) []string {
	var out []string
	add := func(s string) {
		if split {
			for _, part := range strings.Split(s, ",") {
				if part = strings.TrimSpace(part); part != "" {
					out = append(out, part)
				}
			}
			return
		}
		if s != "" {
			out = append(out, s)
		}
	}
	switch v := v.(type) {
	case string:
		add(v)
	case float64, bool:
		add(fmt.Sprint(v))
	case []any:
		for _, e := range v {
			switch e := e.(type) {
			case string:
				add(e)
			case float64, bool:
				add(fmt.Sprint(e))
			}
		}
	}
	return out
}

// payloadString returns a payload value as one string ("" when absent).
func payloadString(v any) string {
	switch v := v.(type) {
	case string:
		return strings.TrimSpace(v)
	case float64, bool:
		return fmt.Sprint(v)
	case []any:
		return strings.Join(payloadList(v, false), ",")
	}
	return ""
}
