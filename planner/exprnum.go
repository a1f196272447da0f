package planner

import (
	"math"
	"math/bits"

	"github.com/soltixdb/soltix/model"
)

// num is a value of an expression: null, an int64 or a float64.
type num struct {
	kind uint8 // numNull, numInt or numFloat
	i    int64
	f    float64
}

const (
	numNull uint8 = iota
	numInt
	numFloat
)

func intNum(i int64) num { return num{kind: numInt, i: i} }

// floatNum is f, or null when f is not finite.
func floatNum(f float64) num {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return num{}
	}
	return num{kind: numFloat, f: f}
}

// numOf converts a cell: an unsigned value above int64 becomes a float;
// strings and booleans (which prepareExpr keeps out) become null.
func numOf(v model.Value) num {
	switch v.Kind {
	case model.KindInt:
		return intNum(v.Int())
	case model.KindUint:
		if u := v.Uint(); u <= math.MaxInt64 {
			return intNum(int64(u))
		}
		return floatNum(float64(v.Uint()))
	case model.KindFloat:
		return floatNum(v.Float())
	}
	return num{}
}

func (n num) float() float64 {
	if n.kind == numInt {
		return float64(n.i)
	}
	return n.f
}

func (n num) value() model.Value {
	switch n.kind {
	case numInt:
		return model.Int(n.i)
	case numFloat:
		return model.Float(n.f)
	}
	return model.Null
}

func negate(x num) num {
	switch {
	case x.kind == numInt && x.i == math.MinInt64:
		return floatNum(-float64(x.i))
	case x.kind == numInt:
		return intNum(-x.i)
	case x.kind == numFloat:
		return floatNum(-x.f)
	}
	return x
}

// arith applies a binary operator; see the rules in expr.go.
func arith(op string, a, b num) num {
	if a.kind == numNull || b.kind == numNull {
		return num{}
	}
	if a.kind == numInt && b.kind == numInt {
		if r, ok := intArith(op, a.i, b.i); ok {
			return r
		}
	}
	x, y := a.float(), b.float()
	switch op {
	case "+":
		return floatNum(x + y)
	case "-":
		return floatNum(x - y)
	case "*":
		return floatNum(x * y)
	case "/":
		if y == 0 {
			return num{}
		}
		return floatNum(x / y)
	case "%":
		if y == 0 {
			return num{}
		}
		return floatNum(math.Mod(x, y))
	}
	return num{}
}

// intArith computes + - * and % of two integers, ok false when the result
// does not fit int64 (or for /, which is always a float).
func intArith(op string, x, y int64) (num, bool) {
	switch op {
	case "+":
		r := x + y // overflows when x and y share a sign that r lacks
		return intNum(r), !((x >= 0) == (y >= 0) && (r >= 0) != (x >= 0))
	case "-":
		r := x - y // overflows when x and y differ in sign and r lacks x's
		return intNum(r), !((x >= 0) != (y >= 0) && (r >= 0) != (x >= 0))
	case "*":
		if x == 0 || y == 0 {
			return intNum(0), true
		}
		hi, lo := bits.Mul64(mag(x), mag(y))
		if hi != 0 {
			return num{}, false
		}
		negative := (x < 0) != (y < 0)
		if negative && lo <= 1<<63 {
			return intNum(-int64(lo)), true
		}
		if !negative && lo < 1<<63 {
			return intNum(int64(lo)), true
		}
		return num{}, false
	case "%":
		if y == 0 {
			return num{}, true
		}
		if y == -1 {
			return intNum(0), true
		}
		return intNum(x % y), true
	}
	return num{}, false
}

// mag returns |x| as an unsigned number, exact for math.MinInt64 too.
func mag(x int64) uint64 {
	if x < 0 {
		return uint64(-x) // -MinInt64 wraps to MinInt64, which is 1<<63 unsigned
	}
	return uint64(x)
}

// mathCall applies a math function of query.MathFuncs.
func mathCall(fn string, args []num) num {
	x := args[0]
	if x.kind == numNull {
		return num{}
	}
	switch fn {
	case "abs":
		if x.kind == numInt {
			if x.i < 0 {
				return negate(x)
			}
			return x
		}
		return floatNum(math.Abs(x.f))
	case "ceil", "floor", "round":
		if x.kind == numInt {
			return x
		}
		switch fn {
		case "ceil":
			return floatNum(math.Ceil(x.f))
		case "floor":
			return floatNum(math.Floor(x.f))
		}
		return floatNum(math.Round(x.f))
	case "sqrt":
		if x.float() < 0 {
			return num{}
		}
		return floatNum(math.Sqrt(x.float()))
	case "ln", "log10":
		if x.float() <= 0 {
			return num{}
		}
		if fn == "ln" {
			return floatNum(math.Log(x.float()))
		}
		return floatNum(math.Log10(x.float()))
	case "exp":
		return floatNum(math.Exp(x.float()))
	case "pow":
		y := args[1]
		if y.kind == numNull {
			return num{}
		}
		return floatNum(math.Pow(x.float(), y.float()))
	}
	return num{}
}

// compareNums compares two values for HAVING: false when either is null;
// integers compare exactly, anything else as floats.
func compareNums(a num, op string, b num) bool {
	if a.kind == numNull || b.kind == numNull {
		return false
	}
	var c int
	if a.kind == numInt && b.kind == numInt {
		c = cmp3(a.i, b.i)
	} else {
		c = cmp3(a.float(), b.float())
	}
	switch op {
	case "=":
		return c == 0
	case "!=":
		return c != 0
	case "<":
		return c < 0
	case "<=":
		return c <= 0
	case ">":
		return c > 0
	case ">=":
		return c >= 0
	}
	return false
}

func cmp3[T int64 | float64](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
