package planner

import (
	"math"

	"github.com/soltixdb/soltix/internal/timex"
	"github.com/soltixdb/soltix/query"
)

// Time conditions of WHERE: literals evaluated as bounds or values, and the
// interval of times a comparison accepts.

// timeBound evaluates a literal compared with time as a bound: its base must
// be a time, and offsets that leave the int64 range saturate (fit false, t
// math.MinInt64 or math.MaxInt64 telling which end).
func (c *compiler) timeBound(l query.Literal, pos query.Pos) (t int64, fit bool, err error) {
	pos = litPos(l, pos)
	switch l.Kind {
	case query.LitNow, query.LitInteger:
	case query.LitString:
		if _, err := query.ParseTime(l.Str); err != nil {
			return 0, false, errorf(pos, "%s", err.Error())
		}
	default:
		return 0, false, errorf(pos, "time must be compared with now(), an RFC 3339 string or integer nanoseconds")
	}
	t, fit, err = l.Bound(c.now)
	if err != nil {
		return 0, false, errorf(pos, "%s", err.Error())
	}
	return t, fit, nil
}

// timeOf evaluates a literal used as a time value (=, != and IN), which
// must lie in the int64 range.
func (c *compiler) timeOf(l query.Literal, pos query.Pos) (int64, error) {
	t, fit, err := c.timeBound(l, pos)
	if err == nil && !fit {
		err = errorf(litPos(l, pos), "time %s is %s", l, timex.RangeText)
	}
	return t, err
}

// saturatedOp rewrites `time op t`, where t is a bound saturated at an end
// of the int64 range because the true bound lies beyond it, into an
// equivalent comparison with that end: nothing is below a bound under the
// range, everything is below one above it.
func saturatedOp(op string, t int64, fit bool) string {
	switch {
	case fit:
		return op
	case t == math.MinInt64 && (op == "<" || op == "<="):
		return "<" // empty
	case t == math.MinInt64:
		return ">=" // everything
	case op == ">" || op == ">=":
		return ">" // t is math.MaxInt64: empty
	}
	return "<=" // everything
}

// timeSpan returns the interval of times `time op t` accepts (its hull for
// !=) and whether the condition accepts exactly that interval.
func timeSpan(op string, t int64) (interval, bool) {
	switch op {
	case "=":
		return interval{lo: t, hi: t}, true
	case ">":
		if t == math.MaxInt64 {
			return interval{empty: true}, true
		}
		return interval{lo: t + 1, hi: math.MaxInt64}, true
	case ">=":
		return interval{lo: t, hi: math.MaxInt64}, true
	case "<":
		if t == math.MinInt64 {
			return interval{empty: true}, true
		}
		return interval{lo: math.MinInt64, hi: t - 1}, true
	case "<=":
		return interval{lo: math.MinInt64, hi: t}, true
	}
	return fullRange, false
}
