package planner

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/query"
)

// ErrDeleteUnsupported is returned (wrapped) by Execute for a DELETE
// statement when the Source does not implement Deleter.
var ErrDeleteUnsupported = errors.New("source does not support DELETE")

// deleteStatement runs DELETE FROM c [WHERE ...]: it resolves the series the
// tag conditions select and the one time interval the time conditions
// select, and asks the source to delete those points with a single call
// (none when no series matches). The result has one column,
// deleted_series, and one row: the number of series matched.
func deleteStatement(ctx context.Context, src Source, d *query.Delete, now time.Time) (*Result, error) {
	del, ok := src.(Deleter)
	if !ok {
		return nil, fmt.Errorf("delete from %q: %w", d.From, ErrDeleteUnsupported)
	}
	fields, ok := src.Fields(d.From)
	if !ok {
		return nil, notFound(d.From)
	}
	sel, err := compileDelete(d.Where, fields, now)
	if err != nil {
		return nil, err
	}
	var series []model.Tags
	if !sel.rng.empty {
		series = sel.matching(src, d.From)
	}
	if len(series) > 0 {
		if err := del.Delete(ctx, d.From, series, sel.rng.lo, sel.rng.hi); err != nil {
			return nil, err
		}
	}
	return &Result{
		Columns:    []string{"deleted_series"},
		TimeColumn: -1,
		Rows:       [][]model.Value{{model.Int(int64(len(series)))}},
	}, nil
}

// deleteSelection is what the WHERE clause of a DELETE selects: the series
// whose tags satisfy tags (nil: every series), over the interval rng.
type deleteSelection struct {
	tags *cond
	rng  interval
}

// matching returns the series of the collection the selection deletes
// from (see selectFrom), sorted by series key.
func (sel deleteSelection) matching(src Source, collection string) []model.Tags {
	selected, _, tagTrue, sorted := selectFrom(src, collection, sel.tags)
	if tagTrue == nil && sorted {
		return selected
	}
	out := selected[:0:0]
	for i, t := range selected {
		if tagTrue == nil || tagTrue[i] {
			out = append(out, t)
		}
	}
	type keyed struct {
		key  string
		tags model.Tags
	}
	ks := make([]keyed, len(out))
	for i, t := range out {
		ks[i] = keyed{model.SeriesKey(collection, t), t}
	}
	slices.SortFunc(ks, func(a, b keyed) int { return strings.Compare(a.key, b.key) })
	for i := range ks {
		out[i] = ks[i].tags
	}
	return out
}

// compileDelete checks the WHERE clause of a DELETE and splits it into its
// tag predicate and its time interval. The rules:
//
//   - no condition may name a field;
//   - tags are compared with =, !=, IN, NOT IN, =~ or !~, and combined freely
//     with AND, OR and parentheses;
//   - every time condition must be one of the operands of the top-level AND
//     chain, and must select one interval (=, <, <=, >, >=, BETWEEN, or IN
//     with one value), so that the points deleted are exactly one interval
//     of each matched series.
func compileDelete(e query.Expr, fields map[string]model.Kind, now time.Time) (deleteSelection, error) {
	sel := deleteSelection{rng: fullRange}
	if e == nil {
		return sel, nil
	}
	if err := checkDeleteConds(e, fields); err != nil {
		return sel, err
	}
	c := compiler{fields: fields, now: now}
	var tagTerms []*cond
	for _, term := range query.Operands(e, "AND") {
		tm, ok := firstTimeCond(term)
		if !ok {
			tc, err := c.expr(term)
			if err != nil {
				return sel, err
			}
			tagTerms = append(tagTerms, tc)
			continue
		}
		if _, isBinary := term.(*query.Binary); isBinary {
			return sel, errorf(tm, "DELETE deletes one time interval: join time conditions to the rest of WHERE with AND at the top level, "+
				"as in time >= a AND time < b AND (host = 'x' OR host = 'y'); a time condition under OR is not allowed")
		}
		tc, err := c.expr(term)
		if err != nil {
			return sel, err
		}
		if !tc.lf.exact {
			return sel, errorf(tm, "DELETE deletes one time interval: %s does not select one; use =, <, <=, >, >=, BETWEEN or IN with one value",
				query.ExprString(term))
		}
		sel.rng = sel.rng.intersect(tc.lf.span)
	}
	switch len(tagTerms) {
	case 0:
	case 1:
		sel.tags = tagTerms[0]
	default:
		sel.tags = &cond{op: opAnd, kids: tagTerms}
	}
	return sel, nil
}

// checkDeleteConds rejects conditions on fields and tag comparisons other
// than equality, set membership and regular expressions.
func checkDeleteConds(e query.Expr, fields map[string]model.Kind) error {
	var err error
	query.Conditions(e, func(x query.Expr) {
		if err == nil {
			err = checkDeleteCond(x, fields)
		}
	})
	return err
}

func checkDeleteCond(e query.Expr, fields map[string]model.Kind) error {
	switch e := e.(type) {
	case *query.Compare:
		if err := checkDeleteName(e.Name, e.Pos, fields); err != nil {
			return err
		}
		switch e.Op {
		case "=", "!=", "<>", "=~", "!~":
			return nil
		}
		if e.Name != "time" {
			return errorf(e.Pos, "DELETE compares tags with =, !=, IN, NOT IN, =~ or !~ only, not %s", e.Op)
		}
	case *query.In:
		return checkDeleteName(e.Name, e.Pos, fields)
	case *query.Between:
		if err := checkDeleteName(e.Name, e.Pos, fields); err != nil {
			return err
		}
		if e.Name != "time" {
			return errorf(e.Pos, "DELETE compares tags with =, !=, IN, NOT IN, =~ or !~ only, not BETWEEN")
		}
	default:
		return errorf(query.Pos{}, "unsupported condition %T", e)
	}
	return nil
}

func checkDeleteName(name string, pos query.Pos, fields map[string]model.Kind) error {
	if _, isField := fields[name]; isField && name != "time" {
		return errorf(pos, "DELETE cannot select by field values; use tags and time (%q is a field)", name)
	}
	return nil
}

// firstTimeCond returns the position of the first condition on time in e.
func firstTimeCond(e query.Expr) (query.Pos, bool) {
	var pos query.Pos
	found := false
	query.Conditions(e, func(x query.Expr) {
		if found {
			return
		}
		switch x := x.(type) {
		case *query.Compare:
			pos, found = x.Pos, x.Name == "time"
		case *query.In:
			pos, found = x.Pos, x.Name == "time"
		case *query.Between:
			pos, found = x.Pos, x.Name == "time"
		}
	})
	return pos, found
}
