package planner

import (
	"cmp"
	"math"
	"regexp"
	"regexp/syntax"
	"strings"
	"time"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/query"
)

// condOp is the kind of a node of a compiled WHERE clause.
type condOp uint8

const (
	opLeaf condOp = iota
	opAnd
	opOr
	opTrue
	opFalse
)

// cond is a compiled WHERE clause. Leaves test one tag, field or the time.
// AND and OR nodes hold every operand of a chain of one operator, so a
// chain of any length is one node: nothing walks it recursively.
type cond struct {
	op   condOp
	kids []*cond // opAnd, opOr
	lf   *leaf
	// For an OR node once series are selected by sets (see sets): the
	// operands that can hold for a series, by the series' id, and those
	// that can hold for most series. fold visits only these, so folding a
	// long OR for one series does not test every operand.
	indexed bool
	byID    map[int32][]int32
	wide    []int32
}

var (
	condTrue  = &cond{op: opTrue}
	condFalse = &cond{op: opFalse}
)

type leafKind uint8

const (
	leafTag leafKind = iota
	leafField
	leafTime
)

// leaf is one condition. Exactly the test matching its subject is set: str
// for tags and string fields, f64/i64/u64/bl for numeric and bool fields,
// i64 for time.
type leaf struct {
	kind  leafKind
	name  string
	fkind model.Kind
	col   int
	str   func(string) bool
	f64   func(float64) bool
	i64   func(int64) bool
	u64   func(uint64) bool
	bl    func(bool) bool
	// For time leaves: the smallest interval holding every accepted time,
	// and whether the leaf accepts exactly that interval.
	span  interval
	exact bool
	// For tag leaves that accept a list of values (=, IN) or reject one
	// (!=, NOT IN): the values and whether they are rejected. Series
	// selection looks them up in the index instead of testing every value.
	set    bool
	vals   []string
	negate bool
	// For tag leaves matching a regular expression anchored at the start
	// by a literal: that literal. Every value without it passes or fails
	// as "" does, so selection tests only the values with it.
	prefix string
}

// tri is a three-valued truth value, for deciding from tags alone whether a
// series can match.
type tri uint8

const (
	triFalse tri = iota
	triTrue
	triUnknown
)

// compiler turns a WHERE expression into a cond, resolving names against
// the collection's fields.
type compiler struct {
	fields map[string]model.Kind
	now    time.Time
}

func compileWhere(e query.Expr, fields map[string]model.Kind, now time.Time) (*cond, error) {
	if e == nil {
		return nil, nil
	}
	c := compiler{fields: fields, now: now}
	return c.expr(e)
}

// expr compiles e. It recurses once per change between AND and OR, which
// the parser's nesting limit bounds, never once per operand of a chain.
func (c *compiler) expr(e query.Expr) (*cond, error) {
	switch e := e.(type) {
	case *query.Binary:
		var op condOp
		switch strings.ToUpper(e.Op) {
		case "AND":
			op = opAnd
		case "OR":
			op = opOr
		default:
			return nil, errorf(query.Pos{}, "unknown operator %q", e.Op)
		}
		operands := query.Operands(e, e.Op)
		n := &cond{op: op, kids: make([]*cond, 0, len(operands))}
		for _, x := range operands {
			k, err := c.expr(x)
			if err != nil {
				return nil, err
			}
			n.kids = append(n.kids, k)
		}
		if !mergeEqualityChains {
			return n, nil
		}
		return c.mergeEqualities(n, operands)
	}
	return c.single(e)
}

// mergeEqualityChains is switched off only by tests comparing merged and
// unmerged evaluation.
var mergeEqualityChains = true

// mergeEqualities replaces, in an OR, the `field = literal` operands on one
// number or string field by one IN leaf, and in an AND the `field != literal`
// operands by one NOT IN leaf, so a chain of n such terms costs a lookup per
// row rather than n comparisons. IN is defined as the OR of the = tests (and
// NOT IN as the AND of the != tests, a missing value failing both), so the
// answer is unchanged; every operand was compiled on its own first, so the
// errors are those of the unmerged chain. Other operands keep their places.
func (c *compiler) mergeEqualities(n *cond, operands []query.Expr) (*cond, error) {
	want := "="
	if n.op == opAnd {
		want = "!="
	}
	groups := map[string][]int{}
	var order []string
	for i, x := range operands {
		cmp, ok := x.(*query.Compare)
		if !ok {
			continue
		}
		op := cmp.Op
		if op == "<>" {
			op = "!="
		}
		if op != want {
			continue
		}
		kind, fkind := c.subject(cmp.Name)
		if kind != leafField || fkind == model.KindBool {
			continue
		}
		if _, seen := groups[cmp.Name]; !seen {
			order = append(order, cmp.Name)
		}
		groups[cmp.Name] = append(groups[cmp.Name], i)
	}
	merged := false
	drop := make([]bool, len(operands))
	for _, name := range order {
		idx := groups[name]
		if len(idx) < 2 {
			continue
		}
		in := &query.In{Name: name, Not: n.op == opAnd, Values: make([]query.Literal, len(idx))}
		for j, i := range idx {
			cmp := operands[i].(*query.Compare)
			in.Values[j] = cmp.Value
			if j == 0 {
				in.Pos = cmp.Pos
			}
		}
		lf, err := c.in(in)
		if err != nil {
			return nil, err
		}
		n.kids[idx[0]] = &cond{op: opLeaf, lf: lf}
		for _, i := range idx[1:] {
			drop[i] = true
		}
		merged = true
	}
	if !merged {
		return n, nil
	}
	kids := n.kids[:0]
	for i, k := range n.kids {
		if !drop[i] {
			kids = append(kids, k)
		}
	}
	n.kids = kids
	if len(kids) == 1 {
		return kids[0], nil
	}
	return n, nil
}

// single compiles a condition that is not an AND or OR chain.
func (c *compiler) single(e query.Expr) (*cond, error) {
	switch e := e.(type) {
	case *query.Compare:
		lf, err := c.compare(e)
		if err != nil {
			return nil, err
		}
		return &cond{op: opLeaf, lf: lf}, nil
	case *query.In:
		lf, err := c.in(e)
		if err != nil {
			return nil, err
		}
		return &cond{op: opLeaf, lf: lf}, nil
	case *query.Between:
		lf, err := c.between(e)
		if err != nil {
			return nil, err
		}
		return &cond{op: opLeaf, lf: lf}, nil
	}
	return nil, errorf(query.Pos{}, "unsupported condition %T", e)
}

// subject classifies a name used in WHERE.
func (c *compiler) subject(name string) (leafKind, model.Kind) {
	if name == "time" {
		return leafTime, model.KindInt
	}
	if k, ok := c.fields[name]; ok {
		return leafField, k
	}
	return leafTag, model.KindString
}

func litPos(l query.Literal, fallback query.Pos) query.Pos {
	if l.Pos.Line > 0 {
		return l.Pos
	}
	return fallback
}

// describe names a subject for error messages.
func describe(kind leafKind, fkind model.Kind, name string) string {
	if kind == leafTag {
		return "tag " + quote(name)
	}
	return fkind.String() + " field " + quote(name)
}

func quote(s string) string { return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"` }

// ordered is a comparison of a value with a literal: -1, 0, 1, or
// unordered (NaN involved), which only != accepts.
const unordered = 2

func opTest(op string) (func(int) bool, bool) {
	switch op {
	case "=":
		return func(c int) bool { return c == 0 }, true
	case "!=", "<>":
		return func(c int) bool { return c != 0 }, true
	case "<":
		return func(c int) bool { return c == -1 }, true
	case "<=":
		return func(c int) bool { return c == -1 || c == 0 }, true
	case ">":
		return func(c int) bool { return c == 1 }, true
	case ">=":
		return func(c int) bool { return c == 0 || c == 1 }, true
	}
	return nil, false
}

// valueCmp compares values of one subject with one literal.
type valueCmp struct {
	str func(string) int
	f64 func(float64) int
	i64 func(int64) int
	u64 func(uint64) int
	bl  func(bool) int // 0 when equal, 1 otherwise
}

// literalCmp checks that lit may be compared with the subject and returns
// the comparison. ordered says whether the operator needs an order (not
// only equality).
func (c *compiler) literalCmp(kind leafKind, fkind model.Kind, name string, lit query.Literal, ordered bool, pos query.Pos) (valueCmp, error) {
	pos = litPos(lit, pos)
	what := describe(kind, fkind, name)
	if kind == leafTime {
		if !ordered {
			t, err := c.timeOf(lit, pos)
			if err != nil {
				return valueCmp{}, err
			}
			return valueCmp{i64: func(v int64) int { return cmp.Compare(v, t) }}, nil
		}
		t, fit, err := c.timeBound(lit, pos)
		if err != nil {
			return valueCmp{}, err
		}
		if !fit { // every time lies above a bound under the range, below one over it
			side := 1
			if t == math.MaxInt64 {
				side = -1
			}
			return valueCmp{i64: func(int64) int { return side }}, nil
		}
		return valueCmp{i64: func(v int64) int { return cmp.Compare(v, t) }}, nil
	}
	if lit.Kind == query.LitRegex {
		return valueCmp{}, errorf(pos, "a regular expression can only be matched with =~ or !~")
	}
	if len(lit.Offsets) > 0 || lit.Kind == query.LitNow {
		return valueCmp{}, errorf(pos, "%s cannot be compared with a time; time arithmetic applies to time only", what)
	}
	switch fkind {
	case model.KindString:
		if lit.Kind != query.LitString {
			return valueCmp{}, errorf(pos, "%s cannot be compared with %s; use a string", what, litName(lit))
		}
		s := lit.Str
		return valueCmp{str: func(v string) int { return strings.Compare(v, s) }}, nil
	case model.KindBool:
		if lit.Kind != query.LitBool {
			return valueCmp{}, errorf(pos, "%s cannot be compared with %s; use true or false", what, litName(lit))
		}
		if ordered {
			return valueCmp{}, errorf(pos, "%s can only be compared with = or !=", what)
		}
		b := lit.Bool
		return valueCmp{bl: func(v bool) int {
			if v == b {
				return 0
			}
			return 1
		}}, nil
	case model.KindFloat, model.KindInt, model.KindUint:
		var vc valueCmp
		switch lit.Kind {
		case query.LitInteger:
			n := lit.Int
			vc.f64 = func(v float64) int { return cmpFloatInt(v, n) }
			vc.i64 = func(v int64) int { return cmp.Compare(v, n) }
			vc.u64 = func(v uint64) int {
				if n < 0 {
					return 1
				}
				return cmp.Compare(v, uint64(n))
			}
		case query.LitNumber:
			f := lit.Num
			vc.f64 = func(v float64) int { return cmpFloat(v, f) }
			vc.i64 = func(v int64) int { return flip(cmpFloatInt(f, v)) }
			vc.u64 = func(v uint64) int { return flip(cmpFloatUint(f, v)) }
		default:
			return valueCmp{}, errorf(pos, "%s cannot be compared with %s; use a number", what, litName(lit))
		}
		return vc, nil
	}
	return valueCmp{}, errorf(pos, "%s cannot be compared", what)
}

func litName(l query.Literal) string {
	switch l.Kind {
	case query.LitString:
		return "a string"
	case query.LitNumber, query.LitInteger:
		return "a number"
	case query.LitBool:
		return "a boolean"
	case query.LitRegex:
		return "a regular expression"
	case query.LitNow:
		return "now()"
	}
	return "this literal"
}

// test turns a comparison and an acceptance of its result into the leaf's
// predicate.
func (lf *leaf) setTest(vc valueCmp, accept func(int) bool) {
	switch {
	case vc.str != nil:
		f := vc.str
		lf.str = func(v string) bool { return accept(f(v)) }
	case vc.bl != nil:
		f := vc.bl
		lf.bl = func(v bool) bool { return accept(f(v)) }
	default:
		if vc.f64 != nil {
			f := vc.f64
			lf.f64 = func(v float64) bool { return accept(f(v)) }
		}
		if vc.i64 != nil {
			f := vc.i64
			lf.i64 = func(v int64) bool { return accept(f(v)) }
		}
		if vc.u64 != nil {
			f := vc.u64
			lf.u64 = func(v uint64) bool { return accept(f(v)) }
		}
	}
}

func (c *compiler) compare(e *query.Compare) (*leaf, error) {
	kind, fkind := c.subject(e.Name)
	lf := &leaf{kind: kind, name: e.Name, fkind: fkind, col: -1, span: fullRange}
	what := describe(kind, fkind, e.Name)
	if e.Op == "=~" || e.Op == "!~" {
		if kind == leafTime || fkind != model.KindString {
			if kind == leafTime {
				what = "time"
			}
			return nil, errorf(e.Pos, "%s cannot be matched against a regular expression", what)
		}
		if e.Value.Kind != query.LitRegex {
			return nil, errorf(litPos(e.Value, e.Pos), "%s needs a regular expression such as /^a/", e.Op)
		}
		re := e.Value.Regex
		if re == nil {
			var err error
			if re, err = regexp.Compile(e.Value.Str); err != nil {
				return nil, errorf(litPos(e.Value, e.Pos), "bad regular expression: %v", err)
			}
		}
		want := e.Op == "=~"
		lf.str = func(v string) bool { return re.MatchString(v) == want }
		if kind == leafTag {
			lf.prefix = anchoredPrefix(re)
		}
		return lf, nil
	}
	accept, ok := opTest(e.Op)
	if !ok {
		return nil, errorf(e.Pos, "unknown comparison %q", e.Op)
	}
	ordered := e.Op != "=" && e.Op != "!=" && e.Op != "<>"
	vc, err := c.literalCmp(kind, fkind, e.Name, e.Value, ordered, e.Pos)
	if err != nil {
		return nil, err
	}
	lf.setTest(vc, accept)
	if kind == leafTag && (e.Op == "=" || e.Op == "!=" || e.Op == "<>") {
		lf.set, lf.vals, lf.negate = true, []string{e.Value.Str}, e.Op != "="
	}
	// Common cases without the exact mixed comparison, for speed.
	lit := e.Value
	switch {
	case kind == leafTime:
		op, t := e.Op, int64(0)
		if ordered {
			var fit bool
			t, fit, _ = c.timeBound(lit, e.Pos)
			op = saturatedOp(op, t, fit)
		} else {
			t, _ = c.timeOf(lit, e.Pos)
		}
		lf.span, lf.exact = timeSpan(op, t)
		lf.i64 = directTest(op, t)
	case fkind == model.KindFloat && lit.Kind == query.LitNumber:
		lf.f64 = directTest(e.Op, lit.Num)
	case fkind == model.KindFloat && lit.Kind == query.LitInteger && lit.Int >= -1<<53 && lit.Int <= 1<<53:
		lf.f64 = directTest(e.Op, float64(lit.Int)) // exact: the integer is a float64
	case fkind == model.KindInt && lit.Kind == query.LitInteger:
		lf.i64 = directTest(e.Op, lit.Int)
	}
	return lf, nil
}

// directTest returns `v op x` for one comparison operator; NaN compares
// unequal to everything, as in cmpFloat.
func directTest[T int64 | float64](op string, x T) func(T) bool {
	switch op {
	case "=":
		return func(v T) bool { return v == x }
	case "<":
		return func(v T) bool { return v < x }
	case "<=":
		return func(v T) bool { return v <= x }
	case ">":
		return func(v T) bool { return v > x }
	case ">=":
		return func(v T) bool { return v >= x }
	}
	return func(v T) bool { return v != x }
}

func (c *compiler) in(e *query.In) (*leaf, error) {
	kind, fkind := c.subject(e.Name)
	lf := &leaf{kind: kind, name: e.Name, fkind: fkind, col: -1, span: fullRange}
	cmps := make([]valueCmp, 0, len(e.Values))
	times := interval{empty: true}
	var at []int64 // the listed times
	for _, v := range e.Values {
		vc, err := c.literalCmp(kind, fkind, e.Name, v, false, e.Pos)
		if err != nil {
			return nil, err
		}
		cmps = append(cmps, vc)
		if kind == leafTime {
			t, _ := c.timeOf(v, e.Pos)
			times = times.hull(interval{lo: t, hi: t})
			at = append(at, t)
		}
	}
	want := !e.Not
	switch {
	case kind == leafTag || fkind == model.KindString:
		set := make(map[string]struct{}, len(e.Values))
		for _, v := range e.Values {
			set[v.Str] = struct{}{}
		}
		lf.str = func(v string) bool { _, ok := set[v]; return ok == want }
		if kind == leafTag {
			lf.set, lf.negate = true, e.Not
			for _, v := range e.Values {
				lf.vals = append(lf.vals, v.Str)
			}
		}
		return lf, nil
	case kind == leafTime:
		set := newNumSet(e.Values, cmps, at)
		lf.i64 = func(v int64) bool { return set.hasI64(v) == want }
		if want {
			lf.span = times
			lf.exact = times.empty || times.lo == times.hi
		}
		return lf, nil
	}
	switch fkind {
	case model.KindBool:
		lf.bl = func(v bool) bool { return anyEqual(cmps, func(vc valueCmp) int { return vc.bl(v) }) == want }
	default:
		set := newNumSet(e.Values, cmps, nil)
		lf.f64 = func(v float64) bool { return set.hasF64(v) == want }
		lf.i64 = func(v int64) bool { return set.hasI64(v) == want }
		lf.u64 = func(v uint64) bool { return set.hasU64(v) == want }
	}
	return lf, nil
}

func anyEqual(cmps []valueCmp, f func(valueCmp) int) bool {
	for _, vc := range cmps {
		if f(vc) == 0 {
			return true
		}
	}
	return false
}

func (c *compiler) between(e *query.Between) (*leaf, error) {
	kind, fkind := c.subject(e.Name)
	lf := &leaf{kind: kind, name: e.Name, fkind: fkind, col: -1, span: fullRange}
	lo, err := c.literalCmp(kind, fkind, e.Name, e.Low, true, e.Pos)
	if err != nil {
		return nil, err
	}
	hi, err := c.literalCmp(kind, fkind, e.Name, e.High, true, e.Pos)
	if err != nil {
		return nil, err
	}
	in := func(a, b int) bool { return (a == 0 || a == 1) && (b == 0 || b == -1) }
	switch {
	case lo.str != nil:
		lf.str = func(v string) bool { return in(lo.str(v), hi.str(v)) }
	default:
		lf.f64 = func(v float64) bool { return in(lo.f64(v), hi.f64(v)) }
		lf.i64 = func(v int64) bool { return in(lo.i64(v), hi.i64(v)) }
		lf.u64 = func(v uint64) bool { return in(lo.u64(v), hi.u64(v)) }
	}
	if kind == leafTime {
		tl, lfit, _ := c.timeBound(e.Low, e.Pos)
		th, hfit, _ := c.timeBound(e.High, e.Pos)
		lf.span, lf.exact = interval{lo: tl, hi: th}, true
		if tl > th || (!lfit && tl == math.MaxInt64) || (!hfit && th == math.MinInt64) {
			lf.span = interval{empty: true}
		}
	}
	return lf, nil
}

// Numeric comparisons that are exact across integers and floats.

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	case a == b:
		return 0
	}
	return unordered
}

func flip(c int) int {
	if c == unordered {
		return c
	}
	return -c
}

// cmpFloatInt compares f with i exactly.
func cmpFloatInt(f float64, i int64) int {
	switch {
	case math.IsNaN(f):
		return unordered
	case f < -(1 << 63):
		return -1
	case f >= 1<<63:
		return 1
	}
	tr := math.Trunc(f)
	if c := cmp.Compare(int64(tr), i); c != 0 {
		return c
	}
	return cmpFloat(f, tr)
}

// cmpFloatUint compares f with u exactly.
func cmpFloatUint(f float64, u uint64) int {
	switch {
	case math.IsNaN(f):
		return unordered
	case f < 0:
		return -1
	case f >= 1<<64:
		return 1
	}
	tr := math.Trunc(f)
	if c := cmp.Compare(uint64(tr), u); c != 0 {
		return c
	}
	return cmpFloat(f, tr)
}

// anchoredPrefix returns the literal every string re matches begins with
// when re starts with ^ followed by a case-sensitive literal (as /^host_1/
// does), or "".
func anchoredPrefix(re *regexp.Regexp) string {
	t, err := syntax.Parse(re.String(), syntax.Perl)
	if err != nil {
		return ""
	}
	t = t.Simplify()
	for t.Op == syntax.OpCapture && len(t.Sub) == 1 {
		t = t.Sub[0]
	}
	if t.Op != syntax.OpConcat || len(t.Sub) < 2 || t.Sub[0].Op != syntax.OpBeginText {
		return ""
	}
	lit := t.Sub[1]
	for lit.Op == syntax.OpCapture && len(lit.Sub) == 1 {
		lit = lit.Sub[0]
	}
	if lit.Op != syntax.OpLiteral || lit.Flags&syntax.FoldCase != 0 {
		return ""
	}
	return string(lit.Rune)
}
