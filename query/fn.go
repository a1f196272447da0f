package query

import (
	"strconv"
	"strings"
)

// Transformations and selectors: functions whose rows are not one per
// bucket. A transformation (derivative, difference, rate, moving_average,
// cumulative_sum, elapsed, integral and the non_negative_ forms) turns the
// points of each series, or with a GROUP BY interval the buckets of an
// inner aggregate (derivative(mean(v), 1s)), into new points; a selector
// (top, bottom, distinct, sample) picks some of the points. median and
// mode are plain aggregates (Aggregates), listed here only because they
// came with these. The planner answers them in planner/transform.go and
// planner/select_fn.go.

// Transformations lists the transformation functions, as Item.Func.
var Transformations = []string{
	"derivative", "non_negative_derivative", "difference", "non_negative_difference",
	"rate", "moving_average", "cumulative_sum", "elapsed", "integral",
}

// Selectors lists the selector functions, as Item.Func.
var Selectors = []string{"top", "bottom", "distinct", "sample"}

// functionNames names Transformations and Selectors in messages.
const functionNames = "derivative, non_negative_derivative, difference, non_negative_difference, rate, moving_average, cumulative_sum, elapsed, integral, top, bottom, distinct, sample"

// MaxN bounds the integer argument of moving_average, top, bottom and
// sample.
const MaxN = 10000

// IsTransformation reports whether fn is one of Transformations.
func IsTransformation(fn string) bool { return contains(Transformations, fn) }

// IsSelector reports whether fn is one of Selectors.
func IsSelector(fn string) bool { return contains(Selectors, fn) }

// IsFunction reports whether fn is a transformation, a selector or an
// analytics function (analytics.go).
func IsFunction(fn string) bool { return IsTransformation(fn) || IsSelector(fn) || IsAnalytics(fn) }

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// argKind says what a function takes after its field.
type argKind int

const (
	argNone argKind = iota // f(field)
	argUnit                // f(field[, duration])
	argN                   // f(field, n)
)

func functionArg(fn string) argKind {
	switch fn {
	case "derivative", "non_negative_derivative", "rate", "elapsed", "integral":
		return argUnit
	case "moving_average", "top", "bottom", "sample":
		return argN
	}
	return argNone
}

// DefaultUnit returns the unit of a function taking one when none is
// written: 1ns for elapsed, 1s for the others.
func DefaultUnit(fn string) Duration {
	if fn == "elapsed" {
		return Duration{N: 1, Unit: Nanosecond}
	}
	return Duration{N: 1, Unit: Second}
}

// callText prints a transformation or selector call, quoting names with q.
func (it Item) callText(q func(string) string) string {
	arg := q(it.Field)
	if it.Inner != "" {
		if it.Inner == "percentile" {
			arg = "percentile(" + arg + ", " + formatFloat(it.InnerArg) + ")"
		} else {
			arg = it.Inner + "(" + arg + ")"
		}
	}
	var b strings.Builder
	b.WriteString(it.Func + "(" + arg)
	switch {
	case IsAnalytics(it.Func):
		b.WriteString(it.analyticsText())
	case it.Unit != nil:
		b.WriteString(", " + it.Unit.String())
	case functionArg(it.Func) == argN:
		b.WriteString(", " + strconv.FormatInt(it.N, 10))
	}
	b.WriteString(")")
	return b.String()
}

// plainCall refuses the forms only transformations and selectors take (a
// nested call, a duration argument) in a call of aggregate fn.
func (p *parser) plainCall(g *gItem, fn string) error {
	c := g.Call
	switch {
	case c.Sub != nil:
		return p.errAt(c.Pos, p.text(c.Pos, ""), "%s takes a field name, not an expression (only transformations nest an aggregate)", fn)
	case c.Dur != nil:
		return p.errAt(c.Dur.Pos, c.Dur.Text, "%s takes no duration argument", fn)
	}
	return p.noMoreArgs(c, fn)
}

// function converts a call of a transformation or selector fn.
func (p *parser) function(it Item, g *gItem, fn string) (Item, error) {
	c := g.Call
	if IsAnalytics(fn) {
		return p.analytics(it, g, fn)
	}
	it.Func = fn
	if err := p.noMoreArgs(c, fn); err != nil {
		return it, err
	}
	if c.Sub != nil {
		if err := p.noMoreArgs(c.Sub, p.text(c.Field.Pos, fn)); err != nil {
			return it, err
		}
	}
	if c.Star {
		return it, p.errAt(c.Pos, "*", "%s(*) is not supported; name a field, as in %s(value)", fn, fn)
	}
	if c.Field == nil || c.Lead != nil || len(c.Ops) > 0 {
		return it, p.errAt(c.Pos, p.text(c.Pos, ""), "%s takes a field name, not an expression", fn)
	}
	name, err := p.ident(c.Field)
	if err != nil {
		return it, err
	}
	it.Field = name
	if ic := c.Sub; ic != nil {
		if !IsTransformation(fn) {
			return it, p.errAt(c.Pos, p.text(c.Pos, ""), "%s takes a field, not a function call", fn)
		}
		if it, err = p.innerCall(it, c, name); err != nil {
			return it, err
		}
	}
	switch functionArg(fn) {
	case argUnit:
		if c.Arg != nil {
			return it, p.errAt(c.Arg.Pos, p.text(c.Arg.Pos, ""), "the second argument of %s is a duration such as 1s", fn)
		}
		if c.Dur != nil {
			d, err := p.duration(c.Dur)
			if err != nil {
				return it, err
			}
			if d.Calendar() {
				return it, p.errAt(c.Dur.Pos, c.Dur.Text, "%s needs a fixed unit (ns to w), not %s", fn, c.Dur.Text)
			}
			it.Unit = &d
		}
	case argN:
		if c.Dur != nil {
			return it, p.errAt(c.Dur.Pos, c.Dur.Text, "the second argument of %s is an integer, not a duration", fn)
		}
		if c.Arg == nil {
			return it, p.errAt(g.Name.Pos, p.text(g.Name.Pos, fn), "%s needs two arguments, as in %s(value, 3)", fn, fn)
		}
		text := c.Arg.text()
		n, err := strconv.ParseInt(text, 10, 64)
		if err != nil || n < 1 || n > MaxN {
			return it, p.errAt(c.Arg.Pos, p.text(c.Arg.Pos, text), "%s needs an integer between 1 and %d, got %s", fn, MaxN, text)
		}
		it.N = n
	default:
		if c.Arg != nil {
			return it, p.errAt(c.Arg.Pos, p.text(c.Arg.Pos, ""), "%s takes one argument", fn)
		}
		if c.Dur != nil {
			return it, p.errAt(c.Dur.Pos, c.Dur.Text, "%s takes one argument", fn)
		}
	}
	return it, nil
}

// innerCall converts the inner aggregate of derivative(mean(v), 1s); name
// is the inner function as written.
func (p *parser) innerCall(it Item, c *gCall, name string) (Item, error) {
	ic := c.Sub
	inner := strings.ToLower(name)
	if inner == "mean" {
		inner = "avg"
	}
	if !contains(Aggregates, inner) {
		return it, p.errAt(c.Field.Pos, p.text(c.Field.Pos, name), "unknown aggregate %q inside %s (known: count, sum, avg, mean, min, max, first, last, spread, stddev, percentile, median, mode)", name, it.Func)
	}
	switch {
	case ic.Star:
		return it, p.errAt(ic.Pos, "*", "%s(*) is not supported; name a field, as in %s(value)", inner, inner)
	case ic.Sub != nil:
		return it, p.errAt(ic.Pos, p.text(ic.Pos, ""), "%s takes a field, not a function call", inner)
	case ic.Field == nil || ic.Lead != nil || len(ic.Ops) > 0:
		return it, p.errAt(ic.Pos, p.text(ic.Pos, ""), "%s takes a field name, not an expression", inner)
	case ic.Dur != nil:
		return it, p.errAt(ic.Dur.Pos, ic.Dur.Text, "%s takes no duration argument", inner)
	case inner == "percentile" && ic.Arg == nil:
		return it, p.errAt(c.Field.Pos, p.text(c.Field.Pos, name), "percentile needs two arguments, as in percentile(value, 95)")
	case inner != "percentile" && ic.Arg != nil:
		return it, p.errAt(ic.Arg.Pos, p.text(ic.Arg.Pos, ""), "%s takes one argument", inner)
	}
	field, err := p.ident(ic.Field)
	if err != nil {
		return it, err
	}
	if ic.Arg != nil {
		v, err := p.number(ic.Arg)
		if err != nil {
			return it, err
		}
		if !(v >= 0 && v <= 100) {
			return it, p.errAt(ic.Arg.Pos, p.text(ic.Arg.Pos, ""), "percentile must be between 0 and 100, got %s", formatFloat(v))
		}
		it.InnerArg = v
	}
	it.Field, it.Inner = field, inner
	return it, nil
}
