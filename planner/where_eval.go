package planner

// What a compiled WHERE clause (where.go) answers: the time bounds it
// implies, its leaves and fields, and its evaluation per series (tri,
// fold) and per row (eval).

import "github.com/soltixdb/soltix/model"

// bounds returns the smallest interval outside which the condition cannot
// hold: AND intersects, OR takes the hull, non-time conditions bound nothing.
func (c *cond) bounds() interval {
	if c == nil {
		return fullRange
	}
	switch c.op {
	case opAnd:
		b := fullRange
		for _, k := range c.kids {
			b = b.intersect(k.bounds())
		}
		return b
	case opOr:
		b := interval{empty: true}
		for _, k := range c.kids {
			b = b.hull(k.bounds())
		}
		return b
	case opFalse:
		return interval{empty: true}
	case opLeaf:
		if c.lf.kind == leafTime {
			return c.lf.span
		}
	}
	return fullRange
}

// leaves calls f for every leaf of the condition.
func (c *cond) leaves(f func(*leaf)) {
	if c == nil {
		return
	}
	if c.op == opLeaf {
		f(c.lf)
	}
	for _, k := range c.kids {
		k.leaves(f)
	}
}

func (c *cond) hasTags() bool {
	has := false
	c.leaves(func(lf *leaf) { has = has || lf.kind == leafTag })
	return has
}

func (c *cond) fieldNames(f func(string)) {
	c.leaves(func(lf *leaf) {
		if lf.kind == leafField {
			f(lf.name)
		}
	})
}

func (c *cond) setColumns(idx map[string]int) {
	c.leaves(func(lf *leaf) {
		if lf.kind == leafField {
			lf.col = idx[lf.name]
		}
	})
}

// tri evaluates the condition from a series' tags alone: field and time
// conditions are unknown.
func (c *cond) tri(tags model.Tags) tri {
	if c == nil {
		return triTrue
	}
	switch c.op {
	case opTrue:
		return triTrue
	case opFalse:
		return triFalse
	case opAnd, opOr:
		// AND stops at the first false operand, OR at the first true one.
		stop, other := triFalse, triTrue
		if c.op == opOr {
			stop, other = triTrue, triFalse
		}
		res := other
		for _, k := range c.kids {
			switch k.tri(tags) {
			case stop:
				return stop
			case triUnknown:
				res = triUnknown
			}
		}
		return res
	}
	if c.lf.kind == leafTag {
		if c.lf.str(tags.Get(c.lf.name)) {
			return triTrue
		}
		return triFalse
	}
	return triUnknown
}

// fold specialises the condition to one series read over rng: tag
// conditions become constants, and so do time conditions that every time in
// rng satisfies (or none does). It returns condTrue or condFalse when the
// result no longer depends on the row.
//
// id is the series' id in the list series were selected from; an indexed OR
// node uses it to visit only the operands that can hold (-1: visit all).
func (c *cond) fold(tags model.Tags, rng interval, id int32) *cond {
	if c == nil {
		return condTrue
	}
	switch c.op {
	case opTrue, opFalse:
		return c
	case opAnd, opOr:
		// An AND is decided by a false operand and ignores true ones; an
		// OR the other way round.
		decide, neutral := condFalse, condTrue
		if c.op == opOr {
			decide, neutral = condTrue, condFalse
		}
		kids := c.kids
		if c.indexed && id >= 0 {
			kids = c.operandsFor(id)
		}
		var kept []*cond
		for _, k := range kids {
			switch f := k.fold(tags, rng, id); f {
			case decide:
				return decide
			case neutral:
			default:
				kept = append(kept, f)
			}
		}
		switch len(kept) {
		case 0:
			return neutral
		case 1:
			return kept[0]
		}
		return &cond{op: c.op, kids: kept}
	}
	switch c.lf.kind {
	case leafTag:
		if c.lf.str(tags.Get(c.lf.name)) {
			return condTrue
		}
		return condFalse
	case leafTime:
		if c.lf.exact && c.lf.span.contains(rng) {
			return condTrue
		}
		if c.lf.span.intersect(rng).empty {
			return condFalse
		}
	}
	return c
}

// eval evaluates a folded condition on the current row.
func (c *cond) eval(r *rows) bool {
	switch c.op {
	case opAnd:
		for _, k := range c.kids {
			if !k.eval(r) {
				return false
			}
		}
		return true
	case opOr:
		for _, k := range c.kids {
			if k.eval(r) {
				return true
			}
		}
		return false
	case opTrue:
		return true
	case opFalse:
		return false
	}
	lf := c.lf
	switch lf.kind {
	case leafTime:
		return lf.i64(r.t)
	case leafField:
		i := r.idx[lf.col]
		if i < 0 {
			return false
		}
		col := &r.cols[lf.col]
		switch col.Kind {
		case model.KindFloat:
			return lf.f64(col.Floats[i])
		case model.KindInt:
			return lf.i64(col.Ints[i])
		case model.KindUint:
			return lf.u64(col.Uints[i])
		case model.KindBool:
			return lf.bl(col.Bools[i])
		case model.KindString:
			return lf.str(col.Strings[i])
		}
		return false
	}
	// Tag leaves are folded away before rows are evaluated.
	return false
}
