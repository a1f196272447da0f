package query

import (
	"reflect"
	"testing"
)

// fnParseTests are the transformations, selectors, median and mode: what
// they parse to. TestFnParse also prints each back (TestRoundTrip's check)
// and FuzzParse starts from them.
var fnParseTests = []struct {
	in   string
	want Item
	name string // Item.Name
}{
	{"SELECT derivative(v, 1s) FROM c", Item{Func: "derivative", Field: "v", Unit: dur(1, Second)}, "derivative(v, 1s)"},
	{"SELECT derivative(v) FROM c", Item{Func: "derivative", Field: "v"}, "derivative(v)"},
	{"SELECT NON_NEGATIVE_DERIVATIVE(c, 1m) FROM c", Item{Func: "non_negative_derivative", Field: "c", Unit: dur(1, Minute)}, "non_negative_derivative(c, 1m)"},
	{"SELECT derivative(mean(v), 1s) FROM c GROUP BY 1m", Item{Func: "derivative", Inner: "avg", Field: "v", Unit: dur(1, Second)}, "derivative(avg(v), 1s)"},
	{"SELECT difference(max(v)) FROM c GROUP BY 1h", Item{Func: "difference", Inner: "max", Field: "v"}, "difference(max(v))"},
	{"SELECT rate(percentile(v, 99.5), 1h) FROM c GROUP BY 1d", Item{Func: "rate", Inner: "percentile", InnerArg: 99.5, Field: "v", Unit: dur(1, Hour)}, "rate(percentile(v, 99.5), 1h)"},
	{"SELECT difference(v) AS d FROM c", Item{Func: "difference", Field: "v", Alias: "d"}, "d"},
	{"SELECT non_negative_difference(v) FROM c", Item{Func: "non_negative_difference", Field: "v"}, "non_negative_difference(v)"},
	{"SELECT rate(bytes) FROM c", Item{Func: "rate", Field: "bytes"}, "rate(bytes)"},
	{"SELECT moving_average(v, 3) FROM c", Item{Func: "moving_average", Field: "v", N: 3}, "moving_average(v, 3)"},
	{"SELECT moving_average(median(v), 10000) FROM c GROUP BY 1h", Item{Func: "moving_average", Inner: "median", Field: "v", N: 10000}, "moving_average(median(v), 10000)"},
	{"SELECT cumulative_sum(v) FROM c", Item{Func: "cumulative_sum", Field: "v"}, "cumulative_sum(v)"},
	{"SELECT elapsed(v, 1ms) FROM c", Item{Func: "elapsed", Field: "v", Unit: dur(1, Millisecond)}, "elapsed(v, 1ms)"},
	{"SELECT integral(\"a b\", 2h) FROM c", Item{Func: "integral", Field: "a b", Unit: dur(2, Hour)}, "integral(a b, 2h)"},
	{"SELECT top(v, 3) FROM c", Item{Func: "top", Field: "v", N: 3}, "top(v, 3)"},
	{"SELECT bottom(v, 1) FROM c GROUP BY 1h, host", Item{Func: "bottom", Field: "v", N: 1}, "bottom(v, 1)"},
	{"SELECT distinct(site) FROM c", Item{Func: "distinct", Field: "site"}, "distinct(site)"},
	{"SELECT sample(v, 5) FROM c", Item{Func: "sample", Field: "v", N: 5}, "sample(v, 5)"},
	{"SELECT median(v), mode(v) FROM c", Item{Func: "median", Field: "v"}, "median(v)"},
}

func TestFnParse(t *testing.T) {
	for _, tt := range fnParseTests {
		t.Run(tt.in, func(t *testing.T) {
			st, err := Parse(tt.in)
			if err != nil {
				t.Fatalf("Parse(%q) error: %v", tt.in, err)
			}
			stripPos(t, st)
			got := st.Select.Items[0]
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Parse(%q) item\n got: %#v\nwant: %#v", tt.in, got, tt.want)
			}
			if got.Name() != tt.name {
				t.Errorf("Parse(%q) item name %q, want %q", tt.in, got.Name(), tt.name)
			}
			checkRoundTrip(t, tt.in)
		})
	}
}

// fnErrorTests are the mistakes the parser names, with where.
var fnErrorTests = []struct {
	in, pos, msg string
}{
	{"SELECT derivative(v, 1M) FROM c", "1:22", "derivative needs a fixed unit (ns to w), not 1M"},
	{"SELECT derivative(v, 3) FROM c", "1:22", "the second argument of derivative is a duration such as 1s"},
	{"SELECT derivative(v, 0s) FROM c", "1:22", "duration 0s is zero"},
	{"SELECT top(v) FROM c", "1:8", "top needs two arguments, as in top(value, 3)"},
	{"SELECT top(v, 0) FROM c", "1:15", "top needs an integer between 1 and 10000, got 0"},
	{"SELECT sample(v, 10001) FROM c", "1:18", "sample needs an integer between 1 and 10000, got 10001"},
	{"SELECT moving_average(v, 2.5) FROM c", "1:26", "moving_average needs an integer between 1 and 10000, got 2.5"},
	{"SELECT moving_average(v, -1) FROM c", "1:26", "got -1"},
	{"SELECT top(v, 1s) FROM c", "1:15", "the second argument of top is an integer, not a duration"},
	{"SELECT top(max(v), 2) FROM c", "1:12", "top takes a field, not a function call"},
	{"SELECT distinct(v, 2) FROM c", "1:20", "distinct takes one argument"},
	{"SELECT cumulative_sum(v, 1s) FROM c", "1:26", "cumulative_sum takes one argument"},
	{"SELECT derivative(*) FROM c", "1:19", "derivative(*) is not supported"},
	{"SELECT derivative(foo(v)) FROM c", "1:19", `unknown aggregate "foo" inside derivative`},
	{"SELECT derivative(max(min(v))) FROM c", "1:23", "max takes a field, not a function call"},
	{"SELECT derivative(max(v, 1)) FROM c", "1:26", "max takes one argument"},
	{"SELECT derivative(percentile(v)) FROM c", "1:19", "percentile needs two arguments"},
	{"SELECT derivative(percentile(v, 101)) FROM c", "1:33", "percentile must be between 0 and 100"},
	{"SELECT derivative(max(*)) FROM c", "1:23", "max(*) is not supported"},
	{"SELECT max(min(v)) FROM c", "1:12", "max takes a field name, not an expression"},
	{"SELECT max(v, 1s) FROM c", "1:15", "max takes no duration argument"},
	{"SELECT derivative(mean(v) FROM c", "1:27", `unexpected "FROM"`},
}

func TestFnParseErrors(t *testing.T) { checkParseErrors(t, fnErrorTests) }

// TestFnFastParseAndOracle compares, for the transformation and selector
// statements, their prefixes and mutations, the fast path with participle
// and Parse with participle alone on the regexp lexer.
func TestFnFastParseAndOracle(t *testing.T) {
	var ins []string
	for _, tt := range fnParseTests {
		ins = append(ins, tt.in)
	}
	for _, tt := range fnErrorTests {
		ins = append(ins, tt.in)
	}
	checkFastAndOracle(t, 1, ins)
}
