package e2e

import (
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/soltixdb/soltix/internal/sketch"
)

// sketchNotePrefix is in the note of an answer (or EXPLAIN) whose percentile came
// from rollup sketches (docs/query.md, "percentile").
const sketchNotePrefix = "percentile from rollup sketches"

// sketched reports whether the answer says a percentile is approximate.
func (a *queryAnswer) sketched() bool {
	return a.Stats != nil && slices.ContainsFunc(a.Stats.Notes, func(n string) bool { return strings.Contains(n, sketchNotePrefix) })
}

// sketchMatches reports whether g is within the documented bound of the
// exact percentile c (or one of its alternatives): relative sketch.Alpha,
// plus 0.5 for an integer field (rounded). NaN and ±Inf are exact.
func sketchMatches(g any, c cell) bool {
	for _, w := range append([]cell{c}, c.alts...) {
		num, ok := g.(json.Number)
		if !ok {
			continue
		}
		f, err := strconv.ParseFloat(string(num), 64)
		if err != nil {
			continue
		}
		var want, slack float64
		switch w.v.k {
		case kInt:
			want, slack = float64(w.v.i), 0.5
		case kFloat:
			want = w.v.f
		default:
			continue
		}
		if math.IsNaN(want) || math.IsInf(want, 0) {
			continue
		}
		scale := max(math.Abs(want), c.pctScale)
		if math.Abs(f-want) <= sketch.Alpha*scale*(1+1e-9)+slack+c.pctSlack {
			return true
		}
	}
	return false
}
