package query

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func fptr(f float64) *float64 { return &f }

// analyticsParseTests are the analytics functions: what they parse to and
// their column names (defaults printed). FuzzParse starts from them.
var analyticsParseTests = []struct {
	in   string
	want Item
	name string
}{
	{"SELECT downsample(v, 500) FROM c", Item{Func: "downsample", Field: "v", N: 500, Method: "lttb"}, "downsample(v, 500, 'lttb')"},
	{"SELECT downsample(v, 2, 'M4') FROM c", Item{Func: "downsample", Field: "v", N: 2, Method: "m4"}, "downsample(v, 2, 'm4')"},
	{"SELECT DOWNSAMPLE(v, 100000, 'minmax') AS d FROM c", Item{Func: "downsample", Field: "v", N: 100000, Method: "minmax", Alias: "d"}, "d"},
	{"SELECT downsample(mean(v), 50) FROM c GROUP BY 1h", Item{Func: "downsample", Inner: "avg", Field: "v", N: 50, Method: "lttb"}, "downsample(avg(v), 50, 'lttb')"},
	{"SELECT anomalies(v, 'zscore') FROM c", Item{Func: "anomalies", Field: "v", Method: "zscore"}, "anomalies(v, 'zscore')"},
	{"SELECT anomalies(v, 'IQR', 2.5) FROM c", Item{Func: "anomalies", Field: "v", Method: "iqr", Param: fptr(2.5)}, "anomalies(v, 'iqr', 2.5)"},
	{"SELECT anomalies(max(v), 'mad') FROM c GROUP BY 1h", Item{Func: "anomalies", Inner: "max", Field: "v", Method: "mad"}, "anomalies(max(v), 'mad')"},
	{"SELECT forecast(mean(v), 24) FROM c GROUP BY 1h", Item{Func: "forecast", Inner: "avg", Field: "v", N: 24, Method: "linear"}, "forecast(avg(v), 24, 'linear')"},
	{"SELECT forecast(sum(v), 10000, 'holt_winters') FROM c GROUP BY 1d", Item{Func: "forecast", Inner: "sum", Field: "v", N: 10000, Method: "holt_winters"}, "forecast(sum(v), 10000, 'holt_winters')"},
	{"SELECT forecast(mean(v), 3, 'holt_winters', 24) FROM c GROUP BY 1h", Item{Func: "forecast", Inner: "avg", Field: "v", N: 3, Method: "holt_winters", Param: fptr(24)}, "forecast(avg(v), 3, 'holt_winters', 24)"},
}

// analyticsErrorTests are the mistakes the parser names, with where.
var analyticsErrorTests = []struct {
	in, pos, msg string
}{
	{"SELECT downsample(v) FROM c", "1:8", "downsample needs an integer second argument"},
	{"SELECT downsample(v, 1) FROM c", "1:22", "n of downsample must be an integer between 2 and 100000, got 1"},
	{"SELECT downsample(v, 100001) FROM c", "1:22", "between 2 and 100000"},
	{"SELECT downsample(v, 2.5) FROM c", "1:22", "got 2.5"},
	{"SELECT downsample(v, 10, 'fast') FROM c", "1:26", `unknown method "fast" of downsample (known: 'lttb', 'm4', 'minmax')`},
	{"SELECT downsample(v, 10, 3) FROM c", "1:26", "the third argument of downsample is a method"},
	{"SELECT downsample(v, 'lttb') FROM c", "1:8", "downsample needs an integer second argument"},
	{"SELECT downsample(v, 10, 'lttb', 3) FROM c", "1:34", "too many arguments to downsample"},
	{"SELECT downsample(v, 1s) FROM c", "1:22", "downsample takes no duration argument"},
	{"SELECT downsample(*, 10) FROM c", "1:19", "downsample(*) is not supported"},
	{"SELECT downsample(v + 1, 10) FROM c", "1:19", "takes a field name or an aggregate, not an expression"},
	{"SELECT anomalies(v) FROM c", "1:8", "anomalies needs a method, one of 'zscore', 'iqr', 'mad'"},
	{"SELECT anomalies(v, 'sigma') FROM c", "1:21", `unknown method "sigma" of anomalies`},
	{"SELECT anomalies(v, 'zscore', 0) FROM c", "1:31", "the threshold of anomalies must be above 0 and at most 1000000, got 0"},
	{"SELECT anomalies(v, 'zscore', -1) FROM c", "1:31", "got -1"},
	{"SELECT anomalies(v, 'zscore', 'x') FROM c", "1:31", "the threshold of anomalies is a number"},
	{"SELECT forecast(mean(v)) FROM c GROUP BY 1h", "1:8", "forecast needs an integer second argument"},
	{"SELECT forecast(mean(v), 10001) FROM c GROUP BY 1h", "1:26", "the horizon of forecast must be an integer between 1 and 10000, got 10001"},
	{"SELECT forecast(mean(v), 5, 'arima') FROM c GROUP BY 1h", "1:29", `unknown method "arima" of forecast (known: 'linear', 'holt_winters')`},
	{"SELECT forecast(mean(v), 5, 'holt_winters', 1) FROM c GROUP BY 1h", "1:45", "season length of forecast must be an integer between 2 and 10000, got 1"},
	{"SELECT forecast(mean(v), 5, 'linear', 4) FROM c GROUP BY 1h", "1:39", "too many arguments to forecast"},
	{"SELECT forecast(mean(v, 'x'), 5) FROM c GROUP BY 1h", "1:25", "mean takes no string argument"},
	{"SELECT max(v, 'x') FROM c", "1:15", "max takes no string argument"},
	{"SELECT max(v, 1, 2) FROM c", "1:18", "max takes at most two arguments"},
	{"SELECT derivative(v, 1s, 'x') FROM c", "1:26", "derivative takes at most two arguments"},
	{"SELECT top(v, 'x') FROM c", "1:15", "top takes no string argument"},
	{"SELECT abs(v, 'x') FROM c", "1:15", "abs takes no string argument"},
	{"SELECT max(v) - min(v, 'x') FROM c", "1:24", "min takes no string argument"},
}

func TestAnalyticsParse(t *testing.T) {
	for _, tt := range analyticsParseTests {
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

func TestAnalyticsParseErrors(t *testing.T) { checkParseErrors(t, analyticsErrorTests) }

// TestAnalyticsFastParseAndOracle compares, for the analytics statements,
// their prefixes and mutations, the fast path with participle and Parse
// with participle alone on the regexp lexer.
func TestAnalyticsFastParseAndOracle(t *testing.T) {
	var ins []string
	for _, tt := range analyticsParseTests {
		ins = append(ins, tt.in)
	}
	for _, tt := range analyticsErrorTests {
		ins = append(ins, tt.in)
	}
	checkFastAndOracle(t, 2, ins)
}

// TestInnerCallExpression: an expression inside the inner aggregate of a
// nested call is an error, not a crash.
func TestInnerCallExpression(t *testing.T) {
	for _, in := range []string{
		"SELECT derivative(mean(-v)) FROM c GROUP BY 1h",
		"SELECT derivative(mean(v + 1)) FROM c GROUP BY 1h",
		"SELECT downsample(mean(-v), 10) FROM c GROUP BY 1h",
	} {
		var perr *Error
		if _, err := Parse(in); !errors.As(err, &perr) || !strings.Contains(perr.Message, "takes a field name, not an expression") {
			t.Errorf("Parse(%q) error %v, want takes a field name, not an expression", in, err)
		}
	}
}
