package e2e

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// This file compares a server answer with the oracle's acceptable answers.

// compare returns "" and the label of the first acceptable table the answer
// matches, or a description of how it differs from the preferred one.
func compare(got *queryAnswer, wants []table) (label, diff string) {
	for i, w := range wants {
		d := diffTable(got, w)
		if d == "" {
			return w.label, ""
		}
		if i == 0 {
			diff = d
		}
	}
	return "", diff
}

func diffTable(got *queryAnswer, want table) string {
	if !equalStrings(got.Columns, want.columns) {
		return fmt.Sprintf("columns: got %q, want %q", got.Columns, want.columns)
	}
	n := min(len(got.Rows), len(want.rows))
	for i := range n {
		if d := diffRow(got.Rows[i], want.rows[i], got.sketched()); d != "" {
			return fmt.Sprintf("row %d of %d (want %d rows): %s\n    got  %s\n    want %s",
				i, len(got.Rows), len(want.rows), d, formatGotRow(got.Rows[i]), formatWantRow(want.rows[i]))
		}
	}
	switch {
	case len(got.Rows) > n:
		return fmt.Sprintf("got %d rows, want %d; first extra row:\n    got  %s", len(got.Rows), len(want.rows), formatGotRow(got.Rows[n]))
	case len(want.rows) > n:
		return fmt.Sprintf("got %d rows, want %d; first missing row:\n    want %s", len(got.Rows), len(want.rows), formatWantRow(want.rows[n]))
	}
	return ""
}

// diffRow compares a row; with sketched (the answer says a percentile
// came from rollup sketches) percentile cells match within the sketch's
// documented bound.
func diffRow(got []any, want []cell, sketched bool) string {
	if len(got) != len(want) {
		return fmt.Sprintf("got %d values, want %d", len(got), len(want))
	}
	for j := range want {
		if !cellMatches(got[j], want[j]) && !(sketched && want[j].pct && sketchMatches(got[j], want[j])) {
			return fmt.Sprintf("column %d", j)
		}
	}
	return ""
}

func cellMatches(g any, c cell) bool {
	if matchOne(g, c) {
		return true
	}
	for _, a := range c.alts {
		if matchOne(g, a) {
			return true
		}
	}
	return false
}

func matchOne(g any, c cell) bool {
	switch c.v.k {
	case kNull:
		return g == nil
	case kString:
		s, ok := g.(string)
		return ok && s == c.v.s
	case kBool:
		b, ok := g.(bool)
		return ok && b == c.v.b
	}
	num, ok := g.(json.Number)
	if !ok {
		return false
	}
	if c.v.k == kInt {
		if i, err := strconv.ParseInt(string(num), 10, 64); err == nil {
			return i == c.v.i
		}
		// An integral value written as a float, e.g. FILL(7) rendered 7.0.
		f, err := strconv.ParseFloat(string(num), 64)
		return err == nil && math.Abs(float64(c.v.i)) < 1<<53 && f == float64(c.v.i)
	}
	f, err := strconv.ParseFloat(string(num), 64)
	if err != nil {
		return false
	}
	if !c.approx {
		return f == c.v.f
	}
	return closeEnough(f, c.v.f)
}

// closeEnough compares within relative 1e-9, or absolute 1e-9 near zero.
func closeEnough(a, b float64) bool {
	d := math.Abs(a - b)
	return d <= 1e-9 || d <= 1e-9*math.Max(math.Abs(a), math.Abs(b))
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func formatGotRow(r []any) string {
	parts := make([]string, len(r))
	for i, v := range r {
		switch v := v.(type) {
		case nil:
			parts[i] = "null"
		case string:
			parts[i] = strconv.Quote(v)
		default:
			parts[i] = fmt.Sprint(v)
		}
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

func formatWantRow(r []cell) string {
	parts := make([]string, len(r))
	for i, c := range r {
		parts[i] = c.String()
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// asResponse renders the oracle's preferred table as if a server had sent
// it, so the oracle can be checked against hand-computed answers.
func asResponse(t table) *queryAnswer {
	r := &queryAnswer{Columns: t.columns}
	for _, row := range t.rows {
		var out []any
		for _, c := range row {
			switch c.v.k {
			case kNull:
				out = append(out, nil)
			case kInt:
				out = append(out, json.Number(strconv.FormatInt(c.v.i, 10)))
			case kFloat:
				out = append(out, json.Number(strconv.FormatFloat(c.v.f, 'g', -1, 64)))
			case kString:
				out = append(out, c.v.s)
			case kBool:
				out = append(out, c.v.b)
			}
		}
		r.Rows = append(r.Rows, out)
	}
	return r
}
