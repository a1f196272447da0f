package planner

import (
	"slices"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/query"
)

// Expressions, agg(*), GROUP BY * and HAVING are planned by rewriting: the
// SELECT becomes an inner SELECT of plain items (the aggregates and fields
// the expressions name, each once), which the planner answers exactly as
// any other (rollups, fragments pushed to nodes and all), and an exprSink
// computes each output row from the inner one: it evaluates the
// expressions, drops the rows HAVING refuses and applies LIMIT and OFFSET
// (per group) after HAVING. A SELECT with none of these is planned as it is.
//
// Arithmetic (docs/query.md, "Expressions"): integers stay integers under
// + - * and % unless the result overflows int64, which gives the float
// result instead; / always gives a float. Division or remainder by zero,
// sqrt of a negative, ln and log10 of a number <= 0 and any result that is
// not finite (NaN, ±Inf) give null, and null in gives null out. A string or
// boolean operand is an error naming it.

// exprCol is one output column of a rewritten SELECT: the inner column at
// index in, or the value of expr.
type exprCol struct {
	name string
	in   int
	expr query.ValueExpr
}

// exprPlan is what prepareExpr decided: the inner SELECT and how to make
// the output rows from its rows.
type exprPlan struct {
	inner  *query.Select
	prefix int // leading columns copied as they are: time and the GROUP BY tags
	cols   []exprCol
	// refs maps each *query.Call (aggregate) and *query.FieldRef of the
	// expressions and of HAVING to its inner column.
	refs          map[query.ValueExpr]int
	having        query.Expr
	limit, offset int64
}

// needsRewrite reports whether sel uses any construct of this file.
func needsRewrite(sel *query.Select) bool {
	if sel.GroupAll || sel.Having != nil {
		return true
	}
	for _, it := range sel.Items {
		if it.Expr != nil || it.Star && it.Func != "" {
			return true
		}
	}
	return false
}

// prepareExpr rewrites sel when it needs it; otherwise it returns sel and a
// nil plan. Names unknown to the collection are left for newPlan to report,
// except in expressions, whose fields must be numeric.
func prepareExpr(src Source, sel *query.Select) (*query.Select, *exprPlan, error) {
	if !needsRewrite(sel) {
		return sel, nil, nil
	}
	fields, ok := src.Fields(sel.From)
	if !ok {
		return sel, nil, nil // newPlan reports the unknown collection
	}
	inner := *sel
	inner.Items, inner.GroupAll, inner.Having = nil, false, nil
	tags := sortedStrings(src.TagKeys(sel.From))
	if sel.GroupAll {
		inner.GroupTags = slices.Clone(sel.GroupTags)
		inner.GroupTagPos = slices.Clone(sel.GroupTagPos)
		for _, k := range tags {
			if !slices.Contains(inner.GroupTags, k) {
				inner.GroupTags = append(inner.GroupTags, k)
				inner.GroupTagPos = append(inner.GroupTagPos, sel.GroupByPos)
			}
		}
	}
	ep := &exprPlan{inner: &inner, prefix: 1 + len(inner.GroupTags), refs: map[query.ValueExpr]int{}}
	b := &exprBuilder{ep: ep, fields: fields, tags: tags, index: map[string]int{}}
	for i := range sel.Items {
		if err := b.item(&sel.Items[i]); err != nil {
			return nil, nil, err
		}
	}
	if sel.Having != nil {
		if !b.anyAgg {
			return nil, nil, errorf(sel.FromPos, "HAVING needs aggregates in the SELECT list")
		}
		var err error
		query.Conditions(sel.Having, func(e query.Expr) {
			vc := e.(*query.ValueCompare)
			for _, side := range []query.ValueExpr{vc.LHS, vc.RHS} {
				if err == nil {
					_, err = b.walk(side, vc.Pos, true)
				}
			}
		})
		if err != nil {
			return nil, nil, err
		}
		ep.having = sel.Having
		ep.limit, ep.offset = sel.Limit, sel.Offset
		inner.Limit, inner.Offset = 0, 0
	}
	if len(inner.Items) == 0 {
		return nil, nil, errorf(sel.FromPos, "SELECT needs a field or an aggregate; an expression of numbers alone has no rows")
	}
	return &inner, ep, nil
}

// exprBuilder collects the inner items of a rewrite.
type exprBuilder struct {
	ep     *exprPlan
	fields map[string]model.Kind
	tags   []string
	index  map[string]int // inner item key -> inner column
	anyAgg bool
	// firstAgg and firstPlain are where an aggregate and a plain field
	// first appear, for the error on mixing them.
	firstAgg, firstPlain *query.Pos
}

// add returns the inner column of it, adding it once.
func (b *exprBuilder) add(it query.Item) int {
	it.Alias = ""
	key := it.Name()
	if it.Func == "" {
		key = "\x00" + it.Field // a plain field: never equal to fn(x)
	}
	if c, ok := b.index[key]; ok {
		return c
	}
	c := b.ep.prefix + len(b.ep.inner.Items)
	b.ep.inner.Items = append(b.ep.inner.Items, it)
	b.index[key] = c
	return c
}

func (b *exprBuilder) item(it *query.Item) error {
	switch {
	case it.Star && it.Func != "":
		n := 0
		for _, k := range sortedKeys(b.fields) {
			if !aggApplies(it.Func, b.fields[k]) {
				continue
			}
			in := query.Item{Func: it.Func, Field: k, Arg: it.Arg, Pos: it.Pos}
			b.ep.cols = append(b.ep.cols, exprCol{name: it.Func + "_" + k, in: b.add(in)})
			b.sawAgg(it.Pos)
			n++
		}
		if n == 0 {
			return errorf(it.Pos, "%s: collection %q has no field %s applies to", it.Name(), b.ep.inner.From, it.Func)
		}
	case it.Expr != nil:
		if _, err := b.walk(it.Expr, it.Pos, false); err != nil {
			return err
		}
		b.ep.cols = append(b.ep.cols, exprCol{name: it.Name(), expr: it.Expr})
	default:
		if it.Func != "" {
			b.sawAgg(it.Pos)
		} else if !it.Star {
			b.sawPlain(it.Pos)
		}
		if it.Star {
			// SELECT * with a rewrite: tags then fields, as the plan
			// expands it, named here so that columns stay in step.
			for _, k := range b.tags {
				b.ep.cols = append(b.ep.cols, exprCol{name: k, in: b.add(query.Item{Field: k, Pos: it.Pos})})
			}
			for _, k := range sortedKeys(b.fields) {
				b.ep.cols = append(b.ep.cols, exprCol{name: k, in: b.add(query.Item{Field: k, Pos: it.Pos})})
			}
			return b.mixed()
		}
		inner := *it
		b.ep.cols = append(b.ep.cols, exprCol{name: it.Name(), in: b.add(inner)})
	}
	return b.mixed()
}

func (b *exprBuilder) sawAgg(pos query.Pos) {
	b.anyAgg = true
	if b.firstAgg == nil {
		b.firstAgg = &pos
	}
}

func (b *exprBuilder) sawPlain(pos query.Pos) {
	if b.firstPlain == nil {
		b.firstPlain = &pos
	}
}

func (b *exprBuilder) mixed() error {
	if b.firstAgg != nil && b.firstPlain != nil {
		return errorf(*b.firstPlain, "cannot mix aggregates and plain fields or tags in one SELECT")
	}
	return nil
}

// walk checks an expression and adds what it reads to the inner SELECT.
// In HAVING (having set) only aggregates may be read. It returns whether
// the expression reads an aggregate.
func (b *exprBuilder) walk(e query.ValueExpr, pos query.Pos, having bool) (bool, error) {
	switch e := e.(type) {
	case *query.Number:
		return false, nil
	case *query.FieldRef:
		if having {
			return false, errorf(e.Pos, "HAVING compares aggregates; %q is not inside one", e.Name)
		}
		kind, ok := b.fields[e.Name]
		switch {
		case !ok && slices.Contains(b.tags, e.Name):
			return false, errorf(e.Pos, "tag %q cannot be used in arithmetic: its values are strings", e.Name)
		case !ok:
			return false, errorf(e.Pos, "unknown field %q", e.Name)
		case !kind.Numeric():
			return false, errorf(e.Pos, "field %q is a %s: arithmetic needs numbers", e.Name, kind)
		}
		b.sawPlain(e.Pos)
		b.ep.refs[e] = b.add(query.Item{Field: e.Name, Pos: e.Pos})
		return false, b.mixed()
	case *query.Call:
		if query.IsAggregate(e.Func) {
			return true, b.aggregate(e)
		}
		agg := false
		for _, a := range e.Args {
			x, err := b.walk(a, pos, having)
			if err != nil {
				return false, err
			}
			agg = agg || x
		}
		return agg, nil
	case *query.Unary:
		return b.walk(e.X, pos, having)
	case *query.Arith:
		l, err := b.walk(e.LHS, pos, having)
		if err != nil {
			return false, err
		}
		r, err := b.walk(e.RHS, pos, having)
		return l || r, err
	}
	return false, errorf(pos, "unknown expression %T", e)
}

// aggregate adds the aggregate call c, whose result must be a number.
func (b *exprBuilder) aggregate(c *query.Call) error {
	f := c.Args[0].(*query.FieldRef)
	it := query.Item{Func: c.Func, Field: f.Name, Pos: c.Pos}
	if len(c.Args) > 1 {
		it.Arg = c.Args[1].(*query.Number).Float
	}
	kind, ok := b.fields[f.Name]
	if !ok {
		return errorf(f.Pos, "unknown field %q in %s", f.Name, it.Name())
	}
	if err := checkAggregate(&it, kind); err != nil {
		return err
	}
	if c.Func != "count" && !kind.Numeric() {
		return errorf(c.Pos, "%s of %s field %q is not a number: arithmetic needs numbers", it.Name(), kind, f.Name)
	}
	b.sawAgg(c.Pos)
	b.ep.refs[c] = b.add(it)
	return b.mixed()
}

// aggApplies reports whether fn(*) includes a field of this kind: count,
// first and last take every field, the others numeric ones.
func aggApplies(fn string, kind model.Kind) bool {
	switch fn {
	case "count", "first", "last":
		return true
	}
	return kind.Numeric()
}

// exprSink turns the inner rows into the output rows.
type exprSink struct {
	next  Sink
	ep    *exprPlan
	seen  int64         // rows of the current group HAVING let through so far
	group []model.Value // the GROUP BY tag values of the current group
}

func (ep *exprPlan) wrap(next Sink) Sink { return &exprSink{next: next, ep: ep} }

// Columns names the output columns.
func (s *exprSink) Columns(names []string, timeColumn int) error {
	out := slices.Clone(names[:s.ep.prefix])
	for _, c := range s.ep.cols {
		out = append(out, c.name)
	}
	return s.next.Columns(out, timeColumn)
}

// Row evaluates one output row.
func (s *exprSink) Row(row []model.Value) error {
	if s.ep.having != nil {
		if !s.holds(s.ep.having, row) {
			return nil
		}
		// LIMIT and OFFSET apply per group, as without HAVING; rows
		// come group by group.
		if tags := row[1:s.ep.prefix]; !slices.EqualFunc(tags, s.group, model.Value.Equal) {
			s.group, s.seen = slices.Clone(tags), 0
		}
		s.seen++
		if s.seen <= s.ep.offset || s.ep.limit > 0 && s.seen > s.ep.offset+s.ep.limit {
			return nil
		}
	}
	out := make([]model.Value, s.ep.prefix, s.ep.prefix+len(s.ep.cols))
	copy(out, row[:s.ep.prefix])
	for _, c := range s.ep.cols {
		if c.expr == nil {
			out = append(out, row[c.in])
			continue
		}
		out = append(out, s.eval(c.expr, row).value())
	}
	return s.next.Row(out)
}

// holds evaluates a HAVING condition on an inner row: a comparison with a
// null side is false.
func (s *exprSink) holds(e query.Expr, row []model.Value) bool {
	switch e := e.(type) {
	case *query.Binary:
		if e.Op == "AND" {
			return s.holds(e.LHS, row) && s.holds(e.RHS, row)
		}
		return s.holds(e.LHS, row) || s.holds(e.RHS, row)
	case *query.ValueCompare:
		return compareNums(s.eval(e.LHS, row), e.Op, s.eval(e.RHS, row))
	}
	return false
}

func (s *exprSink) eval(e query.ValueExpr, row []model.Value) num {
	switch e := e.(type) {
	case *query.Number:
		if e.IsInt {
			return intNum(e.Int)
		}
		return floatNum(e.Float)
	case *query.FieldRef, *query.Call:
		if c, ok := s.ep.refs[e]; ok {
			return numOf(row[c])
		}
		call := e.(*query.Call)
		args := make([]num, len(call.Args))
		for i, a := range call.Args {
			args[i] = s.eval(a, row)
		}
		return mathCall(call.Func, args)
	case *query.Unary:
		return negate(s.eval(e.X, row))
	case *query.Arith:
		return arith(e.Op, s.eval(e.LHS, row), s.eval(e.RHS, row))
	}
	return num{}
}
