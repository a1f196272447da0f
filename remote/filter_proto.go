package remote

// Filtering a raw select's rows on the node (planner.ReadSet.Filter). A
// raw select with a condition on fields (`WHERE usage_user > 90`) would
// otherwise have every row of every series it reads shipped to the router,
// whose planner keeps the few that satisfy it. Instead:
//
//   - msgOpen carries the WHERE clause as text (query.ExprString, at most
//     maxWhereBytes) and the query's now(); the node parses it when the
//     session opens (a clause that does not parse answers 400).
//   - msgFetch carries, after the items and Reduce, the rest of the
//     planner.Filter (the columns read and their kinds, the query's range,
//     the largest chunk) and, per item the planner reads filtered, the rows
//     of its first chunk (planner.SeriesRead.Chunk).
//   - The node reads such an item in exactly the planner's chunks, keeps
//     the rows that satisfy the condition folded for the series (with the
//     planner's code: planner.Filter.Compile, planner.SeriesFilter.Apply)
//     and sends each chunk as one msgRows: the chunk asked (lo, hi, rows),
//     what it read (planner.Scan: rows, values, first and last time) and
//     the columns of the rows kept.
//   - The router answers the planner's FilterSource.ReadFiltered calls
//     with those chunks in order: the planner counts the points the node
//     read and continues after the rows it read, as it does on one node,
//     so answers and query statistics are those of a single node.
//
// Anything the router cannot push (no text of the clause, a clause over
// maxWhereBytes, a now() outside int64 nanoseconds) travels as before:
// every row, and ReadFiltered reads it unfiltered.

import (
	"fmt"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/planner"
	"github.com/soltixdb/soltix/remote/wire"
)

// msgRows is a chunk of a filtered item (see above).
const msgRows = 'R'

// maxWhereBytes bounds the text of the condition in msgOpen; a longer one
// is not pushed to the nodes.
const maxWhereBytes = 256 << 10

// maxFilterChunk bounds a chunk's rows in a fetch's filter.
const maxFilterChunk = 1 << 24

// encodeFilter appends f (without Where and Now) and the Chunk of items.
func encodeFilter(e *wire.MsgEnc, f *planner.Filter, items []planner.SeriesRead) {
	e.Strings(f.Fields)
	for _, k := range f.Kinds {
		e.Byte(byte(k))
	}
	e.Varint(f.Lo)
	e.Varint(f.Hi)
	e.Uvarint(uint64(f.MaxChunk))
	n := 0
	for i := range items {
		if items[i].Chunk > 0 {
			n++
		}
	}
	e.Uvarint(uint64(n))
	for i := range items {
		if c := items[i].Chunk; c > 0 {
			e.Uvarint(uint64(i))
			e.Uvarint(uint64(c))
		}
	}
}

// decodeFilter reads what encodeFilter wrote, setting the items' Chunk.
func decodeFilter(d *wire.MsgDec, items []planner.SeriesRead) (*planner.Filter, error) {
	bad := func(what string, v any) error {
		return fmt.Errorf("fetch: filter %s %v: %w", what, v, wire.ErrMalformed)
	}
	f := &planner.Filter{Fields: d.Strings()}
	for range f.Fields {
		k := model.Kind(d.Byte())
		if d.Err() == nil && (k == model.KindNull || k > model.KindString) {
			return nil, bad("kind", k)
		}
		f.Kinds = append(f.Kinds, k)
	}
	f.Lo, f.Hi = d.Varint(), d.Varint()
	mc := d.Uvarint()
	if d.Err() == nil && (mc == 0 || mc > maxFilterChunk) {
		return nil, bad("largest chunk", mc)
	}
	f.MaxChunk = int(mc)
	n := d.Count(2)
	for j := 0; j < n && d.Err() == nil; j++ {
		i, c := d.Uvarint(), d.Uvarint()
		if d.Err() != nil {
			break
		}
		if i >= uint64(len(items)) || items[i].Chunk > 0 {
			return nil, bad("item", i)
		}
		if c == 0 || c > mc {
			return nil, bad("chunk", c)
		}
		items[i].Chunk = int(c)
	}
	if err := d.Err(); err != nil {
		return nil, err
	}
	return f, nil
}

// rowsMsg is a msgRows: chunk [Lo, Hi] of N rows of item Item, what the
// node read of it and the columns of the rows it kept.
type rowsMsg struct {
	Item   int
	Lo, Hi int64
	N      int
	Scan   planner.Scan
	Cols   []model.Column
}

func (m *rowsMsg) encode(e *wire.MsgEnc) {
	e.Uvarint(uint64(m.Item))
	e.Varint(m.Lo)
	e.Varint(m.Hi)
	e.Uvarint(uint64(m.N))
	e.Uvarint(uint64(m.Scan.Rows))
	e.Uvarint(uint64(m.Scan.Points))
	e.Varint(m.Scan.First)
	e.Varint(m.Scan.Last)
	e.Columns(m.Cols)
}

// decode reads a msgRows and checks that it is a consistent chunk: rows
// no more than asked, the rows kept (sorted, each column's times strictly
// increasing) among those read, inside [Lo, Hi].
func (m *rowsMsg) decode(b []byte) error {
	d := wire.MsgDec{B: b}
	item, lo, hi, n := d.Uvarint(), d.Varint(), d.Varint(), d.Uvarint()
	rows, points, first, last := d.Uvarint(), d.Uvarint(), d.Varint(), d.Varint()
	if err := d.Err(); err != nil {
		return err
	}
	bad := func(what string) error { return fmt.Errorf("rows: %s: %w", what, wire.ErrMalformed) }
	if item > 1<<31 || n == 0 || n > maxFilterChunk || rows > n || lo > hi {
		return bad("counts")
	}
	if rows > 0 && (first > last || first < lo || last > hi) {
		return bad("times")
	}
	m.Item, m.Lo, m.Hi, m.N = int(item), lo, hi, int(n)
	m.Scan = planner.Scan{Rows: int(rows), Points: int64(points), First: first, Last: last}
	m.Cols = d.Columns()
	if err := d.Done(); err != nil {
		return err
	}
	if points > uint64(rows)*uint64(max(len(m.Cols), 1)) {
		return bad("counts")
	}
	var kept int64
	for _, c := range m.Cols {
		if c.Len() > 0 && (rows == 0 || c.Times[0] < first || c.Times[c.Len()-1] > last) {
			return bad("column times")
		}
		kept += int64(c.Len())
	}
	if kept > m.Scan.Points {
		return bad("more values kept than read")
	}
	return nil
}
