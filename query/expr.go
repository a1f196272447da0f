package query

import (
	"math"
	"strconv"
	"strings"

	"github.com/alecthomas/participle/v2/lexer"
)

// This file holds the arithmetic expressions of SELECT items and HAVING
// conditions: their tree (ValueExpr), how the grammar tree is lowered into
// it with the precedence of the operators, and how it prints.

// ValueExpr is an arithmetic expression over fields and aggregates: one of
// *Number, *FieldRef, *Call, *Unary and *Arith. Parentheses are not kept in
// the tree.
type ValueExpr interface{ valueExpr() }

// Number is a numeric literal: an integer when IsInt (Int holds it), a
// float otherwise (Float holds it). It is never negative: a minus sign is a
// *Unary.
type Number struct {
	IsInt bool
	Int   int64
	Float float64
}

// FieldRef names a field in an expression.
type FieldRef struct {
	Name string
	Pos  Pos
}

// Call is a function call in an expression. Func is lower case (mean is
// normalised to avg). For an aggregate (one of Aggregates) Args holds one
// *FieldRef, and for percentile a second *Number, the rank; for a math
// function (MathFuncs) Args holds its arguments.
type Call struct {
	Func string
	Args []ValueExpr
	Pos  Pos
}

// Unary is -X.
type Unary struct {
	Op string // "-"
	X  ValueExpr
}

// Arith is LHS Op RHS with Op one of + - * / %. * / and % bind tighter than
// + and -; all are left associative.
type Arith struct {
	Op  string
	LHS ValueExpr
	RHS ValueExpr
}

func (*Number) valueExpr()   {}
func (*FieldRef) valueExpr() {}
func (*Call) valueExpr()     {}
func (*Unary) valueExpr()    {}
func (*Arith) valueExpr()    {}

// ValueCompare is a condition of HAVING: LHS Op RHS with Op one of
// = != < <= > >= (<> is read as !=). HAVING joins them with AND and OR in
// *Binary nodes, like WHERE.
type ValueCompare struct {
	LHS ValueExpr
	Op  string
	RHS ValueExpr
	Pos Pos
}

func (*ValueCompare) expr() {}

// MathFuncs lists the math functions of expressions and how many arguments
// each takes.
var MathFuncs = map[string]int{
	"abs": 1, "ceil": 1, "floor": 1, "round": 1, "sqrt": 1, "ln": 1, "log10": 1, "exp": 1, "pow": 2,
}

// IsAggregate reports whether fn (lower case, avg for mean) is an aggregate.
func IsAggregate(fn string) bool {
	for _, a := range Aggregates {
		if a == fn {
			return true
		}
	}
	return false
}

// MaxExprOps bounds the operators of the expressions of one statement, so
// that the trees built from them (and the recursion over them) stay small.
const MaxExprOps = 10_000

// ValueString prints an expression with parentheses only where the
// precedence and left associativity of the operators need them.
func ValueString(e ValueExpr) string {
	var b strings.Builder
	writeValue(&b, e)
	return b.String()
}

// String prints the condition, for example max(v) - min(v) > 10.
func (c *ValueCompare) String() string {
	return ValueString(c.LHS) + " " + c.Op + " " + ValueString(c.RHS)
}

func opPrec(op string) int {
	if op == "+" || op == "-" {
		return 1
	}
	return 2
}

// valuePrec returns how tightly e binds: 1 for + and -, 2 for * / %, 3 for
// the rest (unary minus, calls, names and numbers).
func valuePrec(e ValueExpr) int {
	if a, ok := e.(*Arith); ok {
		return opPrec(a.Op)
	}
	return 3
}

func writeValue(b *strings.Builder, e ValueExpr) {
	paren := func(x ValueExpr, need bool) {
		if need {
			b.WriteByte('(')
		}
		writeValue(b, x)
		if need {
			b.WriteByte(')')
		}
	}
	switch e := e.(type) {
	case *Number:
		b.WriteString(e.String())
	case *FieldRef:
		b.WriteString(quoteIdent(e.Name))
	case *Call:
		b.WriteString(e.Func)
		b.WriteByte('(')
		for i, a := range e.Args {
			if i > 0 {
				b.WriteString(", ")
			}
			if n, ok := a.(*Number); ok && e.Func == "percentile" && !n.IsInt {
				b.WriteString(formatFloat(n.Float)) // the rank, as Item prints it
				continue
			}
			writeValue(b, a)
		}
		b.WriteByte(')')
	case *Unary:
		// -(-x) and -(a + b) keep their parentheses; "--" would start a
		// comment.
		b.WriteString(e.Op)
		paren(e.X, valuePrec(e.X) < 3 || isUnary(e.X))
	case *Arith:
		p := opPrec(e.Op)
		paren(e.LHS, valuePrec(e.LHS) < p)
		b.WriteString(" " + e.Op + " ")
		paren(e.RHS, valuePrec(e.RHS) <= p)
	}
}

func isUnary(e ValueExpr) bool { _, ok := e.(*Unary); return ok }

// String prints the number so that it reads back as the same kind: a float
// always has a '.' or an exponent.
func (n *Number) String() string {
	if n.IsInt {
		return strconv.FormatInt(n.Int, 10)
	}
	return formatNumber(n.Float)
}

// lowering of the grammar tree

// arithToken turns the tokens the lexer reads the context-free way into
// the operators of arithmetic where the context says so: '%' (a BadChar to
// the lexer) is always the remainder operator, and a regular expression
// (or an unterminated one) right after an operand (a name, a number or ')')
// outside WHERE is a division instead: t becomes "/" and split is set, the
// caller lexing again just after it. Regular expressions stand after =~
// and !~ in WHERE, never right after an operand; WHERE has no arithmetic.
// inWhere tracks the clause across calls.
func arithToken(t lexer.Token, before []lexer.Token, inWhere *bool) (_ lexer.Token, split bool) {
	switch {
	case t.Type == typKeyword:
		switch strings.ToUpper(t.Value) {
		case "WHERE":
			*inWhere = true
		case "SELECT", "GROUP", "FILL", "ORDER", "LIMIT", "OFFSET":
			*inWhere = false
		}
	case t.Type == typIdent && strings.EqualFold(t.Value, "HAVING"):
		*inWhere = false
	case t.Type == typBadChar && t.Value == "%":
		t.Type = typPunct
	case (t.Type == typRegex || t.Type == typBadRegex) && len(before) > 0 && !*inWhere:
		prev := before[len(before)-1]
		if prev.Type == typIdent || prev.Type == typQIdent || prev.Type == typNumber || prev.Value == ")" {
			t.Type, t.Value = typPunct, "/"
			return t, true
		}
	}
	return t, false
}

// simpleItem sets e as the expression of it, or, when e is just a name or
// an aggregate of a field (as in "(v)"), as the fields of the item that
// name or aggregate would have been written without parentheses.
func simpleItem(it Item, e ValueExpr) Item {
	switch x := e.(type) {
	case *FieldRef:
		it.Field = x.Name
	case *Call:
		if !IsAggregate(x.Func) {
			it.Expr = e
			break
		}
		it.Func, it.Field = x.Func, x.Args[0].(*FieldRef).Name
		if len(x.Args) > 1 {
			it.Arg = x.Args[1].(*Number).Float
		}
	default:
		it.Expr = e
	}
	return it
}

// exprCounter counts the operators lowered so far, against MaxExprOps.
type exprCounter struct{ n int }

// arith lowers a factor followed by operators, applying precedence.
func (p *parser) arith(first *gFactor, ops []*gOpTerm, cnt *exprCounter) (ValueExpr, error) {
	cnt.n += len(ops)
	if cnt.n > MaxExprOps {
		return nil, p.errAt(first.Pos, p.text(first.Pos, ""), "expressions have more than %d operators (max expression size)", MaxExprOps)
	}
	lhs, err := p.factor(first, cnt)
	if err != nil {
		return nil, err
	}
	return p.applyOps(lhs, ops, cnt)
}

// applyOps folds ops onto lhs: products first, then sums, left to right.
func (p *parser) applyOps(lhs ValueExpr, ops []*gOpTerm, cnt *exprCounter) (ValueExpr, error) {
	var sum ValueExpr // the sum so far, nil before the first + or -
	var sumOp string
	term := lhs
	for _, o := range ops {
		rhs, err := p.factor(o.RHS, cnt)
		if err != nil {
			return nil, err
		}
		if opPrec(o.Op) == 2 {
			term = &Arith{Op: o.Op, LHS: term, RHS: rhs}
			continue
		}
		if sum == nil {
			sum = term
		} else {
			sum = &Arith{Op: sumOp, LHS: sum, RHS: term}
		}
		sumOp, term = o.Op, rhs
	}
	if sum == nil {
		return term, nil
	}
	return &Arith{Op: sumOp, LHS: sum, RHS: term}, nil
}

func (p *parser) factor(g *gFactor, cnt *exprCounter) (ValueExpr, error) {
	switch {
	case g.Inner != nil:
		x, err := p.factor(g.Inner, cnt)
		if err != nil || g.Sign == "+" {
			return x, err
		}
		return &Unary{Op: "-", X: x}, nil
	case g.Num != nil:
		return p.numberLit(*g.Num, g.Pos)
	case g.Paren != nil:
		return p.arith(g.Paren.First, g.Paren.Ops, cnt)
	}
	name, err := p.ident(g.Name)
	if err != nil {
		return nil, err
	}
	if g.Call == nil {
		return &FieldRef{Name: name, Pos: p.pos(g.Name.Pos)}, nil
	}
	return p.call(g.Name, name, g.Call, cnt)
}

func (p *parser) numberLit(text string, pos lexer.Position) (*Number, error) {
	if !strings.ContainsAny(text, ".eE") {
		if n, err := strconv.ParseInt(text, 10, 64); err == nil {
			return &Number{IsInt: true, Int: n}, nil
		}
	}
	v, err := strconv.ParseFloat(text, 64)
	if err != nil || math.IsInf(v, 0) {
		return nil, p.errAt(pos, text, "number %s out of range", text)
	}
	return &Number{Float: v}, nil
}

// call lowers fn(args) in an expression.
func (p *parser) call(gname *gIdent, name string, c *gCall, cnt *exprCounter) (ValueExpr, error) {
	fn := strings.ToLower(name)
	if fn == "mean" {
		fn = "avg"
	}
	tok := p.text(gname.Pos, name)
	pos := p.pos(gname.Pos)
	if err := p.noMoreArgs(c, fn); err != nil {
		return nil, err
	}
	if IsAggregate(fn) {
		if c.Star {
			return nil, p.errAt(c.Pos, "*", "%s(*) cannot be part of an expression; name a field, as in %s(value)", fn, fn)
		}
		if c.Lead != nil || c.Sub != nil || len(c.Ops) > 0 {
			return nil, p.errAt(c.Pos, p.text(c.Pos, ""), "%s takes a field name, not an expression", fn)
		}
		field, err := p.ident(c.Field)
		if err != nil {
			return nil, err
		}
		call := &Call{Func: fn, Pos: pos, Args: []ValueExpr{&FieldRef{Name: field, Pos: p.pos(c.Field.Pos)}}}
		rank, err := p.aggArg(fn, tok, gname, c)
		if err != nil {
			return nil, err
		}
		if fn == "percentile" {
			call.Args = append(call.Args, &Number{Float: rank})
		}
		return call, nil
	}
	nargs, ok := MathFuncs[fn]
	if !ok {
		return nil, p.errAt(gname.Pos, tok, "unknown function %q (known: %s)", name, knownFuncs)
	}
	if c.Star {
		return nil, p.errAt(c.Pos, "*", "%s(*) is not allowed; %s takes a number", fn, fn)
	}
	var arg ValueExpr
	var err error
	if c.Lead != nil {
		arg, err = p.arith(c.Lead.First, c.Lead.Ops, cnt)
	} else {
		arg, err = p.factor(&gFactor{Pos: c.Field.Pos, Name: c.Field, Call: c.Sub}, cnt)
		if err == nil {
			cnt.n += len(c.Ops)
			if cnt.n > MaxExprOps {
				return nil, p.errAt(c.Pos, p.text(c.Pos, ""), "expressions have more than %d operators (max expression size)", MaxExprOps)
			}
			arg, err = p.applyOps(arg, c.Ops, cnt)
		}
	}
	if err != nil {
		return nil, err
	}
	call := &Call{Func: fn, Pos: pos, Args: []ValueExpr{arg}}
	switch {
	case nargs == 2 && c.Arg == nil:
		return nil, p.errAt(gname.Pos, tok, "%s needs two arguments, as in %s(value, 2)", fn, fn)
	case nargs == 1 && c.Arg != nil:
		return nil, p.errAt(c.Arg.Pos, p.text(c.Arg.Pos, ""), "%s takes one argument", fn)
	case c.Arg != nil:
		v, err := p.number(c.Arg)
		if err != nil {
			return nil, err
		}
		n := &Number{Float: v}
		if i, err := strconv.ParseInt(c.Arg.text(), 10, 64); err == nil {
			n = &Number{IsInt: true, Int: i}
		}
		var second ValueExpr = n
		if n.IsInt && n.Int < 0 {
			second = &Unary{Op: "-", X: &Number{IsInt: true, Int: -n.Int}}
		} else if !n.IsInt && (n.Float < 0 || math.Signbit(n.Float)) {
			second = &Unary{Op: "-", X: &Number{Float: -n.Float}}
		}
		call.Args = append(call.Args, second)
	}
	return call, nil
}

// aggArg checks the second argument of an aggregate call: the rank of
// percentile, none for the others.
func (p *parser) aggArg(fn, tok string, gname *gIdent, c *gCall) (float64, error) {
	switch {
	case fn == "percentile" && c.Arg == nil:
		return 0, p.errAt(gname.Pos, tok, "percentile needs two arguments, as in percentile(value, 95)")
	case fn != "percentile" && c.Arg != nil:
		return 0, p.errAt(c.Arg.Pos, p.text(c.Arg.Pos, ""), "%s takes one argument", fn)
	case c.Arg != nil:
		v, err := p.number(c.Arg)
		if err != nil {
			return 0, err
		}
		if !(v >= 0 && v <= 100) {
			return 0, p.errAt(c.Arg.Pos, p.text(c.Arg.Pos, ""), "percentile must be between 0 and 100, got %s", formatFloat(v))
		}
		return v, nil
	}
	return 0, nil
}

// having lowers the HAVING clause.
func (p *parser) having(g *gHaving, cnt *exprCounter) (Expr, error) {
	var e Expr
	for i, t := range g.Terms {
		var and Expr
		for j, c := range t.Terms {
			vc, err := p.valueCompare(c, cnt)
			if err != nil {
				return nil, err
			}
			if j == 0 {
				and = vc
			} else {
				and = &Binary{Op: "AND", LHS: and, RHS: vc}
			}
		}
		if i == 0 {
			e = and
		} else {
			e = &Binary{Op: "OR", LHS: e, RHS: and}
		}
	}
	return e, nil
}

func (p *parser) valueCompare(g *gHavingCmp, cnt *exprCounter) (*ValueCompare, error) {
	op := g.Op
	switch op {
	case "<>":
		op = "!="
	case "=~", "!~":
		return nil, p.errAt(g.Pos, p.text(g.Pos, ""), "HAVING compares numbers; %s needs a regular expression and a tag or string field in WHERE", op)
	}
	lhs, err := p.arith(g.LHS.First, g.LHS.Ops, cnt)
	if err != nil {
		return nil, err
	}
	rhs, err := p.arith(g.RHS.First, g.RHS.Ops, cnt)
	if err != nil {
		return nil, err
	}
	return &ValueCompare{LHS: lhs, Op: op, RHS: rhs, Pos: p.pos(g.Pos)}, nil
}
