package query

import (
	"strings"

	"github.com/alecthomas/participle/v2/lexer"
)

// This file holds a fast path for the participle grammar of grammar.go: a
// recursive descent over the tokens that builds the same grammar tree for
// the SELECT statements it accepts, ten times faster than participle's
// reflection. It gives up (and Parse runs participle, which produces the
// errors) at the first token it does not expect, so it never has to be
// right about an error; it must only never accept what participle rejects
// nor build a different tree, which fastparse_test.go checks against
// participle. SHOW and DELETE always go to participle.

// fastParser walks the tokens of one statement; bad is set at the first
// unexpected token and every method then returns nil.
type fastParser struct {
	toks []lexer.Token // without EOF
	i    int
	eof  lexer.Token
	bad  bool
}

// fastParse returns the grammar tree of the statement in toks, or nil if
// the fast path does not accept it.
func fastParse(toks []lexer.Token, eof lexer.Token) *gStatement {
	f := &fastParser{toks: toks, eof: eof}
	g := &gStatement{Explain: f.lit("EXPLAIN")}
	if g.Select = f.selectStmt(); g.Select == nil || f.bad {
		return nil
	}
	f.lit(";")
	if f.i != len(f.toks) {
		return nil
	}
	return g
}

func (f *fastParser) peek() *lexer.Token {
	if f.i < len(f.toks) {
		return &f.toks[f.i]
	}
	return &f.eof
}

// is reports whether the next token is the literal s, compared as
// participle compares a literal of the grammar: case-insensitively for
// keywords and names.
func (f *fastParser) is(s string) bool {
	t := f.peek()
	if t.Type == typKeyword || t.Type == typIdent {
		return strings.EqualFold(t.Value, s)
	}
	return t.Value == s && !t.EOF()
}

// lit consumes the literal s if it is next.
func (f *fastParser) lit(s string) bool {
	if f.is(s) {
		f.i++
		return true
	}
	return false
}

// need consumes the literal s, or fails.
func (f *fastParser) need(s string) bool {
	if f.lit(s) {
		return true
	}
	f.bad = true
	return false
}

// capture consumes and returns the next token if it has type typ.
func (f *fastParser) capture(typ lexer.TokenType) *string {
	if t := f.peek(); t.Type == typ {
		f.i++
		v := t.Value
		return &v
	}
	return nil
}

func (f *fastParser) selectStmt() *gSelect {
	if !f.lit("SELECT") {
		return nil
	}
	g := &gSelect{}
	for {
		it := f.item()
		if it == nil {
			return nil
		}
		g.Items = append(g.Items, it)
		if !f.lit(",") {
			break
		}
	}
	if !f.need("FROM") {
		return nil
	}
	if f.lit("(") {
		if g.Sub = f.selectStmt(); g.Sub == nil || !f.need(")") {
			return nil
		}
	} else if g.From = f.ident(); g.From == nil {
		return nil
	}
	if f.lit("WHERE") {
		if g.Where = f.or(); g.Where == nil {
			return nil
		}
	}
	if f.lit("GROUP") {
		if !f.need("BY") {
			return nil
		}
		for {
			gg := f.group()
			if gg == nil {
				return nil
			}
			g.Group = append(g.Group, gg)
			if !f.lit(",") {
				break
			}
		}
	}
	if f.lit("FILL") {
		if !f.need("(") {
			return nil
		}
		fl := &gFill{Pos: f.peek().Pos}
		if fl.Word = f.capture(typIdent); fl.Word == nil {
			if fl.Num = f.number(); fl.Num == nil {
				return nil
			}
		}
		if g.Fill = fl; !f.need(")") {
			return nil
		}
	}
	if f.lit("ORDER") {
		if !f.need("BY") {
			return nil
		}
		o := &gOrder{Name: f.ident()}
		if o.Name == nil {
			return nil
		}
		if f.is("ASC") || f.is("DESC") {
			o.Dir = f.capture(f.peek().Type)
		}
		g.Order = o
	}
	if f.lit("LIMIT") {
		if g.Limit = f.number(); g.Limit == nil {
			return nil
		}
	}
	if f.lit("OFFSET") {
		if g.Offset = f.number(); g.Offset == nil {
			return nil
		}
	}
	return g
}

// ident parses a name, failing if there is none.
func (f *fastParser) ident() *gIdent {
	g := &gIdent{Pos: f.peek().Pos}
	if g.Name = f.capture(typIdent); g.Name == nil {
		if g.Quoted = f.capture(typQIdent); g.Quoted == nil {
			f.bad = true
			return nil
		}
	}
	return g
}

func (f *fastParser) item() *gItem {
	g := &gItem{Pos: f.peek().Pos}
	if f.lit("*") {
		g.Star = true
	} else {
		if g.Name = f.ident(); g.Name == nil {
			return nil
		}
		if f.lit("(") {
			c := &gCall{Pos: f.peek().Pos}
			if f.lit("*") {
				c.Star = true
			} else if c.Field = f.ident(); c.Field == nil {
				return nil
			}
			if f.lit(",") {
				if c.Arg = f.number(); c.Arg == nil {
					return nil
				}
			}
			if g.Call = c; !f.need(")") {
				return nil
			}
		}
	}
	if f.lit("AS") {
		if g.Alias = f.ident(); g.Alias == nil {
			return nil
		}
	}
	return g
}

// number parses a number with an optional sign, failing if there is none.
func (f *fastParser) number() *gNumber {
	g := &gNumber{Pos: f.peek().Pos}
	if g.Num = f.capture(typNumber); g.Num != nil {
		return g
	}
	if !f.is("+") && !f.is("-") {
		f.bad = true
		return nil
	}
	sign := f.capture(f.peek().Type)
	num := f.capture(typNumber)
	if num == nil {
		f.bad = true
		return nil
	}
	g.Signed = &gSigned{Sign: *sign, Num: *num}
	return g
}

func (f *fastParser) or() *gOr {
	g := &gOr{}
	for {
		t := f.and()
		if t == nil {
			return nil
		}
		g.Terms = append(g.Terms, t)
		if !f.lit("OR") {
			return g
		}
	}
}

func (f *fastParser) and() *gAnd {
	g := &gAnd{}
	for {
		t := &gTerm{}
		if f.lit("(") {
			if t.Paren = f.or(); t.Paren == nil || !f.need(")") {
				return nil
			}
		} else if t.Cond = f.cond(); t.Cond == nil {
			return nil
		}
		g.Terms = append(g.Terms, t)
		if !f.lit("AND") {
			return g
		}
	}
}

func (f *fastParser) cond() *gCond {
	g := &gCond{Pos: f.peek().Pos}
	if g.Name = f.ident(); g.Name == nil {
		return nil
	}
	switch {
	case f.lit("BETWEEN"):
		b := &gBetween{Low: f.value()}
		if b.Low == nil || !f.need("AND") {
			return nil
		}
		if b.High = f.value(); b.High == nil {
			return nil
		}
		g.Between = b
	case f.is("NOT") || f.is("IN"):
		in := &gIn{Not: f.lit("NOT")}
		if !f.need("IN") || !f.need("(") {
			return nil
		}
		for {
			v := f.value()
			if v == nil {
				return nil
			}
			in.Values = append(in.Values, v)
			if !f.lit(",") {
				break
			}
		}
		if g.In = in; !f.need(")") {
			return nil
		}
	default:
		op := f.capture(typOp)
		if op == nil {
			f.bad = true
			return nil
		}
		c := &gCmp{Op: *op, Value: f.value()}
		if c.Value == nil {
			return nil
		}
		g.Cmp = c
	}
	return g
}

func (f *fastParser) value() *gValue {
	g := &gValue{Pos: f.peek().Pos}
	switch t := f.peek(); {
	case f.lit("now"):
		if !f.need("(") || !f.need(")") {
			return nil
		}
		g.Now = true
	case t.Type == typString:
		g.Str = f.capture(typString)
	case t.Type == typRegex:
		g.Regex = f.capture(typRegex)
	case f.is("true") || f.is("false"):
		g.Bool = f.capture(t.Type)
	default:
		if g.Num = f.number(); g.Num == nil {
			return nil
		}
	}
	for f.is("+") || f.is("-") {
		o := &gOffset{Pos: f.peek().Pos, Sign: *f.capture(f.peek().Type)}
		if o.Dur = f.dur(); o.Dur == nil {
			return nil
		}
		g.Offsets = append(g.Offsets, o)
	}
	return g
}

func (f *fastParser) dur() *gDur {
	g := &gDur{Pos: f.peek().Pos}
	text := f.capture(typDuration)
	if text == nil {
		f.bad = true
		return nil
	}
	g.Text = *text
	return g
}

func (f *fastParser) group() *gGroup {
	g := &gGroup{Pos: f.peek().Pos}
	if f.peek().Type == typDuration {
		g.Dur = f.dur()
		return g
	}
	if g.Name = f.ident(); g.Name == nil {
		return nil
	}
	if f.lit("(") {
		if g.Arg = f.dur(); g.Arg == nil || !f.need(")") {
			return nil
		}
	}
	return g
}
