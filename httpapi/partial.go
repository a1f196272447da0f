package httpapi

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/planner"
)

// Partial answers of a cluster router (partial=true on /api/v1/query): a
// query whose groups are not all reachable answers without them instead of
// failing with 503, and says which are missing in the X-Soltix-Missing-Groups
// header (comma-separated group numbers) and, in JSON, a "missing_groups"
// array. A single node never leaves groups out.

// HeaderMissingGroups names the groups a partial answer left out.
const HeaderMissingGroups = "X-Soltix-Missing-Groups"

// parsePartial reads the partial parameter: nil unless it is true.
func parsePartial(v string) (*planner.Partial, error) {
	switch v {
	case "", "false":
		return nil, nil
	case "true":
		return &planner.Partial{}, nil
	}
	return nil, fmt.Errorf("bad partial %q: want true or false", v)
}

// missingGroups returns the groups a partial answer left out (nil for
// none), setting the header when there are some.
func missingGroups(w http.ResponseWriter, p *planner.Partial) []int {
	if p == nil {
		return nil
	}
	groups, _ := p.Missing()
	if len(groups) == 0 {
		return nil
	}
	s := make([]string, len(groups))
	for i, g := range groups {
		s[i] = strconv.Itoa(g)
	}
	w.Header().Set(HeaderMissingGroups, strings.Join(s, ","))
	return groups
}

// partialSink sets the header of a streamed partial answer before its
// first byte: the groups are known once the statement is scoped, before
// its columns.
type partialSink struct {
	planner.Sink
	w http.ResponseWriter
	p *planner.Partial
}

func (s *partialSink) Columns(names []string, timeColumn int) error {
	missingGroups(s.w, s.p)
	return s.Sink.Columns(names, timeColumn)
}

func (s *partialSink) Row(row []model.Value) error { return s.Sink.Row(row) }

// appendMissing appends ,"missing_groups":[...] when groups is not empty.
func appendMissing(b []byte, groups []int) []byte {
	if len(groups) == 0 {
		return b
	}
	b = append(b, `,"missing_groups":[`...)
	for i, g := range groups {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, int64(g), 10)
	}
	return append(b, ']')
}
