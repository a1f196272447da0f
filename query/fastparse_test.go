package query

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/alecthomas/participle/v2/lexer"
)

// bothParses returns the grammar tree of s from the fast path (nil if it
// gives up) and from participle, the way parseGrammar gets its input;
// checked is false when Parse refuses s before either.
func bothParses(t testing.TB, s string) (fast, slow *gStatement, slowErr error, checked bool) {
	t.Helper()
	p := &parser{src: s}
	if p.prescan() != nil {
		return nil, nil, nil, false
	}
	if p.scan() != nil {
		return nil, nil, nil, false
	}
	peek, err := p.peekingLexer()
	if err != nil {
		t.Fatalf("peekingLexer(%q): %v", s, err)
	}
	fast = fastParse(p.tokens, p.eof)
	slow, slowErr = grammar.ParseFromLexer(peek)
	return fast, slow, slowErr, true
}

// sameParse fails if the fast path accepts s and participle does not, or
// builds a different tree; it reports whether the fast path accepted s.
func sameParse(t testing.TB, s string) bool {
	t.Helper()
	fast, slow, err, checked := bothParses(t, s)
	if !checked || fast == nil {
		return false
	}
	if err != nil {
		t.Fatalf("fast path accepts %q, participle does not: %v", s, err)
	}
	if !reflect.DeepEqual(fast, slow) {
		t.Fatalf("fast path parses %q differently:\n got %s\nwant %s", s, dump(fast), dump(slow))
	}
	return true
}

func dump(g *gStatement) string {
	var b strings.Builder
	dumpValue(&b, reflect.ValueOf(g))
	return b.String()
}

func dumpValue(b *strings.Builder, v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			b.WriteString("nil")
			return
		}
		dumpValue(b, v.Elem())
	case reflect.Struct:
		if p, ok := v.Interface().(lexer.Position); ok {
			b.WriteString(p.String())
			return
		}
		b.WriteString(v.Type().Name() + "{")
		for i := range v.NumField() {
			if i > 0 {
				b.WriteString(" ")
			}
			b.WriteString(v.Type().Field(i).Name + ":")
			dumpValue(b, v.Field(i))
		}
		b.WriteString("}")
	case reflect.Slice:
		b.WriteString("[")
		for i := range v.Len() {
			dumpValue(b, v.Index(i))
		}
		b.WriteString("]")
	default:
		fmt.Fprintf(b, "%q", fmt.Sprint(v.Interface()))
	}
}

// TestFastParseAcceptsSelects checks that the fast path, not participle,
// parses every SELECT of the parse tests and benchmarks.
func TestFastParseAcceptsSelects(t *testing.T) {
	var ins []string
	for _, tt := range parseTests {
		ins = append(ins, tt.in)
	}
	for _, bs := range benchStatements {
		ins = append(ins, bs.in)
	}
	for _, in := range ins {
		first := strings.ToUpper(strings.Fields(in)[0])
		if first != "SELECT" && first != "EXPLAIN" {
			continue
		}
		if !sameParse(t, in) {
			t.Errorf("fast path gives up on %q", in)
		}
	}
}

// grammarPieces are the pieces random statements are built from.
var grammarPieces = []string{
	"SELECT", "select", "EXPLAIN", "FROM", "WHERE", "AND", "and", "OR", "NOT", "IN", "BETWEEN", "GROUP", "BY",
	"FILL", "ORDER", "LIMIT", "OFFSET", "AS", "ASC", "DESC", "SHOW", "DELETE",
	"a", "cpu", "time", `"q"`, `""`, "count", "percentile", "now", "NOW", "true", "False", "none", "linear",
	"*", ",", "(", ")", ";", "=", "!=", "<>", "<", ">=", "=~", "!~", "+", "-",
	"1", "0", "95", "1.5", "1e3", "1h", "5m", "0s", "'x'", "''", "/re/", "/(/", "'unterminated", "1x", "!",
	"TZ", "tz", "'Europe/Paris'", "3M",
}

func randomGrammarStatement(r *rand.Rand) string {
	prefixes := []string{"", "SELECT a FROM cpu ", "SELECT a FROM cpu WHERE ", "EXPLAIN SELECT ",
		"SELECT count(a) FROM cpu WHERE a IN (", "SELECT * FROM cpu WHERE time > now() "}
	parts := []string{prefixes[r.IntN(len(prefixes))]}
	for n := r.IntN(10); n >= 0; n-- {
		parts = append(parts, grammarPieces[r.IntN(len(grammarPieces))])
	}
	return strings.Join(parts, " ")
}

// randomSelect builds a SELECT that mostly parses, with a bit of every
// clause.
func randomSelect(r *rand.Rand) string {
	pick := func(xs ...string) string { return xs[r.IntN(len(xs))] }
	names := []string{"a", "usage_user", `"q x"`, "time", "Value"}
	values := []string{"1", "-2", "+1.5", "1e3", "'x'", "'it''s'", "/^a/", "true", "FALSE", "now()", "now() - 1h",
		"'2025-01-01T00:00:00Z' + 5m - 1s", "1700000000000000000 + 1d"}
	var cond func(depth int) string
	cond = func(depth int) string {
		switch r.IntN(7) {
		case 0:
			if depth < 3 {
				return "(" + cond(depth+1) + " " + pick("AND", "OR", "and") + " " + cond(depth+1) + ")"
			}
		case 1:
			return pick(names...) + " BETWEEN " + pick(values...) + " AND " + pick(values...)
		case 2:
			return pick(names...) + pick(" IN (", " NOT IN (", " in (") + pick(values...) + ", " + pick(values...) + ")"
		}
		return pick(names...) + " " + pick("=", "!=", "<>", "<", "<=", ">", ">=", "=~", "!~") + " " + pick(values...)
	}
	var b strings.Builder
	b.WriteString(pick("", "EXPLAIN ", "explain ") + pick("SELECT ", "select "))
	for i := r.IntN(3); i >= 0; i-- {
		b.WriteString(pick("*", "a", "max(a)", "count(*)", "percentile(a, 95)", "percentile(b, -1)", `mean("x y") AS m`, "a as b") + ", ")
	}
	b.WriteString("last(z) FROM " + pick(names...))
	if r.IntN(4) > 0 {
		b.WriteString(" WHERE " + cond(0))
		for i := r.IntN(3); i > 0; i-- {
			b.WriteString(" " + pick("AND", "OR") + " " + cond(0))
		}
	}
	if r.IntN(2) == 0 {
		b.WriteString(" GROUP BY " + pick("1h", "time(5m)", "host", `"h"`) + pick("", ", region", ", 1d"))
	}
	if r.IntN(3) == 0 {
		b.WriteString(" FILL(" + pick("none", "linear", "0", "-1.5", "x") + ")")
	}
	if r.IntN(3) == 0 {
		b.WriteString(" ORDER BY time" + pick("", " DESC", " asc"))
	}
	if r.IntN(3) == 0 {
		b.WriteString(" LIMIT " + pick("10", "0", "-1", "1.5"))
	}
	if r.IntN(3) == 0 {
		b.WriteString(" OFFSET " + pick("10", "+3"))
	}
	b.WriteString(pick("", ";", " ; "))
	return b.String()
}

// mutate replaces, drops or repeats one token of a statement.
func mutate(r *rand.Rand, s string) string {
	var toks []lexer.Token
	lx := newQueryLexer("", s)
	for tok, _ := lx.Next(); !tok.EOF(); tok, _ = lx.Next() {
		toks = append(toks, tok)
	}
	if len(toks) == 0 {
		return s
	}
	i := r.IntN(len(toks))
	var words []string
	for j, tok := range toks {
		switch {
		case j != i:
			words = append(words, tok.Value)
		case r.IntN(3) == 0:
		case r.IntN(2) == 0:
			words = append(words, tok.Value, tok.Value)
		default:
			words = append(words, grammarPieces[r.IntN(len(grammarPieces))])
		}
	}
	return strings.Join(words, " ")
}

// TestFastParseDifferential checks the fast path against participle on the
// test statements, their prefixes, mutations of them and random strings
// of grammar pieces.
func TestFastParseDifferential(t *testing.T) {
	r := rand.New(rand.NewPCG(12, 2))
	accepted := 0
	for _, s := range lexerSeeds() {
		sameParse(t, s)
		if len(s) > 500 {
			continue
		}
		for i := range len(s) {
			sameParse(t, s[:i])
		}
		for range 50 {
			if sameParse(t, mutate(r, s)) {
				accepted++
			}
		}
	}
	for range 10000 {
		if sameParse(t, randomGrammarStatement(r)) {
			accepted++
		}
		s := randomSelect(r)
		if sameParse(t, s) {
			accepted++
		}
		if sameParse(t, mutate(r, s)) {
			accepted++
		}
	}
	if accepted < 8000 {
		t.Fatalf("the fast path accepted only %d of the mutated and random statements, want 8000", accepted)
	}
}

// FuzzFastParse compares the fast path with participle.
func FuzzFastParse(f *testing.F) {
	for _, s := range lexerSeeds() {
		f.Add(s)
	}
	r := rand.New(rand.NewPCG(12, 3))
	for range 50 {
		f.Add(randomGrammarStatement(r))
		f.Add(randomSelect(r))
	}
	f.Fuzz(func(t *testing.T, in string) {
		sameParse(t, in)
	})
}
