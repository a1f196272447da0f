package query

import "strings"

// Operands returns the operands of the chain of op ("AND" or "OR") at the
// top of e, in the order written: for a OR b OR (c AND d) and "OR" it
// returns a, b and c AND d; for any other expression just e. Nested chains
// of the same operator are flattened whichever way they lean, without
// recursion, so a chain of any length costs time and stack linear in it.
func Operands(e Expr, op string) []Expr {
	var out []Expr
	stack := []Expr{e}
	for len(stack) > 0 {
		x := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if b, ok := x.(*Binary); ok && strings.EqualFold(b.Op, op) {
			stack = append(stack, b.RHS, b.LHS) // LHS is popped first
			continue
		}
		out = append(out, x)
	}
	return out
}

// Conditions calls f for every condition (*Compare, *In or *Between) of e,
// in the order written. It recurses once per change between AND and OR,
// which parenthesis nesting bounds, never once per condition.
func Conditions(e Expr, f func(Expr)) {
	b, ok := e.(*Binary)
	if !ok {
		if e != nil {
			f(e)
		}
		return
	}
	for _, x := range Operands(b, b.Op) {
		if _, ok := x.(*Binary); ok {
			Conditions(x, f)
		} else {
			f(x)
		}
	}
}
