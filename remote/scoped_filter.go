package remote

import (
	"context"
	"fmt"

	"github.com/soltixdb/soltix/internal/timex"
	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/planner"
	"github.com/soltixdb/soltix/query"
	"github.com/soltixdb/soltix/remote/wire"
)

// The router's side of filtering a raw select's rows on the nodes
// (filter_proto.go).

// whereText puts the condition of a raw select into the open message, when
// it can be pushed to the nodes, and returns it (nil when not).
func whereText(sel *query.Select, opts planner.Options, open *openMsg) query.Expr {
	if sel.Where == nil || !pushFilters {
		return nil
	}
	for _, it := range sel.Items {
		if it.Func != "" {
			return nil // an aggregate: no row is read filtered
		}
	}
	now, ok := timex.FromTime(opts.Now)
	if !ok {
		return nil
	}
	text := query.ExprString(sel.Where)
	if len(text) > maxWhereBytes {
		return nil
	}
	open.Where, open.Now = text, now
	return sel.Where
}

// pushFilters is switched off only by tests measuring what filtering on
// the nodes saves.
var pushFilters = true

// pushFilter returns the filter of a ReadSet when the nodes can apply it:
// the sessions were opened with its condition and now().
func (s *scoped) pushFilter(rs *planner.ReadSet) *planner.Filter {
	f := rs.Filter
	if f == nil || s.where == nil || f.Where != s.where {
		return nil
	}
	now, ok := timex.FromTime(f.Now)
	if !ok || len(s.sessions) == 0 || now != s.sessions[0].openNow {
		return nil
	}
	return f
}

// rowsChunk is a chunk of a filtered item (rowsMsg) not read yet.
type rowsChunk struct {
	lo, hi int64
	n      int
	scan   planner.Scan
	cols   []model.Column
	bytes  int64
}

// fileRows files a msgRows with its item.
func (s *session) fileRows(payload []byte) error {
	var m rowsMsg
	if err := m.decode(payload); err != nil {
		return err
	}
	if m.Item >= len(s.items)-s.base {
		return fmt.Errorf("rows of item %d: %w", m.Item, wire.ErrMalformed)
	}
	it := s.items[s.base+m.Item]
	if it.done || it.sr.Chunk == 0 || len(m.Cols) != len(it.sr.Values) {
		return fmt.Errorf("rows of item %d, which is not read filtered or is complete: %w", m.Item, wire.ErrMalformed)
	}
	if it.released {
		if s.onBytes != nil {
			_ = s.onBytes(-int64(len(payload)))
		}
		return nil
	}
	for i := range m.Cols {
		m.Cols[i].Name = it.sr.Values[i].Field
	}
	it.chunks = append(it.chunks, rowsChunk{lo: m.Lo, hi: m.Hi, n: m.N, scan: m.Scan, cols: m.Cols, bytes: int64(len(payload))})
	it.bytes += int64(len(payload))
	return nil
}

// ReadFiltered implements planner.FilterSource: the next chunk the series'
// node read filtered, when it is the one asked; otherwise (nothing was
// pushed, or the plan read otherwise) the rows unfiltered, as ReadLimit.
func (s *scoped) ReadFiltered(ctx context.Context, collection string, tags model.Tags, fields []string, min, max int64, n int, desc bool) ([]model.Column, planner.Scan, error) {
	if collection != s.coll {
		return nil, planner.Scan{}, errUnscoped
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	it, se, err := s.item(tags)
	if err != nil {
		return nil, planner.Scan{}, err
	}
	if it != nil && it.sr.Chunk > 0 && sameFields(it.sr.Values, fields) && it.desc == desc {
		for !it.released {
			if len(it.chunks) > 0 {
				c := it.chunks[0]
				if c.lo != min || c.hi != max || c.n != n {
					break
				}
				it.chunks[0] = rowsChunk{}
				it.chunks = it.chunks[1:]
				it.bytes -= c.bytes
				s.held.Add(-c.bytes)
				return s.kinds(c.cols), c.scan, nil
			}
			if it.done {
				break
			}
			if err := se.step(ctx); err != nil {
				return nil, planner.Scan{}, err
			}
		}
	}
	cols, err := s.readLimit(ctx, tags, fields, min, max, n, desc)
	if err != nil {
		return nil, planner.Scan{}, err
	}
	return cols, planner.ScanOf(cols), nil
}

// sameFields reports whether spans are of fields, in order.
func sameFields(spans []planner.FieldSpan, fields []string) bool {
	if len(spans) != len(fields) {
		return false
	}
	for i, v := range spans {
		if v.Field != fields[i] {
			return false
		}
	}
	return true
}
