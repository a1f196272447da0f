package query

import (
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

// Helpers building expression trees for the expected values.
func fref(name string) *FieldRef { return &FieldRef{Name: name} }
func inum(n int64) *Number       { return &Number{IsInt: true, Int: n} }
func fnum(f float64) *Number     { return &Number{Float: f} }
func neg(x ValueExpr) *Unary     { return &Unary{Op: "-", X: x} }
func ar(op string, l, r ValueExpr) *Arith {
	return &Arith{Op: op, LHS: l, RHS: r}
}
func fcall(fn string, args ...ValueExpr) *Call { return &Call{Func: fn, Args: args} }
func agg(fn, f string) *Call                   { return fcall(fn, fref(f)) }
func exprItem(e ValueExpr) Item                { return Item{Expr: e} }
func vcmp(l ValueExpr, op string, r ValueExpr) *ValueCompare {
	return &ValueCompare{LHS: l, Op: op, RHS: r}
}

// stripValue zeroes the positions of an expression tree.
func stripValue(e ValueExpr) {
	switch e := e.(type) {
	case *FieldRef:
		e.Pos = Pos{}
	case *Call:
		e.Pos = Pos{}
		for _, a := range e.Args {
			stripValue(a)
		}
	case *Unary:
		stripValue(e.X)
	case *Arith:
		stripValue(e.LHS)
		stripValue(e.RHS)
	}
}

var exprParseTests = []struct {
	in    string
	want  *Statement
	print string // the canonical text, "" when it is in
}{
	{"SELECT max(v) - min(v) FROM dev GROUP BY 1h",
		sel([]Item{exprItem(ar("-", agg("max", "v"), agg("min", "v")))}, "dev", groupBy(dur(1, Hour))),
		"SELECT max(v) - min(v) FROM dev GROUP BY time(1h)"},
	{"SELECT v * 9 / 5 + 32 AS f FROM dev",
		sel([]Item{aliased(exprItem(ar("+", ar("/", ar("*", fref("v"), inum(9)), inum(5)), inum(32))), "f")}, "dev"), ""},
	{"SELECT round(avg(v) * 100) / 100 FROM dev",
		sel([]Item{exprItem(ar("/", fcall("round", ar("*", agg("avg", "v"), inum(100))), inum(100)))}, "dev"), ""},
	{"SELECT round(mean(v)*100)/100 FROM dev",
		sel([]Item{exprItem(ar("/", fcall("round", ar("*", agg("avg", "v"), inum(100))), inum(100)))}, "dev"),
		"SELECT round(avg(v) * 100) / 100 FROM dev"},
	// Precedence and associativity: * / % before + -, left to right.
	{"SELECT a + b * c - d % 2 FROM x",
		sel([]Item{exprItem(ar("-", ar("+", fref("a"), ar("*", fref("b"), fref("c"))), ar("%", fref("d"), inum(2))))}, "x"), ""},
	{"SELECT a - (b - c), (a - b) - c, a / (b * c) FROM x",
		sel([]Item{exprItem(ar("-", fref("a"), ar("-", fref("b"), fref("c")))),
			exprItem(ar("-", ar("-", fref("a"), fref("b")), fref("c"))),
			exprItem(ar("/", fref("a"), ar("*", fref("b"), fref("c"))))}, "x"),
		"SELECT a - (b - c), a - b - c, a / (b * c) FROM x"},
	{"SELECT a/b/c FROM x",
		sel([]Item{exprItem(ar("/", ar("/", fref("a"), fref("b")), fref("c")))}, "x"), "SELECT a / b / c FROM x"},
	{"SELECT -v, - -v, -(a + b), 2.5 * -v, +v FROM x",
		sel([]Item{exprItem(neg(fref("v"))), exprItem(neg(neg(fref("v")))), exprItem(neg(ar("+", fref("a"), fref("b")))),
			exprItem(ar("*", fnum(2.5), neg(fref("v")))), field("v")}, "x"),
		"SELECT -v, -(-v), -(a + b), 2.5 * -v, v FROM x"},
	// Parentheses around a name or an aggregate leave the plain item.
	{"SELECT (v), (max(v)) FROM x", sel([]Item{field("v"), call("max", "v")}, "x"), "SELECT v, max(v) FROM x"},
	{"SELECT abs(v), ceil(v), floor(v), sqrt(v), ln(v), log10(v), exp(v), pow(v, 2), pow(v + 1, -0.5) FROM x",
		sel([]Item{exprItem(fcall("abs", fref("v"))), exprItem(fcall("ceil", fref("v"))), exprItem(fcall("floor", fref("v"))),
			exprItem(fcall("sqrt", fref("v"))), exprItem(fcall("ln", fref("v"))), exprItem(fcall("log10", fref("v"))),
			exprItem(fcall("exp", fref("v"))), exprItem(fcall("pow", fref("v"), inum(2))),
			exprItem(fcall("pow", ar("+", fref("v"), inum(1)), neg(fnum(0.5))))}, "x"), ""},
	{"SELECT sqrt(abs(-v)), percentile(v, 90) * 2, 1 + 2 FROM x",
		sel([]Item{exprItem(fcall("sqrt", fcall("abs", neg(fref("v"))))),
			exprItem(ar("*", fcall("percentile", fref("v"), fnum(90)), inum(2))), exprItem(ar("+", inum(1), inum(2)))}, "x"), ""},
	{`SELECT "my field" * 2 AS "x y" FROM x`,
		sel([]Item{aliased(exprItem(ar("*", fref("my field"), inum(2))), "x y")}, "x"), ""},
	// agg(*) and GROUP BY *.
	{"SELECT count(*), max(*), percentile(*, 50) FROM x GROUP BY *",
		sel([]Item{{Star: true, Func: "count"}, {Star: true, Func: "max"}, {Star: true, Func: "percentile", Arg: 50}}, "x",
			func(s *Select) { s.GroupAll = true }), ""},
	{"SELECT mean(*) FROM x GROUP BY 1h, host, *",
		sel([]Item{{Star: true, Func: "avg"}}, "x", groupBy(dur(1, Hour), "host"), func(s *Select) { s.GroupAll = true }),
		"SELECT avg(*) FROM x GROUP BY time(1h), host, *"},
	// HAVING.
	{"SELECT max(v) FROM x GROUP BY 1h, host HAVING max(v) > 90",
		sel([]Item{call("max", "v")}, "x", groupBy(dur(1, Hour), "host"),
			func(s *Select) { s.Having = vcmp(agg("max", "v"), ">", inum(90)) }),
		"SELECT max(v) FROM x GROUP BY time(1h), host HAVING max(v) > 90"},
	{"SELECT count(v) FROM x HAVING max(v) - min(v) >= 2 * avg(v) AND count(v) <> 0 OR sum(v) < -1.5",
		sel([]Item{call("count", "v")}, "x", func(s *Select) {
			s.Having = or(and(vcmp(ar("-", agg("max", "v"), agg("min", "v")), ">=", ar("*", inum(2), agg("avg", "v"))),
				vcmp(agg("count", "v"), "!=", inum(0))), vcmp(agg("sum", "v"), "<", neg(fnum(1.5))))
		}),
		"SELECT count(v) FROM x HAVING max(v) - min(v) >= 2 * avg(v) AND count(v) != 0 OR sum(v) < -1.5"},
	{"SELECT max(v) FROM x GROUP BY 1h HAVING max(v) > 1 FILL(none) LIMIT 3",
		sel([]Item{call("max", "v")}, "x", groupBy(dur(1, Hour)), fill(Fill{Mode: FillNone}), limit(3, 0),
			func(s *Select) { s.Having = vcmp(agg("max", "v"), ">", inum(1)) }),
		"SELECT max(v) FROM x GROUP BY time(1h) HAVING max(v) > 1 FILL(none) LIMIT 3"},
	// A regular expression in WHERE still lexes as one after a name.
	{"SELECT v / 2 FROM x WHERE host =~ /a/",
		sel([]Item{exprItem(ar("/", fref("v"), inum(2)))}, "x", where(cmp("host", "=~", re("a")))), ""},
}

func TestParseExpr(t *testing.T) {
	for _, tt := range exprParseTests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Parse(tt.in)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			want := tt.print
			if want == "" {
				want = tt.in
			}
			if s := got.String(); s != want {
				t.Errorf("printed as %q, want %q", s, want)
			}
			again, err := Parse(got.String())
			if err != nil {
				t.Fatalf("reparse: %v", err)
			}
			stripPos(t, got)
			stripPos(t, again)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("tree\n got %s\nwant %s", tree(got), tree(tt.want))
			}
			if !reflect.DeepEqual(again, tt.want) {
				t.Errorf("reparsed tree\n got %s\nwant %s", tree(again), tree(tt.want))
			}
		})
	}
}

var exprErrorTests = []struct{ in, pos, msg string }{
	{"SELECT max(v * 2) FROM x", "1:12", "max takes a field name, not an expression"},
	{"SELECT max(abs(v)) FROM x", "1:12", "max takes a field name, not an expression"},
	{"SELECT count(*) + 1 FROM x", "1:14", "count(*) cannot be part of an expression"},
	{"SELECT foo(v) + 1 FROM x", "1:8", `unknown function "foo"`},
	{"SELECT abs(v, 2) FROM x", "1:15", "abs takes one argument"},
	{"SELECT pow(v) FROM x", "1:8", "pow needs two arguments"},
	{"SELECT abs(*) FROM x", "1:12", "abs(*) is not allowed"},
	{"SELECT v / FROM x", "1:12", `unexpected "FROM", expected a number, name or (`},
	{"SELECT v + FROM x", "1:12", `unexpected "FROM"`},
	{"SELECT 1e400 * v FROM x", "1:8", "number 1e400 out of range"},
	{"SELECT v " + strings.Repeat("- ", 65) + "1 FROM x", "1:138", "more than 64 signs in a row"},
	{"SELECT v FROM x HAVING v =~ /a/", "1:29", `unexpected "/a/", expected a number, name or (`},
	{"SELECT v FROM x HAVING v =~ 1", "1:24", "HAVING compares numbers"},
	{"SELECT v FROM x HAVING", "1:23", "unexpected end of input"},
	{"SELECT v FROM x HAVING max(v)", "1:30", "expected a comparison operator"},
	{"SELECT v FROM x GROUP BY * HAVING max(v) > 1 ORDER BY host", "1:55", "ORDER BY supports only time"},
}

func TestParseExprErrors(t *testing.T) { checkParseErrors(t, exprErrorTests) }

// TestExprOpsBound checks that a long chain of operators is refused with a
// clear error rather than built into a deep tree.
func TestExprOpsBound(t *testing.T) {
	q := "SELECT v" + strings.Repeat(" + 1", MaxExprOps+1) + " FROM x"
	_, err := Parse(q)
	if err == nil || !strings.Contains(err.Error(), "max expression size") {
		t.Fatalf("Parse(long chain) error %v, want max expression size", err)
	}
	q = "SELECT v" + strings.Repeat(" + 1", MaxExprOps) + " FROM x"
	if _, err := Parse(q); err != nil {
		t.Fatalf("Parse(chain at the bound): %v", err)
	}
}

// TestFastParseDeclinesExpr checks that the fast path leaves expressions,
// HAVING and GROUP BY * to participle (or builds the same tree).
func TestFastParseDeclinesExpr(t *testing.T) {
	for _, tt := range exprParseTests {
		p := &parser{src: tt.in}
		if err := p.scan(); err != nil {
			t.Fatal(err)
		}
		g := fastParse(p.tokens, p.eof)
		if g == nil {
			continue
		}
		peek, _ := p.peekingLexer()
		want, err := grammar.ParseFromLexer(peek)
		if err != nil || !reflect.DeepEqual(g, want) {
			t.Errorf("fastParse(%q) built a tree participle does not (err %v)", tt.in, err)
		}
	}
}

// TestParseOracleExpr compares Parse with the oracle (participle alone on
// the regexp lexer's tokens, turned into arithmetic the same way) on the
// expression statements, their prefixes and mutations.
func TestParseOracleExpr(t *testing.T) {
	r := rand.New(rand.NewPCG(16, 1))
	for _, tt := range exprParseTests {
		sameAsOracle(t, tt.in)
		for i := range len(tt.in) {
			sameAsOracle(t, tt.in[:i])
		}
		for range 50 {
			sameAsOracle(t, mutate(r, tt.in))
		}
	}
	for _, tt := range exprErrorTests {
		sameAsOracle(t, tt.in)
	}
}

// TestPrescanDivision checks that the limits count what stands between two
// divisions: a '/' after an operand is no regular expression to skip.
func TestPrescanDivision(t *testing.T) {
	q := "SELECT v / 2, " + strings.Repeat("v, ", MaxTerms) + "v / 2 FROM x"
	_, err := Parse(q)
	if err == nil || !strings.Contains(err.Error(), "max terms") {
		t.Fatalf("Parse(%d items between divisions) error %v, want max terms", MaxTerms, err)
	}
	q = "SELECT v / 2" + strings.Repeat(" + (v", 70) + strings.Repeat(")", 70) + " / 2 FROM x"
	_, err = Parse(q)
	if err == nil || !strings.Contains(err.Error(), "max nesting") {
		t.Fatalf("Parse(deep parentheses between divisions) error %v, want max nesting", err)
	}
}
