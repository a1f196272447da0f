package planner

import (
	"cmp"
	"math"
	"slices"
	"strings"

	"github.com/soltixdb/soltix/model"
)

// median and mode: aggregates that need every value of a bucket, so that
// summaries (block statistics, rollups) cannot answer them and the plan
// reads their columns as raw values (summarised is false for them; EXPLAIN
// shows raw segments). The values they keep are bounded by the points a
// query may read (Options.MaxPoints), as percentile's are.

// medianAgg keeps the values of a numeric field. The median of an odd
// number of values is the middle one, of an even number the mean of the
// two middle ones; the result is a float either way (as InfluxQL's).
type medianAgg struct {
	f []float64
}

func (a *medianAgg) add(c *model.Column, i int, _ int64, _ int) {
	if v, ok := c.Value(i).AsFloat(); ok {
		a.f = append(a.f, v)
	}
}

func (a *medianAgg) result() model.Value {
	return medianOf(a.f)
}

// medianOf sorts vs and returns their median, null for none. A NaN sorts
// first (slices.Sort's order for floats).
func medianOf(vs []float64) model.Value {
	n := len(vs)
	if n == 0 {
		return model.Null
	}
	slices.Sort(vs)
	if n%2 == 1 {
		return model.Float(vs[n/2])
	}
	a, b := vs[n/2-1], vs[n/2]
	return model.Float(a + (b-a)/2)
}

// modeAgg counts the values of a field of any kind and returns the most
// frequent, the smallest of those tied (valueCompare's order). Floats
// count -0 as +0.
type modeAgg struct {
	n map[model.Value]int64
}

func (a *modeAgg) add(c *model.Column, i int, _ int64, _ int) {
	v := c.Value(i)
	if v.Kind == model.KindFloat && v.Float() == 0 {
		v = model.Float(0)
	}
	if a.n == nil {
		a.n = map[model.Value]int64{}
	}
	a.n[v]++
}

func (a *modeAgg) result() model.Value {
	best, bestN := model.Null, int64(0)
	for v, n := range a.n {
		if n > bestN || (n == bestN && valueCompare(v, best) < 0) {
			best, bestN = v, n
		}
	}
	return best
}

// valueCompare orders two values of one kind: numbers by value (NaN
// first), strings bytewise, false before true. Values of different kinds
// order by kind.
func valueCompare(a, b model.Value) int {
	if a.Kind != b.Kind {
		return cmp.Compare(a.Kind, b.Kind)
	}
	switch a.Kind {
	case model.KindFloat:
		return cmp.Compare(a.Float(), b.Float())
	case model.KindInt:
		return cmp.Compare(a.Int(), b.Int())
	case model.KindUint:
		return cmp.Compare(a.Uint(), b.Uint())
	case model.KindString:
		return strings.Compare(a.Str(), b.Str())
	case model.KindBool:
		return cmp.Compare(boolInt(a.Bool()), boolInt(b.Bool()))
	}
	return 0
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// numLess orders numeric values of possibly different kinds exactly enough
// for top and bottom: as floats, ties between an int and a float broken by
// nothing (equal). NaN is below every number.
func numLess(a, b model.Value) bool {
	if a.Kind == b.Kind {
		return valueCompare(a, b) < 0
	}
	x, _ := a.AsFloat()
	y, _ := b.AsFloat()
	if math.IsNaN(x) {
		return !math.IsNaN(y)
	}
	return x < y
}
