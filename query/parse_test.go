package query

import (
	"errors"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

// Helpers that build expected trees; positions are zeroed before comparing.

func sel(items []Item, from string, opts ...func(*Select)) *Statement {
	s := &Select{Items: items, From: from}
	for _, o := range opts {
		o(s)
	}
	return &Statement{Select: s}
}

func field(name string) Item             { return Item{Field: name} }
func call(fn, name string) Item          { return Item{Func: fn, Field: name} }
func aliased(it Item, alias string) Item { it.Alias = alias; return it }

var star = Item{Star: true}

func where(e Expr) func(*Select) { return func(s *Select) { s.Where = e } }
func groupBy(d *Duration, tags ...string) func(*Select) {
	return func(s *Select) { s.GroupBy, s.GroupTags = d, tags }
}
func fill(f Fill) func(*Select) { return func(s *Select) { s.Fill = f } }
func desc() func(*Select)       { return func(s *Select) { s.Desc = true } }
func limit(n, off int64) func(*Select) {
	return func(s *Select) { s.Limit, s.Offset = n, off }
}

func dur(n int64, u Unit) *Duration { return &Duration{N: n, Unit: u} }
func off(sign int, n int64, u Unit) Offset {
	return Offset{Sign: sign, Dur: Duration{N: n, Unit: u}}
}

func str(s string, offs ...Offset) Literal { return Literal{Kind: LitString, Str: s, Offsets: offs} }
func integer(n int64, offs ...Offset) Literal {
	return Literal{Kind: LitInteger, Int: n, Offsets: offs}
}
func num(f float64) Literal      { return Literal{Kind: LitNumber, Num: f} }
func boolean(b bool) Literal     { return Literal{Kind: LitBool, Bool: b} }
func re(src string) Literal      { return Literal{Kind: LitRegex, Str: src} }
func now(offs ...Offset) Literal { return Literal{Kind: LitNow, Offsets: offs} }

func cmp(name, op string, v Literal) *Compare { return &Compare{Name: name, Op: op, Value: v} }
func and(l, r Expr) *Binary                   { return &Binary{Op: "AND", LHS: l, RHS: r} }
func or(l, r Expr) *Binary                    { return &Binary{Op: "OR", LHS: l, RHS: r} }
func in(name string, not bool, vs ...Literal) *In {
	return &In{Name: name, Not: not, Values: vs}
}
func between(name string, lo, hi Literal) *Between {
	return &Between{Name: name, Low: lo, High: hi}
}

// stripPos zeroes every position in st and drops compiled regexes after
// checking that they were compiled from Str; it returns st.
func stripPos(t testing.TB, st *Statement) *Statement {
	t.Helper()
	if st != nil && st.Delete != nil {
		st.Delete.FromPos = Pos{}
		st.Delete.Where = stripExpr(t, st.Delete.Where)
	}
	if st == nil || st.Select == nil {
		return st
	}
	for s := st.Select; s != nil; s = s.Sub {
		s.FromPos, s.GroupByPos, s.GroupTagPos = Pos{}, Pos{}, nil
		s.TZPos = Pos{}
		for i := range s.Items {
			s.Items[i].Pos = Pos{}
			stripValue(s.Items[i].Expr)
		}
		s.Where = stripExpr(t, s.Where)
		s.Having = stripExpr(t, s.Having)
	}
	return st
}

func stripExpr(t testing.TB, e Expr) Expr {
	t.Helper()
	switch e := e.(type) {
	case *Binary:
		e.LHS, e.RHS = stripExpr(t, e.LHS), stripExpr(t, e.RHS)
	case *Compare:
		e.Pos = Pos{}
		stripLit(t, &e.Value)
	case *In:
		e.Pos = Pos{}
		for i := range e.Values {
			stripLit(t, &e.Values[i])
		}
	case *Between:
		e.Pos = Pos{}
		stripLit(t, &e.Low)
		stripLit(t, &e.High)
	case *ValueCompare:
		e.Pos = Pos{}
		stripValue(e.LHS)
		stripValue(e.RHS)
	}
	return e
}

func stripLit(t testing.TB, l *Literal) {
	t.Helper()
	l.Pos = Pos{}
	if l.Kind == LitRegex {
		if l.Regex == nil || l.Regex.String() != l.Str {
			t.Errorf("regex literal %q has compiled regex %v", l.Str, l.Regex)
		}
	}
	l.Regex = nil
}

var parseTests = []struct {
	in   string
	want *Statement
}{
	{"SELECT * FROM cpu", sel([]Item{star}, "cpu")},
	{"select value from cpu;", sel([]Item{field("value")}, "cpu")},
	{"SeLeCt value FrOm cpu", sel([]Item{field("value")}, "cpu")},
	{"EXPLAIN SELECT * FROM cpu", &Statement{Explain: true, Select: &Select{Items: []Item{star}, From: "cpu"}}},
	{"SELECT max(m) FROM (SELECT v AS m FROM cpu) WHERE m > 1", &Statement{Select: &Select{
		Items: []Item{call("max", "m")}, Sub: &Select{Items: []Item{aliased(field("v"), "m")}, From: "cpu"},
		Where: cmp("m", ">", integer(1))}}},
	{"SELECT count(c) FROM (SELECT max(s) AS c FROM (SELECT sum(v) AS s FROM cpu GROUP BY host))", &Statement{Select: &Select{
		Items: []Item{call("count", "c")}, Sub: &Select{Items: []Item{aliased(call("max", "s"), "c")},
			Sub: &Select{Items: []Item{aliased(call("sum", "v"), "s")}, From: "cpu", GroupTags: []string{"host"}}}}}},
	{
		"SELECT mean(usage) AS u, MAX(usage), percentile(usage, 99.5), Percentile(usage, 0) FROM cpu",
		sel([]Item{aliased(call("avg", "usage"), "u"), call("max", "usage"),
			{Func: "percentile", Field: "usage", Arg: 99.5}, {Func: "percentile", Field: "usage"}}, "cpu"),
	},
	{
		"SELECT count(v), sum(v), avg(v), min(v), first(v), last(v), spread(v), stddev(v) FROM c",
		sel([]Item{call("count", "v"), call("sum", "v"), call("avg", "v"), call("min", "v"),
			call("first", "v"), call("last", "v"), call("spread", "v"), call("stddev", "v")}, "c"),
	},
	// Names: keywords and odd characters need double quotes; time, count
	// and other non-reserved words are plain names.
	{
		`SELECT "select", "a-b.c" AS "from", time, count, "q\"\\" FROM "my.metrics"`,
		sel([]Item{field("select"), aliased(field("a-b.c"), "from"), field("time"), field("count"), field(`q"\`)}, "my.metrics"),
	},
	// Strings: '' and \' are quotes, \\ a backslash, other escapes stay.
	{
		`SELECT * FROM c WHERE s = 'it''s \'x\' \\ \d' AND e = ''`,
		sel([]Item{star}, "c", where(and(cmp("s", "=", str(`it's 'x' \ \d`)), cmp("e", "=", str(""))))),
	},
	// Regexes: \/ is a slash, other escapes go to the regexp package.
	{
		`SELECT * FROM c WHERE host =~ /^web-\d+\/x$/ OR host !~ /a\\/`,
		sel([]Item{star}, "c", where(or(cmp("host", "=~", re(`^web-\d+/x$`)), cmp("host", "!~", re(`a\\`))))),
	},
	// Operators, <> is !=.
	{
		"SELECT * FROM c WHERE a = 1 AND b != 2 AND c <> 3 AND d < 4 AND e <= 5 AND f > 6 AND g >= 7",
		sel([]Item{star}, "c", where(and(and(and(and(and(and(
			cmp("a", "=", integer(1)), cmp("b", "!=", integer(2))), cmp("c", "!=", integer(3))),
			cmp("d", "<", integer(4))), cmp("e", "<=", integer(5))), cmp("f", ">", integer(6))),
			cmp("g", ">=", integer(7))))),
	},
	// AND binds tighter than OR; both associate to the left.
	{
		"SELECT * FROM c WHERE a = 1 OR b = 2 AND c = 3 OR d = 4",
		sel([]Item{star}, "c", where(or(or(cmp("a", "=", integer(1)),
			and(cmp("b", "=", integer(2)), cmp("c", "=", integer(3)))), cmp("d", "=", integer(4))))),
	},
	{
		"SELECT * FROM c WHERE (a = 1 OR b = 2) AND (c = 3 AND (d = 4))",
		sel([]Item{star}, "c", where(and(or(cmp("a", "=", integer(1)), cmp("b", "=", integer(2))),
			and(cmp("c", "=", integer(3)), cmp("d", "=", integer(4)))))),
	},
	// The AND of BETWEEN is not the logical AND.
	{
		"SELECT * FROM c WHERE time BETWEEN '2025-01-01' AND now() - 1h AND host = 'a'",
		sel([]Item{star}, "c", where(and(between("time", str("2025-01-01"), now(off(-1, 1, Hour))),
			cmp("host", "=", str("a"))))),
	},
	{
		"SELECT * FROM c WHERE x BETWEEN -1.5 AND +2e3 OR y BETWEEN 1 AND 2",
		sel([]Item{star}, "c", where(or(between("x", num(-1.5), num(2000)), between("y", integer(1), integer(2))))),
	},
	{
		"SELECT * FROM c WHERE host IN ('a', 'b') AND dc NOT IN ('x') AND n in (1, -2, 3.5, true)",
		sel([]Item{star}, "c", where(and(and(in("host", false, str("a"), str("b")), in("dc", true, str("x"))),
			in("n", false, integer(1), integer(-2), num(3.5), boolean(true))))),
	},
	// Time literals and offsets, with and without spaces.
	{
		"SELECT * FROM c WHERE time > now()-30d AND time <= NOW() AND time < '2025-01-01T00:00:00Z' + 1h - 30m",
		sel([]Item{star}, "c", where(and(and(cmp("time", ">", now(off(-1, 30, Day))), cmp("time", "<=", now())),
			cmp("time", "<", str("2025-01-01T00:00:00Z", off(1, 1, Hour), off(-1, 30, Minute)))))),
	},
	{
		"SELECT * FROM c WHERE time >= 1700000000000000000+1M-2y AND time < -5 + 10ns + 1us + 1µs + 1ms + 1s + 1w",
		sel([]Item{star}, "c", where(and(
			cmp("time", ">=", integer(1700000000000000000, off(1, 1, Month), off(-1, 2, Year))),
			cmp("time", "<", integer(-5, off(1, 10, Nanosecond), off(1, 1, Microsecond), off(1, 1, Microsecond),
				off(1, 1, Millisecond), off(1, 1, Second), off(1, 1, Week)))))),
	},
	// Numbers.
	{
		"SELECT * FROM c WHERE a = 1.0 AND b = -0.5 AND c = 1e3 AND d = .5 AND e = -9223372036854775808 AND f = TRUE AND g = false",
		sel([]Item{star}, "c", where(and(and(and(and(and(and(
			cmp("a", "=", num(1)), cmp("b", "=", num(-0.5))), cmp("c", "=", num(1000))), cmp("d", "=", num(0.5))),
			cmp("e", "=", integer(-9223372036854775808))), cmp("f", "=", boolean(true))), cmp("g", "=", boolean(false))))),
	},
	// "time" and quoted names in WHERE.
	{
		`SELECT * FROM c WHERE "time" > 5 AND "and" = 'x'`,
		sel([]Item{star}, "c", where(and(cmp("time", ">", integer(5)), cmp("and", "=", str("x"))))),
	},
	// GROUP BY: interval forms and tags in order written.
	{"SELECT count(v) FROM c GROUP BY 1d", sel([]Item{call("count", "v")}, "c", groupBy(dur(1, Day)))},
	{"SELECT count(v) FROM c GROUP BY TIME(15m)", sel([]Item{call("count", "v")}, "c", groupBy(dur(15, Minute)))},
	{
		`SELECT count(v) FROM c GROUP BY host, time(1M), "time", dc`,
		sel([]Item{call("count", "v")}, "c", groupBy(dur(1, Month), "host", "time", "dc")),
	},
	{"SELECT count(v) FROM c GROUP BY region", sel([]Item{call("count", "v")}, "c", groupBy(nil, "region"))},
	// FILL, ORDER BY, LIMIT, OFFSET.
	{"SELECT count(v) FROM c GROUP BY 1h FILL(none)", sel([]Item{call("count", "v")}, "c", groupBy(dur(1, Hour)), fill(Fill{Mode: FillNone}))},
	{"SELECT count(v) FROM c GROUP BY 1h fill(NULL)", sel([]Item{call("count", "v")}, "c", groupBy(dur(1, Hour)))},
	{"SELECT count(v) FROM c GROUP BY 1h FILL(Previous)", sel([]Item{call("count", "v")}, "c", groupBy(dur(1, Hour)), fill(Fill{Mode: FillPrevious}))},
	{"SELECT count(v) FROM c GROUP BY 1h FILL(linear)", sel([]Item{call("count", "v")}, "c", groupBy(dur(1, Hour)), fill(Fill{Mode: FillLinear}))},
	{"SELECT count(v) FROM c GROUP BY 1h FILL(-1.5)", sel([]Item{call("count", "v")}, "c", groupBy(dur(1, Hour)), fill(Fill{Mode: FillValue, Value: -1.5}))},
	{"SELECT count(v) FROM c GROUP BY 1h FILL(0)", sel([]Item{call("count", "v")}, "c", groupBy(dur(1, Hour)), fill(Fill{Mode: FillValue}))},
	{"SELECT * FROM c ORDER BY time", sel([]Item{star}, "c")},
	{"SELECT * FROM c ORDER BY time asc", sel([]Item{star}, "c")},
	{"SELECT * FROM c ORDER BY TIME DESC LIMIT 10 OFFSET 0", sel([]Item{star}, "c", desc(), limit(10, 0))},
	{"SELECT * FROM c OFFSET 20", sel([]Item{star}, "c", limit(0, 20))},
	{
		"select max(v) from c where t = 'x' group by 5m, host fill(previous) order by time desc limit 1 offset 2;",
		sel([]Item{call("max", "v")}, "c", where(cmp("t", "=", str("x"))), groupBy(dur(5, Minute), "host"),
			fill(Fill{Mode: FillPrevious}), desc(), limit(1, 2)),
	},
	// Comments and layout.
	{
		"-- leading comment\nSELECT v -- the value\n  FROM c -- done\n;  -- trailing",
		sel([]Item{field("v")}, "c"),
	},
	// SHOW.
	{"SHOW COLLECTIONS", &Statement{Show: &Show{Kind: ShowCollections}}},
	{"show tag keys from cpu;", &Statement{Show: &Show{Kind: ShowTagKeys, From: "cpu"}}},
	{"SHOW TAG VALUES FROM cpu WITH KEY = host", &Statement{Show: &Show{Kind: ShowTagValues, From: "cpu", Key: "host"}}},
	{`SHOW TAG VALUES FROM "c-1" WITH KEY = 'data center'`, &Statement{Show: &Show{Kind: ShowTagValues, From: "c-1", Key: "data center"}}},
	{"SHOW FIELDS FROM cpu", &Statement{Show: &Show{Kind: ShowFields, From: "cpu"}}},
	{"SHOW FIELD KEYS FROM cpu", &Statement{Show: &Show{Kind: ShowFields, From: "cpu"}}},
	{"SHOW MEASUREMENTS", &Statement{Show: &Show{Kind: ShowCollections}}},
	{"SHOW SERIES FROM cpu", &Statement{Show: &Show{Kind: ShowSeries, From: "cpu"}}},
	{"SHOW TAG KEYS", &Statement{Show: &Show{Kind: ShowTagKeys}}},
	{"SHOW FIELD KEYS", &Statement{Show: &Show{Kind: ShowFields}}},
	{"show fields;", &Statement{Show: &Show{Kind: ShowFields}}},
	// DELETE. The word is not reserved: it stays usable as a name.
	{"DELETE FROM cpu", del("cpu", nil)},
	{"delete from \"my.metrics\";", del("my.metrics", nil)},
	{
		"DELETE FROM cpu WHERE host = 'a' AND time >= '2025-01-01' AND time < now() - 1d",
		del("cpu", and(and(cmp("host", "=", str("a")), cmp("time", ">=", str("2025-01-01"))), cmp("time", "<", now(off(-1, 1, Day))))),
	},
	{
		"DELETE FROM cpu WHERE time BETWEEN 1 AND 2 AND (host IN ('a', 'b') OR dc !~ /^eu/ OR rack NOT IN ('x'))",
		del("cpu", and(between("time", integer(1), integer(2)),
			or(or(in("host", false, str("a"), str("b")), cmp("dc", "!~", re("^eu"))), in("rack", true, str("x"))))),
	},
	{"DELETE FROM delete WHERE delete != 'x'", del("delete", cmp("delete", "!=", str("x")))},
	{"SELECT delete FROM delete", sel([]Item{field("delete")}, "delete")},
}

func del(from string, where Expr) *Statement {
	return &Statement{Delete: &Delete{From: from, Where: where}}
}

func TestParse(t *testing.T) {
	for _, tt := range parseTests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Parse(tt.in)
			if err != nil {
				t.Fatalf("Parse(%q) error: %v", tt.in, err)
			}
			stripPos(t, got)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Parse(%q)\n got: %s\n%#v\nwant: %s\n%#v", tt.in, got, tree(got), tt.want, tree(tt.want))
			}
		})
	}
}

func TestParsePositions(t *testing.T) {
	in := "SELECT v,\n  max(w) AS m\nFROM \"c\"\nWHERE host = 'a' AND\n  (time > now() - 1h OR x IN (1)) AND y BETWEEN 1 AND 2"
	st, err := Parse(in)
	if err != nil {
		t.Fatalf("Parse(%q) error: %v", in, err)
	}
	s := st.Select
	bin := s.Where.(*Binary)
	host := bin.LHS.(*Binary).LHS.(*Compare)
	paren := bin.LHS.(*Binary).RHS.(*Binary)
	tm := paren.LHS.(*Compare)
	x := paren.RHS.(*In)
	y := bin.RHS.(*Between)
	for _, tt := range []struct {
		what string
		got  Pos
		want Pos
	}{
		{"item 0", s.Items[0].Pos, Pos{7, 1, 8}},
		{"item 1", s.Items[1].Pos, Pos{12, 2, 3}},
		{"from", s.FromPos, Pos{29, 3, 6}},
		{"host", host.Pos, Pos{39, 4, 7}},
		{"host value", host.Value.Pos, Pos{39, 4, 7}},
		{"time", tm.Pos, Pos{57, 5, 4}},
		{"time value", tm.Value.Pos, Pos{57, 5, 4}},
		{"x", x.Pos, Pos{78, 5, 25}},
		{"x value", x.Values[0].Pos, Pos{78, 5, 25}},
		{"y", y.Pos, Pos{92, 5, 39}},
		{"y high", y.High.Pos, Pos{92, 5, 39}},
	} {
		if tt.got != tt.want {
			t.Errorf("Parse(%q): %s at %+v, want %+v", in, tt.what, tt.got, tt.want)
		}
	}
}

func TestParseDeletePositions(t *testing.T) {
	in := "DELETE FROM\n  cpu WHERE host = 'a'\n  AND time < 5"
	st, err := Parse(in)
	if err != nil {
		t.Fatalf("Parse(%q) error: %v", in, err)
	}
	d := st.Delete
	bin := d.Where.(*Binary)
	for _, tt := range []struct {
		what string
		got  Pos
		want Pos
	}{
		{"from", d.FromPos, Pos{14, 2, 3}},
		{"host", bin.LHS.(*Compare).Pos, Pos{24, 2, 13}},
		{"time", bin.RHS.(*Compare).Pos, Pos{41, 3, 7}},
	} {
		if tt.got != tt.want {
			t.Errorf("Parse(%q): %s at %+v, want %+v", in, tt.what, tt.got, tt.want)
		}
	}
}

var errorTests = []struct {
	in  string
	pos string // line:column
	msg string // a substring of the message
}{
	{"", "1:1", "empty query"},
	{"  -- nothing\n", "2:1", "empty query"},
	{";", "1:1", "empty query"},
	{"SELECT v FORM c", "1:10", `unexpected "FORM", expected "FROM"`},
	{"SELECT FROM c", "1:8", `unexpected "FROM", expected a field`},
	{"SELECT v, FROM c", "1:11", `unexpected "FROM"`},
	{"SELECT v FROM", "1:14", "unexpected end of input, expected \"(\" or a name"},
	{"SELECT v FROM select", "1:15", `unexpected "select"`},
	{"SELECT v AS FROM c", "1:13", `unexpected "FROM", expected a name`},
	{"UPDATE c", "1:1", `unexpected "UPDATE", expected "SELECT", "SHOW" or "DELETE"`},
	{"EXPLAIN SHOW COLLECTIONS", "1:9", "EXPLAIN is only allowed before SELECT"},
	{"EXPLAIN DELETE FROM c", "1:9", "EXPLAIN is only allowed before SELECT"},
	{"explain\n  delete from c where host = 'a'", "2:3", "EXPLAIN is only allowed before SELECT"},
	{"DELETE c", "1:8", `unexpected "c", expected "FROM"`},
	{"DELETE", "1:7", `unexpected end of input, expected "FROM"`},
	{"DELETE FROM", "1:12", "unexpected end of input, expected a name"},
	{"DELETE * FROM c", "1:8", `unexpected "*", expected "FROM"`},
	{"DELETE FROM c WHERE", "1:20", "unexpected end of input, expected a condition"},
	{"DELETE FROM c WHERE host = 'a' GROUP BY 1h", "1:32", `unexpected "GROUP" after end of statement`},
	{"DELETE FROM c LIMIT 1", "1:15", `unexpected "LIMIT" after end of statement`},
	{"DELETE FROM c WHERE host =~ 'a'", "1:29", "=~ needs a regular expression"},
	{`DELETE FROM ""`, "1:13", "empty quoted identifier"},
	{"SELECT * FROM c WHERE s = 'abc", "1:27", "unterminated string"},
	{"SELECT * FROM c WHERE s = 'it''s", "1:27", "unterminated string"},
	{"SELECT * FROM c WHERE s = 'a' AND t = 'b\\", "1:39", "unterminated string"},
	{"SELECT * FROM c WHERE \"abc = 1", "1:23", "unterminated quoted identifier"},
	{"SELECT * FROM c WHERE s =~ /abc", "1:28", "unterminated regular expression"},
	{"SELECT * FROM c WHERE s =~ /a(/", "1:28", "bad regular expression: missing closing )"},
	{"SELECT * FROM c\nWHERE s =~ /[z-a]/", "2:12", "bad regular expression: invalid character class range"},
	{"SELECT * FROM c WHERE s = /a/", "1:27", "a regular expression needs =~ or !~"},
	{"SELECT * FROM c WHERE s IN (/a/)", "1:29", "a regular expression needs =~ or !~"},
	{"SELECT * FROM c WHERE s =~ 'a'", "1:28", "=~ needs a regular expression"},
	{"SELECT * FROM c WHERE s !~ 1", "1:28", "!~ needs a regular expression"},
	{"SELECT * FROM c WHERE s # 1", "1:25", `unexpected character "#"`},
	{"SELECT * FROM c WHERE s ! 1", "1:25", `unexpected character "!"`},
	{"SELECT * FROM c WHERE s == 1", "1:26", `unexpected "=", expected a value`},
	{"SELECT avgg(v) FROM c", "1:8", `unknown function "avgg" (known: count, sum, avg, mean, min, max, first, last, spread, stddev, percentile, median, mode, derivative`},
	{"SELECT v, now(v) FROM c", "1:11", `unknown function "now"`},
	{"SELECT count(*) AS n FROM c", "1:20", "count(*) cannot have an alias"},
	{"SELECT count() FROM c", "1:14", `unexpected ")", expected a field name`},
	{"SELECT percentile(v) FROM c", "1:8", "percentile needs two arguments"},
	{"SELECT percentile(v, 101) FROM c", "1:22", "percentile must be between 0 and 100"},
	{"SELECT percentile(v, -1) FROM c", "1:22", "percentile must be between 0 and 100"},
	{"SELECT sum(v, 2) FROM c", "1:15", "sum takes one argument"},
	{"SELECT * AS a FROM c", "1:13", "* cannot have an alias"},
	{"SELECT * FROM c WHERE", "1:22", "unexpected end of input, expected a condition"},
	{"SELECT * FROM c WHERE a", "1:24", `expected "BETWEEN", "IN" or a comparison operator`},
	{"SELECT * FROM c WHERE a =", "1:26", "unexpected end of input, expected a value"},
	{"SELECT * FROM c WHERE a = 1 AND", "1:32", "expected a condition"},
	{"SELECT * FROM c WHERE (a = 1", "1:29", `unexpected end of input, expected ")"`},
	{"SELECT * FROM c WHERE a IN ()", "1:29", `unexpected ")", expected a value`},
	{"SELECT * FROM c WHERE a NOT = 1", "1:29", `unexpected "=", expected "IN"`},
	{"SELECT * FROM c WHERE a BETWEEN 1 OR 2", "1:35", `unexpected "OR", expected "AND"`},
	{"SELECT * FROM c WHERE a = now", "1:30", `unexpected end of input, expected "("`},
	{"SELECT * FROM c WHERE a = 9223372036854775808", "1:27", "integer 9223372036854775808 out of range"},
	{"SELECT * FROM c WHERE a = -9223372036854775809", "1:27", "integer -9223372036854775809 out of range"},
	{"SELECT * FROM c WHERE a = 1e400", "1:27", "number 1e400 out of range"},
	{"SELECT * FROM c WHERE a = 30days", "1:27", `bad number or duration "30days"`},
	{"SELECT * FROM c WHERE a = 1.5.2", "1:30", `unexpected ".2" after end of statement`},
	{"SELECT * FROM c WHERE a = 1d", "1:27", `unexpected "1d", expected a value`},
	{"SELECT * FROM c WHERE time > now() - 0d", "1:38", "duration 0d is zero"},
	{"SELECT * FROM c WHERE time > now() - 5", "1:38", `unexpected "5", expected a duration`},
	{"SELECT * FROM c WHERE time > now() - 99999999999999999999s", "1:38", "out of range"},
	{"SELECT * FROM c WHERE time > now() - 9999999999999d", "1:38", "duration 9999999999999d out of range"},
	{"SELECT * FROM c WHERE time > 1.5 + 1h", "1:34", "+ 1h can only follow a time"},
	{"SELECT * FROM c WHERE b = true - 1h", "1:32", "- 1h can only follow a time"},
	{"SELECT * FROM c WHERE time > now() 5", "1:36", `unexpected "5" after end of statement`},
	{"SELECT * FROM c GROUP BY", "1:25", "unexpected end of input, expected an interval or tag"},
	{"SELECT * FROM c GROUP BY 1d, host, 1h", "1:36", "GROUP BY has more than one interval"},
	{"SELECT * FROM c GROUP BY time(1d),\n time(2d)", "2:2", "GROUP BY has more than one interval"},
	{"SELECT * FROM c GROUP BY time", "1:26", "GROUP BY time needs an interval"},
	{"SELECT * FROM c GROUP BY time(5)", "1:31", `unexpected "5", expected a duration`},
	{"SELECT * FROM c GROUP BY 0s", "1:26", "duration 0s is zero"},
	{"SELECT * FROM c GROUP BY floor(1h)", "1:26", `unexpected "floor(" in GROUP BY`},
	{"SELECT * FROM c FILL(zero)", "1:22", `unknown fill mode "zero"`},
	{"SELECT * FROM c FILL()", "1:22", `unexpected ")", expected none, null, previous, linear or a number`},
	{"SELECT * FROM c ORDER BY host", "1:26", "ORDER BY supports only time"},
	{"SELECT * FROM c ORDER BY time UP", "1:31", `unexpected "UP" after end of statement`},
	{"SELECT * FROM c LIMIT 0", "1:23", "LIMIT must be an integer >= 1, got 0"},
	{"SELECT * FROM c LIMIT -5", "1:23", "LIMIT must be an integer >= 1, got -5"},
	{"SELECT * FROM c LIMIT 1.5", "1:23", "LIMIT must be an integer >= 1, got 1.5"},
	{"SELECT * FROM c LIMIT", "1:22", "unexpected end of input, expected a number"},
	{"SELECT * FROM c OFFSET -1", "1:24", "OFFSET must be an integer >= 0, got -1"},
	{"SELECT * FROM c LIMIT 1 LIMIT 2", "1:25", `unexpected "LIMIT" after end of statement`},
	{"SELECT * FROM c OFFSET 1 LIMIT 2", "1:26", `unexpected "LIMIT" after end of statement`},
	{"SELECT * FROM c FILL(none) GROUP BY 1h", "1:28", `unexpected "GROUP" after end of statement`},
	{"SELECT * FROM c;;", "1:17", `unexpected ";" after end of statement`},
	{"SELECT * FROM c; SELECT * FROM d", "1:18", `unexpected "SELECT" after end of statement`},
	{`SELECT "" FROM c`, "1:8", "empty quoted identifier"},
	{"SHOW", "1:5", `expected "COLLECTIONS", "MEASUREMENTS", "SERIES", "TAG", "FIELDS" or "FIELD"`},
	{"SHOW SERIES", "1:12", `unexpected end of input, expected "FROM"`},
	{"SHOW TAG KEYS FROM", "1:19", `unexpected end of input, expected a name`},
	{"SHOW TAG VALUES FROM c", "1:23", `expected "WITH"`},
	{"SHOW TAG VALUES FROM c WITH KEY = ''", "1:35", "empty tag key"},
	{"SHOW FIELD FROM c", "1:12", `unexpected "FROM", expected "KEYS"`},
	{"SELECT * FROM c WHERE " + strings.Repeat("(", 65) + "a = 1" + strings.Repeat(")", 65), "1:87", "parentheses nested deeper than 64"},
	{"SELECT * FROM c WHERE a = 'é' AND b ~ 1", "1:38", `unexpected character "~"`},
}

func TestParseErrors(t *testing.T) { checkParseErrors(t, errorTests) }

// checkParseErrors parses each statement of tests and checks its *Error:
// position, message, token and Error()'s text.
func checkParseErrors(t *testing.T, tests []struct{ in, pos, msg string }) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			st, err := Parse(tt.in)
			if err == nil {
				t.Fatalf("Parse(%q) = %s, want error %s: %s", tt.in, st, tt.pos, tt.msg)
			}
			var perr *Error
			if !errors.As(err, &perr) {
				t.Fatalf("Parse(%q) error %v is a %T, want *Error", tt.in, err, err)
			}
			if got := perr.Pos.String(); got != tt.pos || !strings.Contains(perr.Message, tt.msg) {
				t.Errorf("Parse(%q) error\n got: %s: %s\nwant: %s: ...%s...", tt.in, got, perr.Message, tt.pos, tt.msg)
			}
			// The offset and the token agree with the line and column.
			if !strings.HasPrefix(tt.in[perr.Pos.Offset:], perr.Token) {
				t.Errorf("Parse(%q): error token %q is not at offset %d", tt.in, perr.Token, perr.Pos.Offset)
			}
			if err.Error() != perr.Pos.String()+": "+perr.Message {
				t.Errorf("Parse(%q): Error() = %q", tt.in, err.Error())
			}
		})
	}
}

// checkFastAndOracle compares, for each statement of ins, its prefixes
// and 30 mutations (from a generator seeded with seed), the fast path
// with participle and Parse with participle alone on the regexp lexer.
func checkFastAndOracle(t *testing.T, seed uint64, ins []string) {
	t.Helper()
	r := rand.New(rand.NewPCG(16, seed))
	for _, s := range ins {
		for i := 0; i <= len(s); i++ {
			sameParse(t, s[:i])
			sameAsOracle(t, s[:i])
		}
		for range 30 {
			m := mutate(r, s)
			sameParse(t, m)
			sameAsOracle(t, m)
		}
	}
}

func TestString(t *testing.T) {
	for _, tt := range []struct {
		in, want string
	}{
		{"select * from cpu", "SELECT * FROM cpu"},
		{"explain select mean(v) as m, percentile(v, 99.9) from cpu", "EXPLAIN SELECT avg(v) AS m, percentile(v, 99.9) FROM cpu"},
		{`select "select", "a b", "q\"\\" as "AS", time from "x.y"`, `SELECT "select", "a b", "q\"\\" AS "AS", time FROM "x.y"`},
		{"select * from c where s = 'it''s \\\\'", `SELECT * FROM c WHERE s = 'it\'s \\'`},
		{`select * from c where s =~ /a\/b\d/ and t !~ /x/`, `SELECT * FROM c WHERE s =~ /a\/b\d/ AND t !~ /x/`},
		{"select * from c where a = 1 or b = 2 and c = 3", "SELECT * FROM c WHERE a = 1 OR b = 2 AND c = 3"},
		{"select * from c where (a = 1 or b = 2) and c = 3", "SELECT * FROM c WHERE (a = 1 OR b = 2) AND c = 3"},
		{"select * from c where ((a = 1) or (b = 2)) or (c = 3)", "SELECT * FROM c WHERE a = 1 OR b = 2 OR c = 3"},
		{"select * from c where a = 1 or (b = 2 or c = 3)", "SELECT * FROM c WHERE a = 1 OR (b = 2 OR c = 3)"},
		{"select * from c where a = 1 and (b = 2 or c = 3 and d = 4)", "SELECT * FROM c WHERE a = 1 AND (b = 2 OR c = 3 AND d = 4)"},
		{"select * from c where a <> 1.0 and b = -2 and c = 1e21 and d = 1e-7 and e = TRUE", "SELECT * FROM c WHERE a != 1.0 AND b = -2 AND c = 1e+21 AND d = 1e-07 AND e = true"},
		{"select * from c where time > now()-30d and time < '2025-01-01'+1M", "SELECT * FROM c WHERE time > now() - 30d AND time < '2025-01-01' + 1M"},
		{"select * from c where x between 1 and 2 and h not in ('a','b')", "SELECT * FROM c WHERE x BETWEEN 1 AND 2 AND h NOT IN ('a', 'b')"},
		{"select * from c group by host, 1y, \"time\" fill(0)", `SELECT * FROM c GROUP BY time(1y), host, "time" FILL(0)`},
		{"select * from c group by 5µs fill(null) order by time asc", "SELECT * FROM c GROUP BY time(5us)"},
		{"select * from c order by time desc limit 5 offset 0", "SELECT * FROM c ORDER BY time DESC LIMIT 5"},
		{"show tag values from c with key = 'the key'", `SHOW TAG VALUES FROM c WITH KEY = "the key"`},
		{"show field keys from c", "SHOW FIELDS FROM c"},
		{"show tag keys from \"c\"", "SHOW TAG KEYS FROM c"},
		{"show collections", "SHOW COLLECTIONS"},
		{"delete from cpu;", "DELETE FROM cpu"},
		{`delete from "a b" where (host = 'x' or host = 'y') and time >= '2025-01-01' and time < now()-1h`,
			`DELETE FROM "a b" WHERE (host = 'x' OR host = 'y') AND time >= '2025-01-01' AND time < now() - 1h`},
		{`delete from "from" where "select" in ('a')`, `DELETE FROM "from" WHERE "select" IN ('a')`},
	} {
		st, err := Parse(tt.in)
		if err != nil {
			t.Errorf("Parse(%q) error: %v", tt.in, err)
			continue
		}
		if got := st.String(); got != tt.want {
			t.Errorf("Parse(%q).String()\n got: %s\nwant: %s", tt.in, got, tt.want)
		}
	}
}

// TestRoundTrip checks that printing and parsing again gives the same tree
// for every valid query of the tests.
func TestRoundTrip(t *testing.T) {
	for _, tt := range parseTests {
		checkRoundTrip(t, tt.in)
	}
}

// checkRoundTrip parses in, prints it, parses the text again and compares the
// trees without positions. Inputs that do not parse are ignored.
func checkRoundTrip(t *testing.T, in string) {
	t.Helper()
	first, err := Parse(in)
	if err != nil {
		return
	}
	text := first.String()
	second, err := Parse(text)
	if err != nil {
		t.Fatalf("Parse(%q) printed as %q, which does not parse: %v", in, text, err)
	}
	stripPos(t, first)
	stripPos(t, second)
	if !reflect.DeepEqual(first, second) {
		t.Fatalf("Parse(%q) printed as %q, which parses differently\n got: %#v\nwant: %#v", in, text, tree(second), tree(first))
	}
}

// tree returns the statement's one set part, for printing with %#v.
func tree(st *Statement) any {
	switch {
	case st.Select != nil:
		return st.Select
	case st.Show != nil:
		return st.Show
	case st.Delete != nil:
		return st.Delete
	}
	return st
}
