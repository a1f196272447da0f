package remote

import (
	"runtime"
	"slices"

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
	// For a filtered series (node_filter.go): its condition, the rows
	// asked of the chunk read (n), what it read, and the range it was read
	// over.
	filt           *filtered
	n              int
	scan           planner.Scan
	readLo, readHi int64
}

// first returns the time the chunk read starts at in the order of the
// batch (its last time with desc), and false when it read nothing.
func (p *pending) first(desc bool) (int64, bool) {
	if p.filt != nil {
		if p.scan.Rows == 0 {
			return 0, false
		}
		if desc {
			return p.scan.Last, true
		}
		return p.scan.First, true
	}
	if len(p.times) == 0 {
		return 0, false
	}
	if desc {
		return p.times[len(p.times)-1], true
	}
	return p.times[0], true
}

// mergedValues sends the values of items (indexes into f.Items) merged by
// time, and the chunks of the filtered items (fi) among them.
//
// The merge on the router needs the first chunk of every series before its
// first row, in the order asked (the plan's): so each is sent as soon as
// it is read, and the router files it and turns it into rows while the
// node reads the next. Only then does the node read the next chunk of
// every series ahead and send them in the order of the merge.
func (ss *nodeSession) mergedValues(f *fetchMsg, items, fi []int, rf *planner.RowFilter) error {
	if len(items) == 0 && len(fi) == 0 {
		return nil
	}
	rows := min(max(rawBatchRows/max(len(items), 1), 1024), readChunk)
	desc := f.Desc
	order := append(slices.Clone(items), fi...)
	slices.Sort(order)
	ps := make([]*pending, len(order))
	for k, i := range order {
		if f.Items[i].Chunk > 0 {
			ps[k] = ss.newFiltered(f, i, rf)
		} else {
			it := &f.Items[i]
			p := &pending{item: i, tags: it.Tags, lo: it.Values[0].Lo, hi: it.Values[0].Hi}
			for j, v := range it.Values {
				p.idx, p.fields = append(p.idx, j), append(p.fields, v.Field)
			}
			ps[k] = p
		}
	}
	if err := ss.firstChunks(ps, rows, desc); err != nil {
		return err
	}
	for _, p := range ps {
		if !p.sent {
			if err := ss.readNext(p, rows, desc); err != nil {
				return err
			}
		}
	}
	for {
		var next *pending
		var nt int64
		nok := false
		for _, p := range ps {
			if p.sent {
				continue
			}
			pt, ok := p.first(desc)
			if next == nil || !ok || (nok && ((!desc && pt < nt) || (desc && pt > nt))) {
				next, nt, nok = p, pt, ok
				if !ok {
					break
				}
			}
		}
		if next == nil {
			return nil
		}
		if err := ss.sendNext(next, desc); err != nil {
			return err
		}
		if !next.sent {
			if err := ss.readNext(next, rows, desc); err != nil {
				return err
			}
		}
	}
}

// firstChunks reads and sends the first chunk of every series of a merged
// batch, in order. Up to readAhead series are read at the same time, ahead
// of the one being sent: a node holds that many chunks more, and reads on
// more cores while the router files what it sent.
func (ss *nodeSession) firstChunks(ps []*pending, rows int, desc bool) error {
	w := min(runtime.GOMAXPROCS(0), readAhead)
	if w < 2 || len(ps) < 2 {
		for _, p := range ps {
			if err := ss.readNext(p, rows, desc); err != nil {
				return err
			}
			if err := ss.sendFirst(p, desc); err != nil {
				return err
			}
		}
		return nil
	}
	errs := make([]error, len(ps))
	done := make([]chan struct{}, len(ps))
	for k := range done {
		done[k] = make(chan struct{})
	}
	read := func(k int) {
		defer close(done[k])
		errs[k] = ss.readNext(ps[k], rows, desc)
	}
	started := 0
	defer func() {
		for k := range started {
			<-done[k] // no read outlives the fetch
		}
	}()
	for k := range ps {
		for ; started < len(ps) && started < k+w; started++ {
			go read(started)
		}
		<-done[k]
		if errs[k] != nil {
			return errs[k]
		}
		if err := ss.sendFirst(ps[k], desc); err != nil {
			return err
		}
	}
	return nil
}

// readAhead bounds the series whose first chunks a node reads at the same
// time, ahead of the one it sends.
const readAhead = 4

// sendFirst sends the first chunk of a series of a merged batch and
// flushes it to the router.
func (ss *nodeSession) sendFirst(p *pending, desc bool) error {
	if err := ss.sendNext(p, desc); err != nil {
		return err
	}
	p.cols, p.times = nil, nil // sent: the next read replaces them
	return ss.flush()
}

// readNext reads the next chunk of a series of a merged batch (filtered
// or not).
func (ss *nodeSession) readNext(p *pending, rows int, desc bool) error {
	if p.filt != nil {
		return ss.readFiltered(p, desc)
	}
	return ss.readAhead(p, rows, desc)
}

// sendNext sends the chunk of a series of a merged batch read last and
// moves to its next one, or marks the series sent after its last.
func (ss *nodeSession) sendNext(p *pending, desc bool) error {
	if p.filt != nil {
		if err := ss.sendRows(p, desc); err != nil {
			return err
		}
		p.sent = p.last
		return nil
	}
	through := p.hi
	switch {
	case desc && p.last:
		through = p.lo
	case desc:
		through = p.times[0]
	case !p.last:
		through = p.times[len(p.times)-1]
	}
	if err := ss.sendChunk(p.item, p.idx, p.cols, through); err != nil {
		return err
	}
	if p.last {
		p.sent = true
		return nil
	}
	if desc {
		p.hi = through - 1
	} else {
		p.lo = through + 1
	}
	return nil
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
