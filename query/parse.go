package query

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/alecthomas/participle/v2"
	"github.com/alecthomas/participle/v2/lexer"

	"github.com/soltixdb/soltix/internal/timex"
)

// Parse parses one statement, optionally followed by ';'. Syntax errors are
// returned as *Error, positioned at the offending token.
func Parse(s string) (*Statement, error) {
	p := &parser{src: s}
	if err := p.prescan(); err != nil {
		return nil, err
	}
	g, err := p.parseGrammar()
	if err != nil {
		return nil, err
	}
	return p.statement(g)
}

// parser holds the source text so that positions and tokens can be reported
// exactly as written.
type parser struct {
	src    string
	tokens []lexer.Token // all tokens but EOF, in order
	eof    lexer.Token   // the EOF token
	lines  []int         // offsets at which lines start, see lineStarts
}

func (p *parser) parseGrammar() (*gStatement, error) {
	if err := p.scan(); err != nil {
		return nil, err
	}
	if len(p.tokens) == 0 {
		return nil, p.errAt(p.eof.Pos, "", "empty query")
	} else if first := p.tokens[0]; first.Value == ";" && len(p.tokens) == 1 {
		return nil, p.errAt(first.Pos, ";", "empty query")
	}
	if g := fastParse(p.tokens, p.eof); g != nil {
		return g, nil
	}
	peek, err := p.peekingLexer()
	if err != nil {
		return nil, p.convertError(err)
	}
	start := *peek
	g, err := grammar.ParseFromLexer(peek)
	if err == nil {
		return g, nil
	}
	var ute *participle.UnexpectedTokenError
	if errors.As(err, &ute) && !ute.Unexpected.EOF() && expected(ute) == "" {
		// Either the statement ended early or a token the grammar never
		// accepts stopped it; parse again allowing trailing input to tell
		// the two apart.
		if _, err2 := grammar.ParseFromLexer(&start, participle.AllowTrailing(true)); err2 == nil {
			if rest := start.Peek(); rest.Pos.Offset == ute.Unexpected.Pos.Offset && !isBad(*rest) {
				return nil, p.errAt(rest.Pos, rest.Value, "unexpected %s after end of statement", describe(*rest))
			}
		}
	}
	return nil, p.convertError(err)
}

// scan lexes the statement into tokens and eof and rejects input nested
// deeper than MaxNesting (prescan has refused it already unless it counted
// differently from the lexer), so that nesting cannot exhaust the stack of
// the recursive descent.
func (p *parser) scan() error {
	lx := newQueryLexer("", p.src)
	p.tokens = make([]lexer.Token, 0, len(p.src)/5+8)
	depth, signs, inWhere := 0, 0, false
	for {
		t, _ := lx.Next() // never fails
		if t.EOF() {
			p.eof = t
			return nil
		}
		t, split := arithToken(t, p.tokens, &inWhere)
		if split {
			lx.pos = t.Pos
			lx.advance("/")
		}
		p.tokens = append(p.tokens, t)
		if t.Value == "-" || t.Value == "+" {
			if signs++; signs > MaxNesting {
				return p.errAt(t.Pos, t.Value, "more than %d signs in a row (max nesting)", MaxNesting)
			}
		} else {
			signs = 0
		}
		switch t.Value {
		case "(":
			if depth++; depth > MaxNesting {
				return p.errAt(t.Pos, t.Value, "parentheses nested deeper than %d (max nesting)", MaxNesting)
			}
		case ")":
			depth--
		}
	}
}

// pos converts a participle position. Line and column are recomputed from
// the byte offset because participle counts columns in runes.
func (p *parser) pos(lp lexer.Position) Pos {
	return p.posAt(lp.Offset)
}

func (p *parser) errAt(lp lexer.Position, tok, format string, args ...any) *Error {
	return &Error{Pos: p.pos(lp), Token: tok, Message: fmt.Sprintf(format, args...)}
}

// statement converts the grammar tree, doing the checks the grammar cannot.
func (p *parser) statement(g *gStatement) (*Statement, error) {
	st := &Statement{Explain: g.Explain}
	if g.Delete != nil {
		if g.Explain {
			return nil, p.errAt(g.Delete.Pos, p.text(g.Delete.Pos, "DELETE"), "EXPLAIN is only allowed before SELECT")
		}
		del, err := p.deleteStmt(g.Delete)
		if err != nil {
			return nil, err
		}
		st.Delete = del
		return st, nil
	}
	if g.Show != nil {
		if g.Explain {
			return nil, p.errAt(g.Show.Pos, p.text(g.Show.Pos, "SHOW"), "EXPLAIN is only allowed before SELECT")
		}
		sh, err := p.show(g.Show)
		if err != nil {
			return nil, err
		}
		st.Show = sh
		return st, nil
	}
	sel, err := p.selectStmt(g.Select)
	if err != nil {
		return nil, err
	}
	st.Select = sel
	return st, nil
}

func (p *parser) show(g *gShow) (*Show, error) {
	// from reads an optional FROM: "" lists every collection.
	from := func(g *gIdent) (string, error) {
		if g == nil {
			return "", nil
		}
		return p.ident(g)
	}
	switch {
	case g.Collections:
		return &Show{Kind: ShowCollections}, nil
	case g.Series != nil:
		name, err := p.ident(g.Series)
		return &Show{Kind: ShowSeries, From: name}, err
	case g.TagKeys:
		name, err := from(g.TagKeysFrom)
		return &Show{Kind: ShowTagKeys, From: name}, err
	case g.TagValues != nil:
		name, err := p.ident(g.TagValues)
		if err != nil {
			return nil, err
		}
		var key string
		if g.Key.Ident != nil {
			key, err = p.ident(g.Key.Ident)
		} else {
			key = unquoteString(*g.Key.Str)
			if key == "" {
				err = p.errAt(g.Key.Pos, *g.Key.Str, "empty tag key")
			}
		}
		return &Show{Kind: ShowTagValues, From: name, Key: key}, err
	default:
		name, err := from(g.FieldsFrom)
		return &Show{Kind: ShowFields, From: name}, err
	}
}

func (p *parser) deleteStmt(g *gDelete) (*Delete, error) {
	from, err := p.ident(g.From)
	if err != nil {
		return nil, err
	}
	del := &Delete{From: from, FromPos: p.pos(g.From.Pos)}
	if g.Where != nil {
		if del.Where, err = p.or(g.Where); err != nil {
			return nil, err
		}
	}
	return del, nil
}

func (p *parser) selectStmt(g *gSelect) (*Select, error) {
	sel := &Select{Items: make([]Item, 0, len(g.Items))}
	cnt := &exprCounter{}
	for _, gi := range g.Items {
		it, err := p.item(gi, cnt)
		if err != nil {
			return nil, err
		}
		sel.Items = append(sel.Items, it)
	}
	if g.Sub != nil {
		sub, err := p.selectStmt(g.Sub)
		if err != nil {
			return nil, err
		}
		sel.Sub = sub
		sel.FromPos = sub.FromPos
	} else {
		from, err := p.ident(g.From)
		if err != nil {
			return nil, err
		}
		sel.From, sel.FromPos = from, p.pos(g.From.Pos)
	}
	var err error
	if g.Where != nil {
		if sel.Where, err = p.or(g.Where); err != nil {
			return nil, err
		}
	}
	for _, gg := range g.Group {
		if err := p.group(sel, gg); err != nil {
			return nil, err
		}
	}
	if g.Having != nil {
		if sel.Having, err = p.having(g.Having, cnt); err != nil {
			return nil, err
		}
	}
	if g.Fill != nil {
		if sel.Fill, err = p.fill(g.Fill); err != nil {
			return nil, err
		}
	}
	if err := p.tz(sel, g.TZ, g.TZEnd); err != nil {
		return nil, err
	}
	if g.Order != nil {
		name, err := p.ident(g.Order.Name)
		if err != nil {
			return nil, err
		}
		if !strings.EqualFold(name, "time") {
			return nil, p.errAt(g.Order.Name.Pos, p.text(g.Order.Name.Pos, name), "ORDER BY supports only time, not %q", name)
		}
		sel.Desc = g.Order.Dir != nil && strings.EqualFold(*g.Order.Dir, "DESC")
	}
	if g.Limit != nil {
		if sel.Limit, err = p.integer(g.Limit, "LIMIT", 1); err != nil {
			return nil, err
		}
	}
	if g.Offset != nil {
		if sel.Offset, err = p.integer(g.Offset, "OFFSET", 0); err != nil {
			return nil, err
		}
	}
	return sel, nil
}

// text returns the token that starts at lp as written, or fallback if no
// token starts there; it is used for Error.Token.
func (p *parser) text(lp lexer.Position, fallback string) string {
	i := sort.Search(len(p.tokens), func(i int) bool { return p.tokens[i].Pos.Offset >= lp.Offset })
	if i < len(p.tokens) && p.tokens[i].Pos.Offset == lp.Offset {
		return p.tokens[i].Value
	}
	return fallback
}

// knownFuncs lists the accepted function names as written in messages.
const knownFuncs = "count, sum, avg, mean, min, max, first, last, spread, stddev, percentile, median, mode, " + functionNames +
	", abs, ceil, floor, round, sqrt, pow, ln, log10, exp"

func (p *parser) item(g *gItem, cnt *exprCounter) (Item, error) {
	it := Item{Pos: p.pos(g.Pos)}
	if g.Alias != nil {
		alias, err := p.ident(g.Alias)
		if err != nil {
			return it, err
		}
		if g.Star {
			return it, p.errAt(g.Alias.Pos, p.text(g.Alias.Pos, alias), "* cannot have an alias")
		}
		it.Alias = alias
	}
	if g.Star {
		it.Star = true
		return it, nil
	}
	if g.Lead != nil {
		e, err := p.arith(g.Lead.First, g.Lead.Ops, cnt)
		return simpleItem(it, e), err
	}
	name, err := p.ident(g.Name)
	if err != nil {
		return it, err
	}
	if g.Call == nil && len(g.Ops) == 0 {
		it.Field = name
		return it, nil
	}
	if fn := aggName(name); len(g.Ops) == 0 && g.Call != nil && IsFunction(fn) {
		return p.function(it, g, fn)
	}
	if len(g.Ops) > 0 || g.Call != nil && !IsAggregate(aggName(name)) {
		e, err := p.arith(&gFactor{Pos: g.Name.Pos, Name: g.Name, Call: g.Call}, g.Ops, cnt)
		return simpleItem(it, e), err
	}
	if err := p.plainCall(g, aggName(name)); err != nil {
		return it, err
	}
	fn := aggName(name)
	tok := p.text(g.Name.Pos, name)
	c := g.Call
	if c.Star {
		if it.Alias != "" {
			return it, p.errAt(g.Alias.Pos, p.text(g.Alias.Pos, it.Alias), "%s(*) cannot have an alias: it makes a column per field", fn)
		}
		it.Star, it.Func = true, fn
		it.Arg, err = p.aggArg(fn, tok, g.Name, c)
		return it, err
	}
	if c.Lead != nil || c.Sub != nil || len(c.Ops) > 0 {
		return it, p.errAt(c.Pos, p.text(c.Pos, ""), "%s takes a field name, not an expression", fn)
	}
	if it.Field, err = p.ident(c.Field); err != nil {
		return it, err
	}
	it.Func = fn
	it.Arg, err = p.aggArg(fn, tok, g.Name, c)
	return it, err
}

// aggName returns a function name in the spelling of Item.Func: lower case,
// mean as avg.
func aggName(name string) string {
	fn := strings.ToLower(name)
	if fn == "mean" {
		fn = "avg"
	}
	return fn
}

// text returns the number as written, with its sign.
func (g *gNumber) text() string {
	if g.Signed != nil {
		return g.Signed.Sign + g.Signed.Num
	}
	return *g.Num
}

// number converts a signed number (integer or not) to float64.
func (p *parser) number(g *gNumber) (float64, error) {
	text := g.text()
	v, err := strconv.ParseFloat(text, 64)
	if err != nil || math.IsInf(v, 0) {
		return 0, p.errAt(g.Pos, p.text(g.Pos, text), "number %s out of range", text)
	}
	return v, nil
}

// integer converts the number of a LIMIT or OFFSET clause, which must be an
// integer of at least lo.
func (p *parser) integer(g *gNumber, clause string, lo int64) (int64, error) {
	text := g.text()
	n, err := strconv.ParseInt(text, 10, 64)
	if err != nil || n < lo {
		return 0, p.errAt(g.Pos, p.text(g.Pos, text), "%s must be an integer >= %d, got %s", clause, lo, text)
	}
	return n, nil
}

func (p *parser) group(sel *Select, g *gGroup) error {
	if g.Star {
		sel.GroupAll = true
		return nil
	}
	d := g.Dur
	if g.Name != nil {
		name, err := p.ident(g.Name)
		if err != nil {
			return err
		}
		isTime := g.Name.Name != nil && strings.EqualFold(name, "time")
		switch {
		case g.Arg == nil && isTime:
			return p.errAt(g.Name.Pos, p.text(g.Name.Pos, name), `GROUP BY time needs an interval, as in time(1h); write "time" for a tag named time`)
		case g.Arg == nil:
			sel.GroupTags = append(sel.GroupTags, name)
			sel.GroupTagPos = append(sel.GroupTagPos, p.pos(g.Name.Pos))
			return nil
		case !isTime:
			return p.errAt(g.Name.Pos, p.text(g.Name.Pos, name), "unexpected %q in GROUP BY, expected time(<interval>), an interval or a tag", name+"(")
		}
		d = g.Arg
	}
	dur, err := p.duration(d)
	if err != nil {
		return err
	}
	if sel.GroupBy != nil {
		return p.errAt(g.Pos, p.text(g.Pos, d.Text), "GROUP BY has more than one interval")
	}
	sel.GroupBy, sel.GroupByPos = &dur, p.pos(g.Pos)
	if g.Offset != nil {
		off, err := p.duration(g.Offset.Dur)
		if err != nil && off.N != 0 {
			return err // a zero offset is allowed: time(1h, 0s)
		}
		if off.Calendar() && !dur.Calendar() {
			return p.errAt(g.Offset.Dur.Pos, g.Offset.Dur.Text, "offset %s in calendar units needs a calendar interval (M or y), not %s", g.Offset.Dur.Text, d.Text)
		}
		sign := 1
		if g.Offset.Sign != nil && *g.Offset.Sign == "-" {
			sign = -1
		}
		sel.GroupOffset = &Offset{Sign: sign, Dur: off}
	}
	return nil
}

var unitNames = map[string]Unit{
	"ns": Nanosecond, "us": Microsecond, "µs": Microsecond, "ms": Millisecond,
	"s": Second, "m": Minute, "h": Hour, "d": Day, "w": Week, "M": Month, "y": Year,
}

func (p *parser) duration(g *gDur) (Duration, error) {
	i := strings.IndexFunc(g.Text, func(r rune) bool { return r < '0' || r > '9' })
	num, unit := g.Text[:i], g.Text[i:]
	n, err := strconv.ParseInt(num, 10, 64)
	d := Duration{N: n, Unit: unitNames[unit]}
	switch {
	case err != nil:
		return d, p.errAt(g.Pos, g.Text, "duration %s out of range", g.Text)
	case n == 0:
		return d, p.errAt(g.Pos, g.Text, "duration %s is zero", g.Text)
	case d.Calendar() && n > math.MaxInt32/12:
		return d, p.errAt(g.Pos, g.Text, "duration %s out of range", g.Text)
	}
	if _, fits := timex.Mul(n, Duration{N: 1, Unit: d.Unit}.Nanos()); !d.Calendar() && !fits {
		return d, p.errAt(g.Pos, g.Text, "duration %s out of range", g.Text)
	}
	return d, nil
}

func (p *parser) fill(g *gFill) (Fill, error) {
	if g.Num != nil {
		v, err := p.number(g.Num)
		return Fill{Mode: FillValue, Value: v}, err
	}
	switch strings.ToLower(*g.Word) {
	case "none":
		return Fill{Mode: FillNone}, nil
	case "null":
		return Fill{Mode: FillNull}, nil
	case "previous":
		return Fill{Mode: FillPrevious}, nil
	case "linear":
		return Fill{Mode: FillLinear}, nil
	}
	return Fill{}, p.errAt(g.Pos, *g.Word, "unknown fill mode %q (known: none, null, previous, linear or a number)", *g.Word)
}

func (p *parser) or(g *gOr) (Expr, error) {
	var e Expr
	for i, t := range g.Terms {
		rhs, err := p.and(t)
		if err != nil {
			return nil, err
		}
		if i == 0 {
			e = rhs
		} else {
			e = &Binary{Op: "OR", LHS: e, RHS: rhs}
		}
	}
	return e, nil
}

func (p *parser) and(g *gAnd) (Expr, error) {
	var e Expr
	for i, t := range g.Terms {
		var rhs Expr
		var err error
		if t.Paren != nil {
			rhs, err = p.or(t.Paren)
		} else {
			rhs, err = p.cond(t.Cond)
		}
		if err != nil {
			return nil, err
		}
		if i == 0 {
			e = rhs
		} else {
			e = &Binary{Op: "AND", LHS: e, RHS: rhs}
		}
	}
	return e, nil
}

func (p *parser) cond(g *gCond) (Expr, error) {
	name, err := p.ident(g.Name)
	if err != nil {
		return nil, err
	}
	pos := p.pos(g.Pos)
	switch {
	case g.Between != nil:
		lo, err := p.value(g.Between.Low, pos, false)
		if err != nil {
			return nil, err
		}
		hi, err := p.value(g.Between.High, pos, false)
		if err != nil {
			return nil, err
		}
		return &Between{Name: name, Low: lo, High: hi, Pos: pos}, nil
	case g.In != nil:
		in := &In{Name: name, Not: g.In.Not, Pos: pos, Values: make([]Literal, 0, len(g.In.Values))}
		for _, v := range g.In.Values {
			lit, err := p.value(v, pos, false)
			if err != nil {
				return nil, err
			}
			in.Values = append(in.Values, lit)
		}
		return in, nil
	}
	op := g.Cmp.Op
	if op == "<>" {
		op = "!="
	}
	isRegexOp := op == "=~" || op == "!~"
	lit, err := p.value(g.Cmp.Value, pos, isRegexOp)
	if err != nil {
		return nil, err
	}
	if isRegexOp && lit.Kind != LitRegex {
		v := g.Cmp.Value
		return nil, p.errAt(v.Pos, p.text(v.Pos, ""), "%s needs a regular expression on its right, as in /^web/", op)
	}
	return &Compare{Name: name, Op: op, Value: lit, Pos: pos}, nil
}

// value converts a literal; pos is the position of the name compared, which
// the AST records on literals. Regexes are only allowed when regexOK.
func (p *parser) value(g *gValue, pos Pos, regexOK bool) (Literal, error) {
	lit := Literal{Pos: pos}
	tok := func() string { return p.text(g.Pos, "") }
	switch {
	case g.Now:
		lit.Kind = LitNow
	case g.Str != nil:
		lit.Kind, lit.Str = LitString, unquoteString(*g.Str)
	case g.Regex != nil:
		if !regexOK {
			return lit, p.errAt(g.Pos, tok(), "a regular expression needs =~ or !~")
		}
		src := unquoteRegex(*g.Regex)
		re, err := regexp.Compile(src)
		if err != nil {
			return lit, p.errAt(g.Pos, tok(), "bad regular expression: %s", strings.TrimPrefix(err.Error(), "error parsing regexp: "))
		}
		lit.Kind, lit.Str, lit.Regex = LitRegex, src, re
	case g.Bool != nil:
		lit.Kind, lit.Bool = LitBool, strings.EqualFold(*g.Bool, "true")
	default:
		text := g.Num.text()
		if strings.ContainsAny(text, ".eE") {
			v, err := strconv.ParseFloat(text, 64)
			if err != nil || math.IsInf(v, 0) {
				return lit, p.errAt(g.Pos, tok(), "number %s out of range", text)
			}
			lit.Kind, lit.Num = LitNumber, v
		} else {
			n, err := strconv.ParseInt(text, 10, 64)
			if err != nil {
				return lit, p.errAt(g.Pos, tok(), "integer %s out of range", text)
			}
			lit.Kind, lit.Int = LitInteger, n
		}
	}
	for _, o := range g.Offsets {
		switch lit.Kind {
		case LitString, LitInteger, LitNow:
		default:
			return lit, p.errAt(o.Pos, o.Sign, "%s %s can only follow a time: now(), a string or integer nanoseconds", o.Sign, o.Dur.Text)
		}
		d, err := p.duration(o.Dur)
		if err != nil {
			return lit, err
		}
		sign := 1
		if o.Sign == "-" {
			sign = -1
		}
		lit.Offsets = append(lit.Offsets, Offset{Sign: sign, Dur: d})
	}
	return lit, nil
}

// ident returns the name of an identifier, unquoting "quoted" ones.
func (p *parser) ident(g *gIdent) (string, error) {
	if g.Name != nil {
		return *g.Name, nil
	}
	name := unescape((*g.Quoted)[1:len(*g.Quoted)-1], '"')
	if name == "" {
		return "", p.errAt(g.Pos, *g.Quoted, "empty quoted identifier")
	}
	return name, nil
}

// unquoteString strips the quotes of a string literal and resolves ”, \'
// and \\; any other backslash is kept as written.
func unquoteString(s string) string {
	s = s[1 : len(s)-1]
	if !strings.ContainsAny(s, `'\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\'' && i+1 < len(s):
			i++ // '' (the lexer only lets a quote through doubled)
		case s[i] == '\\' && i+1 < len(s):
			if s[i+1] != '\'' && s[i+1] != '\\' {
				b.WriteByte('\\')
			}
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// unescape resolves \q (q the quote character) and \\; any other backslash
// is kept as written.
func unescape(s string, q byte) string {
	if strings.IndexByte(s, '\\') < 0 {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) && (s[i+1] == q || s[i+1] == '\\') {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// unquoteRegex strips the slashes of a regex literal and turns \/ into /;
// other escapes are left for the regexp package.
func unquoteRegex(s string) string {
	s = s[1 : len(s)-1]
	if !strings.Contains(s, `\/`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			if s[i+1] != '/' {
				b.WriteByte('\\')
			}
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
