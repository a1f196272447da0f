package remote

import (
	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/planner"
)

// Merged batches. A raw select merges the rows of the series of one GROUP
// BY tag combination by time, reading each series a chunk at a time. Sent
// one series after another, every series but the last would have to wait
// whole on the router before the merge could go on; so a node sends the
// chunks of such a batch in the order the merge needs them: it keeps the
// next chunk of every series read ahead and sends the one starting
// earliest (latest for ORDER BY time DESC). It holds one chunk per series,
// of rawBatchRows rows shared among them (between 1,024 and 65,536 rows
// each), as the planner does for the same query on one node.

// rawBatchRows is the rows a node reads ahead for a merged batch.
const rawBatchRows = 1 << 20

// mergeable reports whether an item's values can be sent merged: values
// only, all over one range, read whole (no row bound).
func mergeable(it *planner.SeriesRead) bool {
	if it.Rows > 0 || len(it.Values) == 0 || len(it.Parts) > 0 {
		return false
	}
	for _, v := range it.Values {
		if v.Lo != it.Values[0].Lo || v.Hi != it.Values[0].Hi {
			return false
		}
	}
	return true
}

// pending is the chunk of one series of a merged batch read ahead.
type pending struct {
	item   int
	idx    []int
	fields []string
	tags   model.Tags
	lo, hi int64 // what is left to read
	cols   []model.Column
	times  []int64
	last   bool // the chunk read is the series' last
	sent   bool // and it was sent
}

// mergedValues sends the values of items (indexes into f.Items) merged by
// time.
func (ss *nodeSession) mergedValues(f *fetchMsg, items []int) error {
	if len(items) == 0 {
		return nil
	}
	rows := min(max(rawBatchRows/len(items), 1024), readChunk)
	desc := f.Desc
	ps := make([]*pending, len(items))
	for x, i := range items {
		it := &f.Items[i]
		p := &pending{item: i, tags: it.Tags, lo: it.Values[0].Lo, hi: it.Values[0].Hi}
		for j, v := range it.Values {
			p.idx, p.fields = append(p.idx, j), append(p.fields, v.Field)
		}
		if err := ss.readAhead(p, rows, desc); err != nil {
			return err
		}
		ps[x] = p
	}
	for {
		var next *pending
		for _, p := range ps {
			if p.sent {
				continue
			}
			if next == nil || len(p.times) == 0 || (len(next.times) > 0 && ((!desc && p.times[0] < next.times[0]) ||
				(desc && p.times[len(p.times)-1] > next.times[len(next.times)-1]))) {
				next = p
			}
		}
		if next == nil {
			return nil
		}
		through := next.hi
		switch {
		case desc && next.last:
			through = next.lo
		case desc:
			through = next.times[0]
		case !next.last:
			through = next.times[len(next.times)-1]
		}
		if err := ss.sendChunk(next.item, next.idx, next.cols, through); err != nil {
			return err
		}
		if next.last {
			next.sent = true
			continue
		}
		if desc {
			next.hi = through - 1
		} else {
			next.lo = through + 1
		}
		if err := ss.readAhead(next, rows, desc); err != nil {
			return err
		}
	}
}

// readAhead reads the next chunk of a series of a merged batch.
func (ss *nodeSession) readAhead(p *pending, rows int, desc bool) error {
	if err := ss.ctx.Err(); err != nil {
		return err
	}
	cols, err := ss.n.db.ReadLimit(ss.ctx, ss.open.Collection, p.tags, p.fields, p.lo, p.hi, rows, desc)
	if err != nil {
		return err
	}
	p.cols, p.times = cols, rowTimes(cols)
	n := len(p.times)
	p.last = n < rows || (!desc && p.times[n-1] >= p.hi) || (desc && p.times[0] <= p.lo)
	return nil
}
