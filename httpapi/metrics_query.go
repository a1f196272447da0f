package httpapi

import (
	"bytes"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/soltixdb/soltix/planner"
	"github.com/soltixdb/soltix/query"
)

// soltix_query_duration_seconds: the time statements take to run (the
// planner's execution, rows streamed to the client included), by the kind
// of statement and the data level the planner read.

// queryKey labels one series of soltix_query_duration_seconds.
type queryKey struct {
	typ   string // select, show, delete or explain
	level string // raw, 1h, 1d, 1M, 1y, mixed or none
}

// statementType is the type label of stmt.
func statementType(stmt *query.Statement) string {
	switch {
	case stmt.Explain:
		return "explain"
	case stmt.Show != nil:
		return "show"
	case stmt.Delete != nil:
		return "delete"
	}
	return "select"
}

// statsLevel is the level label of a run's statistics: the one level it
// read, "mixed" for several, "none" when it read no data (a SHOW, an
// EXPLAIN, a DELETE, a SELECT over nothing, or a failure before any).
func statsLevel(st *planner.Stats) string {
	if st == nil {
		return "none"
	}
	switch len(st.Levels) {
	case 0:
		return "none"
	case 1:
		return st.Levels[0].Level
	}
	return "mixed"
}

func (m *metrics) observeQuery(typ, level string, d time.Duration) {
	sec := d.Seconds()
	i := 0
	for i < len(durationBuckets) && sec > durationBuckets[i] {
		i++
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.queryDurations == nil {
		m.queryDurations = make(map[queryKey]*histogram)
	}
	k := queryKey{typ, level}
	h := m.queryDurations[k]
	if h == nil {
		h = &histogram{counts: make([]uint64, len(durationBuckets)+1)}
		m.queryDurations[k] = h
	}
	h.counts[i]++
	h.sum += sec
	h.count++
}

// writeQueryDurations writes soltix_query_duration_seconds. The caller
// holds m.mu.
func (m *metrics) writeQueryDurations(b *bytes.Buffer) {
	const name = "soltix_query_duration_seconds"
	b.WriteString("# HELP " + name + " Time to run statements (rows streamed included), by type (select, show, delete, explain) and the data level read (raw, 1h, 1d, 1M, 1y, mixed, none).\n")
	b.WriteString("# TYPE " + name + " histogram\n")
	keys := make([]queryKey, 0, len(m.queryDurations))
	for k := range m.queryDurations {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b queryKey) int {
		if c := strings.Compare(a.typ, b.typ); c != 0 {
			return c
		}
		return strings.Compare(a.level, b.level)
	})
	for _, k := range keys {
		h := m.queryDurations[k]
		lbl := `type="` + k.typ + `",level="` + escapeLabel(k.level) + `"`
		var cum uint64
		for i, ub := range durationBuckets {
			cum += h.counts[i]
			b.WriteString(name + `_bucket{` + lbl + `,le="` + strconv.FormatFloat(ub, 'g', -1, 64) + `"} ` + strconv.FormatUint(cum, 10) + "\n")
		}
		b.WriteString(name + `_bucket{` + lbl + `,le="+Inf"} ` + strconv.FormatUint(h.count, 10) + "\n")
		b.WriteString(name + `_sum{` + lbl + `} ` + strconv.FormatFloat(h.sum, 'g', -1, 64) + "\n")
		b.WriteString(name + `_count{` + lbl + `} ` + strconv.FormatUint(h.count, 10) + "\n")
	}
}
