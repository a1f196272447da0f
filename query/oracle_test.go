package query

import (
	"errors"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/alecthomas/participle/v2"
	"github.com/alecthomas/participle/v2/lexer"
)

// oracleGrammar is the grammar with the regexp lexer of lexer_test.go.
var oracleGrammar = participle.MustBuild[gStatement](
	participle.Lexer(regexLexerDef),
	participle.CaseInsensitive(tokKeyword, tokIdent),
	participle.UseLookahead(0),
)

// oracleParse is Parse as it was before lexer.go and fastparse.go: the
// regexp lexer, then participle for every statement.
func oracleParse(s string) (*Statement, error) {
	p := &parser{src: s}
	if err := p.prescan(); err != nil {
		return nil, err
	}
	lx, err := regexLexerDef.LexString("", s)
	if err != nil {
		return nil, p.convertError(err)
	}
	peek, err := lexer.Upgrade(lx)
	if err != nil {
		return nil, p.convertError(err)
	}
	if first := peek.Peek(); first.EOF() {
		return nil, p.errAt(first.Pos, "", "empty query")
	} else if first.Value == ";" {
		next := *peek
		next.Next()
		if next.Peek().EOF() {
			return nil, p.errAt(first.Pos, ";", "empty query")
		}
	}
	// The tokens the regexp lexer gives, turned into arithmetic where the
	// parser turns them (arithToken), lexing again after a division.
	scan, depth, signs, inWhere := *peek, 0, 0, false
	for t := scan.Next(); !t.EOF(); t = scan.Next() {
		tok, split := arithToken(*t, p.tokens, &inWhere)
		if split {
			p.tokens = append(p.tokens, tok)
			if err := relexAfter(&scan, s, tok.Pos); err != nil {
				return nil, p.convertError(err)
			}
			signs = 0
			continue
		}
		*t = tok
		p.tokens = append(p.tokens, *t)
		if t.Value == "-" || t.Value == "+" {
			if signs++; signs > MaxNesting {
				return nil, p.errAt(t.Pos, t.Value, "more than %d signs in a row (max nesting)", MaxNesting)
			}
		} else {
			signs = 0
		}
		switch t.Value {
		case "(":
			if depth++; depth > MaxNesting {
				return nil, p.errAt(t.Pos, t.Value, "parentheses nested deeper than %d (max nesting)", MaxNesting)
			}
		case ")":
			depth--
		}
	}
	peek, err = lexer.Upgrade(&tokenReplay{tokens: p.tokens, eof: *scan.Peek()})
	if err != nil {
		return nil, p.convertError(err)
	}
	start := *peek
	g, err := oracleGrammar.ParseFromLexer(peek)
	if err != nil {
		var ute *participle.UnexpectedTokenError
		if errors.As(err, &ute) && !ute.Unexpected.EOF() && expected(ute) == "" {
			if _, err2 := oracleGrammar.ParseFromLexer(&start, participle.AllowTrailing(true)); err2 == nil {
				if rest := start.Peek(); rest.Pos.Offset == ute.Unexpected.Pos.Offset && !isBad(*rest) {
					return nil, p.errAt(rest.Pos, rest.Value, "unexpected %s after end of statement", describe(*rest))
				}
			}
		}
		return nil, p.convertError(err)
	}
	return p.statement(g)
}

// sameAsOracle fails unless Parse and oracleParse return the same
// statement, positions included, or the same error.
func sameAsOracle(t testing.TB, s string) {
	t.Helper()
	got, gerr := Parse(s)
	want, werr := oracleParse(s)
	if !reflect.DeepEqual(gerr, werr) {
		t.Fatalf("Parse(%q) error %#v, want %#v", s, gerr, werr)
	}
	if got == nil || want == nil {
		if got != want {
			t.Fatalf("Parse(%q) = %v, want %v", s, got, want)
		}
		return
	}
	dropRegexes(t, s, got, want)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Parse(%q):\n got %#v\nwant %#v", s, tree(got), tree(want))
	}
}

// dropRegexes checks that the compiled regexes of both statements come
// from the same source and removes them, as compiled regexes do not
// compare.
func dropRegexes(t testing.TB, s string, got, want *Statement) {
	t.Helper()
	var gotRe, wantRe []*Literal
	collect := func(st *Statement, out *[]*Literal) {
		var where Expr
		switch {
		case st.Select != nil:
			where = st.Select.Where
		case st.Delete != nil:
			where = st.Delete.Where
		}
		Conditions(where, func(e Expr) {
			if c, ok := e.(*Compare); ok && c.Value.Regex != nil {
				*out = append(*out, &c.Value)
			}
		})
	}
	collect(got, &gotRe)
	collect(want, &wantRe)
	if len(gotRe) != len(wantRe) {
		t.Fatalf("Parse(%q) has %d regexes, want %d", s, len(gotRe), len(wantRe))
	}
	for i := range gotRe {
		if gotRe[i].Regex.String() != wantRe[i].Regex.String() {
			t.Fatalf("Parse(%q) regex %d is %v, want %v", s, i, gotRe[i].Regex, wantRe[i].Regex)
		}
		gotRe[i].Regex, wantRe[i].Regex = nil, nil
	}
}

// TestParseOracle checks that Parse, statements and errors, is what it
// was with participle alone and the regexp lexer.
func TestParseOracle(t *testing.T) {
	r := rand.New(rand.NewPCG(12, 4))
	for _, s := range lexerSeeds() {
		sameAsOracle(t, s)
		if len(s) > 500 {
			continue
		}
		for i := range len(s) {
			sameAsOracle(t, s[:i])
		}
		for range 20 {
			sameAsOracle(t, mutate(r, s))
		}
	}
	for range 3000 {
		sameAsOracle(t, randomGrammarStatement(r))
		s := randomSelect(r)
		sameAsOracle(t, s)
		sameAsOracle(t, mutate(r, s))
		sameAsOracle(t, randomStatement(r))
	}
}

// FuzzParseOracle compares Parse with oracleParse.
func FuzzParseOracle(f *testing.F) {
	for _, s := range lexerSeeds() {
		f.Add(s)
	}
	r := rand.New(rand.NewPCG(12, 5))
	for range 50 {
		f.Add(randomSelect(r))
	}
	for _, tt := range exprParseTests {
		f.Add(tt.in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		sameAsOracle(t, in)
	})
}

// relexAfter makes scan go on with the regexp lexer's tokens of s after the
// '/' at pos, positioned in s.
func relexAfter(scan *lexer.PeekingLexer, s string, pos lexer.Position) error {
	off := pos.Offset + 1
	lx, err := regexLexerDef.LexString("", s[off:])
	if err != nil {
		return err
	}
	var toks []lexer.Token
	for {
		t, err := lx.Next()
		if err != nil {
			return err
		}
		if t.Pos.Line == 1 {
			t.Pos.Column += pos.Column
		}
		t.Pos.Line += pos.Line - 1
		t.Pos.Offset += off
		if t.EOF() {
			pk, err := lexer.Upgrade(&tokenReplay{tokens: toks, eof: t})
			if err != nil {
				return err
			}
			*scan = *pk
			return nil
		}
		toks = append(toks, t)
	}
}
