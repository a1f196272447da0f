package query

import (
	"strconv"
	"strings"

	"github.com/alecthomas/participle/v2/lexer"
)

// Analytics functions: downsample, anomalies and forecast. Like the
// transformations (fn.go) they take a field, or with a GROUP BY interval an
// inner aggregate (downsample(mean(v), 500)), and return their own rows;
// the planner answers them in planner/analytics.go.
//
//	downsample(f, n [, 'lttb'|'m4'|'minmax'])
//	anomalies(f, 'zscore'|'iqr'|'mad' [, threshold])
//	forecast(agg(f), horizon [, 'linear'|'holt_winters' [, season]])

// Analytics lists the analytics functions, as Item.Func.
var Analytics = []string{"downsample", "anomalies", "forecast"}

// IsAnalytics reports whether fn is one of Analytics.
func IsAnalytics(fn string) bool { return contains(Analytics, fn) }

// Bounds of the analytics functions' arguments.
const (
	// MaxDownsample bounds n in downsample(f, n); MinDownsample is its
	// least value (the first and the last point).
	MinDownsample = 2
	MaxDownsample = 100000
	// MaxHorizon bounds the horizon of forecast and its season length.
	MaxHorizon = 10000
	// MaxThreshold bounds the threshold of anomalies.
	MaxThreshold = 1000000
)

// The methods of each analytics function; the first is the default.
var (
	DownsampleMethods = []string{"lttb", "m4", "minmax"}
	AnomalyMethods    = []string{"zscore", "iqr", "mad"}
	ForecastMethods   = []string{"linear", "holt_winters"}
)

// DefaultThreshold returns the threshold anomalies uses when none is
// written: 3 standard deviations for zscore, k = 1.5 for iqr, 3.5 robust
// standard deviations for mad.
func DefaultThreshold(method string) float64 {
	switch method {
	case "iqr":
		return 1.5
	case "mad":
		return 3.5
	}
	return 3
}

// noMoreArgs refuses the string and third arguments only the analytics
// functions take, in a call of fn.
func (p *parser) noMoreArgs(c *gCall, fn string) error {
	switch {
	case c == nil:
	case c.Str != nil:
		return p.errAt(c.Str.Pos, c.Str.Str, "%s takes no string argument", fn)
	case len(c.More) > 0:
		return p.errAt(c.More[0].Pos, p.text(c.More[0].Pos, ""), "%s takes at most two arguments", fn)
	}
	return nil
}

// analytics converts a call of an analytics function fn.
func (p *parser) analytics(it Item, g *gItem, fn string) (Item, error) {
	c := g.Call
	it.Func = fn
	example := map[string]string{
		"downsample": "downsample(value, 500)",
		"anomalies":  "anomalies(value, 'zscore')",
		"forecast":   "forecast(mean(value), 24)",
	}[fn]
	if c.Star {
		return it, p.errAt(c.Pos, "*", "%s(*) is not supported; name a field, as in %s", fn, example)
	}
	if c.Field == nil || c.Lead != nil || len(c.Ops) > 0 {
		return it, p.errAt(c.Pos, p.text(c.Pos, ""), "%s takes a field name or an aggregate, not an expression", fn)
	}
	name, err := p.ident(c.Field)
	if err != nil {
		return it, err
	}
	it.Field = name
	if c.Sub != nil {
		if err := p.noMoreArgs(c.Sub, name); err != nil {
			return it, err
		}
		if it, err = p.innerCall(it, c, name); err != nil {
			return it, err
		}
	}
	if c.Dur != nil {
		return it, p.errAt(c.Dur.Pos, c.Dur.Text, "%s takes no duration argument; write it as in %s", fn, example)
	}
	more := c.More
	switch fn {
	case "downsample", "forecast":
		if c.Arg == nil {
			return it, p.errAt(g.Name.Pos, p.text(g.Name.Pos, fn), "%s needs an integer second argument, as in %s", fn, example)
		}
		lo, hi, what := int64(MinDownsample), int64(MaxDownsample), "n"
		if fn == "forecast" {
			lo, hi, what = 1, MaxHorizon, "the horizon"
		}
		text := c.Arg.text()
		n, err := strconv.ParseInt(text, 10, 64)
		if err != nil || n < lo || n > hi {
			return it, p.errAt(c.Arg.Pos, p.text(c.Arg.Pos, text), "%s of %s must be an integer between %d and %d, got %s", what, fn, lo, hi, text)
		}
		it.N = n
		methods := DownsampleMethods
		if fn == "forecast" {
			methods = ForecastMethods
		}
		it.Method = methods[0]
		if len(more) > 0 {
			m := more[0]
			if m.Str == nil {
				return it, p.errAt(m.Pos, p.text(m.Pos, ""), "the third argument of %s is a method: one of %s", fn, quoteList(methods))
			}
			if it.Method, err = p.method(m.Pos, *m.Str, fn, methods); err != nil {
				return it, err
			}
			more = more[1:]
		}
		if fn == "forecast" && len(more) > 0 && it.Method == "holt_winters" {
			m := more[0]
			text := ""
			if m.Num != nil {
				text = m.Num.text()
			}
			s, err := strconv.ParseInt(text, 10, 64)
			if m.Num == nil || err != nil || s < 2 || s > MaxHorizon {
				return it, p.errAt(m.Pos, p.text(m.Pos, text), "the season length of forecast must be an integer between 2 and %d, got %s", MaxHorizon, p.text(m.Pos, text))
			}
			f := float64(s)
			it.Param = &f
			more = more[1:]
		}
	case "anomalies":
		if c.Str == nil {
			return it, p.errAt(g.Name.Pos, p.text(g.Name.Pos, fn), "anomalies needs a method, one of %s, as in %s", quoteList(AnomalyMethods), example)
		}
		if it.Method, err = p.method(c.Str.Pos, c.Str.Str, fn, AnomalyMethods); err != nil {
			return it, err
		}
		if len(more) > 0 {
			m := more[0]
			if m.Num == nil {
				return it, p.errAt(m.Pos, p.text(m.Pos, ""), "the threshold of anomalies is a number, as in anomalies(value, 'zscore', 3)")
			}
			v, err := p.number(m.Num)
			if err != nil {
				return it, err
			}
			if !(v > 0 && v <= MaxThreshold) {
				return it, p.errAt(m.Pos, p.text(m.Pos, ""), "the threshold of anomalies must be above 0 and at most %s, got %s", strconv.Itoa(MaxThreshold), m.Num.text())
			}
			it.Param = &v
			more = more[1:]
		}
	}
	if c.Arg != nil && fn == "anomalies" {
		return it, p.errAt(c.Arg.Pos, p.text(c.Arg.Pos, ""), "the second argument of anomalies is a method: one of %s", quoteList(AnomalyMethods))
	}
	if c.Str != nil && fn != "anomalies" {
		return it, p.errAt(c.Str.Pos, c.Str.Str, "the second argument of %s is an integer, as in %s", fn, example)
	}
	if len(more) > 0 {
		return it, p.errAt(more[0].Pos, p.text(more[0].Pos, ""), "too many arguments to %s", fn)
	}
	return it, nil
}

// method checks a method name (a quoted string as written).
func (p *parser) method(pos lexer.Position, quoted, fn string, methods []string) (string, error) {
	m := strings.ToLower(unquoteString(quoted))
	if !contains(methods, m) {
		return "", p.errAt(pos, quoted, "unknown method %q of %s (known: %s)", unquoteString(quoted), fn, quoteList(methods))
	}
	return m, nil
}

func quoteList(list []string) string {
	q := make([]string, len(list))
	for i, s := range list {
		q[i] = "'" + s + "'"
	}
	return strings.Join(q, ", ")
}

// analyticsText prints the arguments after the first of an analytics call:
// the defaults are printed too, so the text says what runs.
func (it Item) analyticsText() string {
	var b strings.Builder
	switch it.Func {
	case "downsample", "forecast":
		b.WriteString(", " + strconv.FormatInt(it.N, 10) + ", " + quoteString(it.Method))
		if it.Param != nil {
			b.WriteString(", " + formatFloat(*it.Param))
		}
	case "anomalies":
		b.WriteString(", " + quoteString(it.Method))
		if it.Param != nil {
			b.WriteString(", " + formatFloat(*it.Param))
		}
	}
	return b.String()
}
