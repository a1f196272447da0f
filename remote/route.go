package remote

import (
	"slices"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/query"
)

// Which groups a statement can touch.
//
// A series' group is model.GroupOf of its device: the value of the shard
// tag, or its series key when it has none. A WHERE clause prunes groups
// only when every series it can match must carry the shard tag with one of
// a known list of values: a top-level conjunct `shard = 'x'` or
// `shard IN ('x', 'y')`, or an OR of such conditions, possibly under an AND
// with anything else. Everything else (!=, NOT IN, regular expressions,
// ranges, an OR with any other condition, and the empty value, which also
// matches series without the tag) keeps every group.

// shardValues returns the shard tag values a series matching e must have,
// and false when e does not restrict them. A chain of one operator is one
// step (no recursion along it, no copy per operand), so that a statement
// of 100,000 ORed conditions is pruned in linear time; recursion follows
// only the parentheses.
func shardValues(e query.Expr, shard string) ([]string, bool) {
	switch x := e.(type) {
	case *query.Compare:
		if x.Name == shard && x.Op == "=" && x.Value.Kind == query.LitString && x.Value.Str != "" && len(x.Value.Offsets) == 0 {
			return []string{x.Value.Str}, true
		}
	case *query.In:
		if x.Name != shard || x.Not {
			return nil, false
		}
		vals := make([]string, 0, len(x.Values))
		for _, l := range x.Values {
			if l.Kind != query.LitString || l.Str == "" || len(l.Offsets) > 0 {
				return nil, false
			}
			vals = append(vals, l.Str)
		}
		return vals, true
	case *query.Binary:
		ops := chain(x)
		switch x.Op {
		case "AND":
			// Two restrictions intersect; other conditions keep it.
			var both []string
			have := false
			for _, op := range ops {
				vals, ok := shardValues(op, shard)
				switch {
				case !ok:
				case !have:
					both, have = vals, true
				default:
					in := make(map[string]bool, len(vals))
					for _, v := range vals {
						in[v] = true
					}
					both = slices.DeleteFunc(slices.Clone(both), func(v string) bool { return !in[v] })
				}
			}
			return both, have
		case "OR":
			var all []string
			for _, op := range ops {
				vals, ok := shardValues(op, shard)
				if !ok {
					return nil, false
				}
				all = append(all, vals...)
			}
			return all, true
		}
	}
	return nil, false
}

// chain returns the operands of the chain of b's operator b heads, in
// order, walking it with a stack.
func chain(b *query.Binary) []query.Expr {
	var out []query.Expr
	stack := []query.Expr{b}
	for len(stack) > 0 {
		e := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if x, ok := e.(*query.Binary); ok && x.Op == b.Op {
			stack = append(stack, x.RHS, x.LHS)
			continue
		}
		out = append(out, e)
	}
	return out
}

// statementGroups returns the groups a statement can touch, sorted, and
// the shard tag values its series must have; false when it can touch
// every group.
func statementGroups(stmt *query.Statement, shard string, n int) ([]int, []string, bool) {
	if stmt == nil || stmt.Select == nil || stmt.Select.Where == nil {
		return nil, nil, false
	}
	vals, ok := shardValues(stmt.Select.Where, shard)
	if !ok {
		return nil, nil, false
	}
	seen := map[int]bool{}
	var gs []int
	for _, v := range vals {
		g := model.GroupOf(v, n)
		if !seen[g] {
			seen[g] = true
			gs = append(gs, g)
		}
	}
	slices.Sort(gs)
	slices.Sort(vals)
	return gs, slices.Compact(vals), true
}
