// Grafana template variables and annotations.

package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/soltixdb/soltix/internal/timex"
	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/planner"
	"github.com/soltixdb/soltix/query"
)

// gfVarValue is one value of a template variable.
type gfVarValue struct {
	Text  string `json:"__text"`
	Value string `json:"__value"`
}

// grafanaVariable answers a template variable's query: the payload's
// target (or query) is a statement, e.g. SHOW TAG VALUES FROM c WITH KEY =
// device_id; the answer is [{"__text","__value"}, ...].
func (s *server) grafanaVariable(w http.ResponseWriter, r *http.Request) {
	var req struct {
		gfRequestContext
		Payload json.RawMessage `json:"payload"`
		Target  gfString        `json:"target"`
	}
	if !s.readGrafanaBody(w, r, &req) {
		return
	}
	var text string
	var str string
	if err := json.Unmarshal(req.Payload, &str); err == nil && !strings.HasPrefix(strings.TrimSpace(str), "{") {
		text = str // the variable's query as a plain string
	} else if payload, err := decodeGrafanaPayload(req.Payload); err == nil {
		text = payloadString(payload["target"])
		if text == "" {
			text = payloadString(payload["query"])
		}
	}
	if strings.TrimSpace(text) == "" {
		text = string(req.Target)
	}
	if strings.TrimSpace(text) == "" {
		writeGrafanaError(w, http.StatusBadRequest, `missing query: send {"payload": {"target": "SHOW ..."}}`)
		return
	}
	vals, code, err := s.gfVariableValues(r, text, req.gfRequestContext)
	if err != nil {
		writeGrafanaError(w, code, err.Error())
		return
	}
	s.sendGrafanaJSON(w, r, vals)
}

// gfVariableValues runs a variable query and returns its values: the
// __text and __value columns when the result has them, the value column
// of SHOW TAG VALUES, else the first column that is not time; without
// repeats, in the result's order.
func (s *server) gfVariableValues(r *http.Request, text string, rc gfRequestContext) ([]gfVarValue, int, error) {
	_, res, code, err := s.gfRunText(r, text, rc)
	if err != nil {
		return nil, code, err
	}
	textCol, valueCol := slices.Index(res.Columns, "__text"), slices.Index(res.Columns, "__value")
	switch {
	case textCol < 0 && valueCol >= 0:
		textCol = valueCol
	case textCol >= 0 && valueCol < 0:
		valueCol = textCol
	case textCol < 0:
		textCol = -1
		if len(res.Columns) == 2 && res.Columns[0] == "key" && res.Columns[1] == "value" && res.TimeColumn < 0 {
			textCol = 1
		}
		for c := range res.Columns {
			if textCol < 0 && c != res.TimeColumn {
				textCol = c
			}
		}
		valueCol = textCol
	}
	out := []gfVarValue{}
	if textCol < 0 {
		return out, 0, nil
	}
	seen := map[gfVarValue]bool{}
	for _, row := range res.Rows {
		if row[textCol].IsNull() && row[valueCol].IsNull() {
			continue
		}
		v := gfVarValue{Text: gfValueText(row[textCol]), Value: gfValueText(row[valueCol])}
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out, 0, nil
}

// gfRunText expands macros in a statement, runs it and returns the result;
// DELETE is refused.
func (s *server) gfRunText(r *http.Request, text string, rc gfRequestContext) (*query.Statement, *planner.Result, int, error) {
	env, err := s.gfEnv(rc)
	if err != nil {
		return nil, nil, http.StatusBadRequest, err
	}
	expanded, err := env.expandMacros(text)
	if err != nil {
		return nil, nil, http.StatusBadRequest, err
	}
	stmt, err := query.Parse(expanded)
	if err != nil {
		return nil, nil, http.StatusBadRequest, errors.New(gfWithText(err.Error(), expanded, text))
	}
	if stmt.Delete != nil {
		return nil, nil, http.StatusBadRequest, errors.New("DELETE statements are not run through Grafana; send them to POST /api/v1/query")
	}
	s.metrics.queries.Add(1)
	res, err := s.grafanaExecute(r.Context(), stmt, env.now, nil)
	if err != nil {
		s.metrics.queryErrors.Add(1)
		ge := s.gfExecError(r, err, &gfPrepared{stmt: stmt, text: expanded, orig: text})
		return nil, nil, ge.code, ge
	}
	return stmt, res, 0, nil
}

// gfValueText formats a value as text: strings as they are, numbers and
// booleans as in JSON, null as "".
func gfValueText(v model.Value) string {
	switch v.Kind {
	case model.KindString:
		return v.Str()
	case model.KindNull:
		return ""
	}
	return string(appendGrafanaValue(nil, v, false))
}

// gfAnnotation is one annotation of the legacy /annotations answer.
type gfAnnotation struct {
	Annotation json.RawMessage `json:"annotation"`
	Time       int64           `json:"time"`
	Title      string          `json:"title"`
	Text       string          `json:"text"`
	Tags       []string        `json:"tags"`
}

// grafanaAnnotations answers the legacy annotation request: annotation.query
// is a SELECT (macros allowed) whose rows become annotations. time is the
// row's time; title the column "title", else the annotation's name; text
// the column "text", else "column=value" of the other columns; tags the
// column "tags" split at commas, else the GROUP BY tags as key=value.
func (s *server) grafanaAnnotations(w http.ResponseWriter, r *http.Request) {
	var req struct {
		gfRequestContext
		Annotation json.RawMessage `json:"annotation"`
	}
	if !s.readGrafanaBody(w, r, &req) {
		return
	}
	var ann struct {
		Name  gfString `json:"name"`
		Query gfString `json:"query"`
	}
	if len(req.Annotation) > 0 {
		if err := json.Unmarshal(req.Annotation, &ann); err != nil {
			writeGrafanaError(w, http.StatusBadRequest, "bad annotation: "+err.Error())
			return
		}
	}
	text := strings.TrimSpace(string(ann.Query))
	if text == "" {
		writeGrafanaError(w, http.StatusBadRequest, `missing annotation.query: a SELECT whose rows become annotations`)
		return
	}
	stmt, res, code, err := s.gfRunText(r, text, req.gfRequestContext)
	if err != nil {
		writeGrafanaError(w, code, err.Error())
		return
	}
	if res.TimeColumn < 0 {
		writeGrafanaError(w, http.StatusBadRequest, "an annotation query must be a SELECT: its rows need a time")
		return
	}
	nTags := 0
	if stmt.Select != nil {
		nTags = len(stmt.Select.GroupTags)
	}
	titleCol, textCol, tagsCol := slices.Index(res.Columns, "title"), slices.Index(res.Columns, "text"), slices.Index(res.Columns, "tags")
	echo := req.Annotation
	if len(echo) == 0 {
		echo = json.RawMessage("null")
	}
	out := make([]gfAnnotation, 0, len(res.Rows))
	for _, row := range res.Rows {
		a := gfAnnotation{Annotation: echo, Title: string(ann.Name), Tags: []string{}}
		a.Time = timex.ToUnit(row[res.TimeColumn].Int(), int64(time.Millisecond))
		if titleCol >= 0 && !row[titleCol].IsNull() {
			a.Title = gfValueText(row[titleCol])
		}
		if textCol >= 0 {
			a.Text = gfValueText(row[textCol])
		} else {
			var parts []string
			for c, v := range row {
				if c == res.TimeColumn || c == titleCol || c == tagsCol || v.IsNull() || (tagsCol < 0 && c >= 1 && c <= nTags) {
					continue
				}
				parts = append(parts, res.Columns[c]+"="+gfValueText(v))
			}
			a.Text = strings.Join(parts, ", ")
		}
		if tagsCol >= 0 {
			for _, t := range strings.Split(gfValueText(row[tagsCol]), ",") {
				if t = strings.TrimSpace(t); t != "" {
					a.Tags = append(a.Tags, t)
				}
			}
		} else {
			for k := range nTags {
				a.Tags = append(a.Tags, res.Columns[1+k]+"="+gfValueText(row[1+k]))
			}
		}
		out = append(out, a)
	}
	s.sendGrafanaJSON(w, r, out)
}
