package planner

// Reading ahead of the aggregation. An aggregate over many series (or many
// fields of one) spends most of its time in SummarySource.ReadParts:
// opening the series' sources, decoding the raw blocks under the partial
// buckets at the window's edges, reading rollup rows. The aggregation of
// the parts is cheap and must stay in rank order (float sums round
// differently in another order; first and last break ties by rank), so
// only the reads move: up to prefetchWorkers goroutines call ReadParts for
// the (series, column) reads ahead of the aggregating goroutine, which
// consumes them in exactly the order it would have made them, and feeds
// them to the aggregators as before. Answers are therefore the same bit
// for bit as reading series by series; what the reads hold in memory is
// bounded by the window of reads in flight.

import (
	"context"
	"runtime"
	"sync"

	"github.com/soltixdb/soltix/model"
)

// partsRead is one read ahead: the parts of aggregated column ci of the
// series of rank for each segment of the plan (nil where the segment is
// read with values instead, see valuesAt), or the first error.
type partsRead struct {
	rank  int
	ci    int
	parts [][]Part
	err   error
	done  chan struct{}
}

// prefetcher runs the reads of a range of ranks ahead of the aggregation.
type prefetcher struct {
	reads  []*partsRead
	next   int // index of the next read the aggregation takes
	slots  chan struct{}
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// prefetchWorkers is how many goroutines read ahead (a variable for tests
// on machines with fewer cores); below two, nothing is read ahead.
var prefetchWorkers = func() int { return min(runtime.GOMAXPROCS(0), 4) }

// prefetchWindow is how many reads per worker may be done or in flight
// ahead of the aggregation: enough to keep the workers busy while it
// aggregates, few enough that memory holds a handful of series' parts.
const prefetchWindow = 4

// startPrefetch starts reading the parts of the series of ranks whose
// predicate in preds (indexed by rank-lo) sends them to aggregateParts.
// It returns nil when there is too little to read to pay for goroutines.
func (ex *executor) startPrefetch(ctx context.Context, lo int, preds []*cond) *prefetcher {
	p := ex.p
	workers := prefetchWorkers()
	if p.parts == nil || workers < 2 {
		return nil
	}
	if cs, ok := p.src.(ConcurrentSource); !ok || !cs.ConcurrentReads() {
		return nil
	}
	var reads []*partsRead
	for i, pred := range preds {
		if pred != nil {
			continue
		}
		for ci := range p.read {
			if p.sumCol[ci] {
				reads = append(reads, &partsRead{rank: lo + i, ci: ci, done: make(chan struct{})})
			}
		}
	}
	if len(reads) < 2 {
		return nil
	}
	workers = min(workers, len(reads))
	ctx, cancel := context.WithCancel(ctx)
	pf := &prefetcher{reads: reads, slots: make(chan struct{}, workers*prefetchWindow), cancel: cancel}
	work := make(chan *partsRead)
	pf.wg.Add(1)
	go func() { // the feeder: one slot per read not yet taken
		defer pf.wg.Done()
		defer close(work)
		for _, r := range reads {
			select {
			case pf.slots <- struct{}{}:
			case <-ctx.Done():
				return
			}
			select {
			case work <- r:
			case <-ctx.Done():
				return
			}
		}
	}()
	for range workers {
		pf.wg.Add(1)
		go func() {
			defer pf.wg.Done()
			for r := range work {
				ex.readPartsAhead(ctx, r)
				close(r.done)
			}
		}()
	}
	return pf
}

// readPartsAhead makes the ReadParts calls of aggregateParts for one
// column of one series.
func (ex *executor) readPartsAhead(ctx context.Context, r *partsRead) {
	p := ex.p
	tags := p.series[r.rank]
	field := p.read[r.ci]
	r.parts = make([][]Part, len(p.segs))
	for s, seg := range p.segs {
		if p.valuesAt(r.ci, seg) {
			continue
		}
		if r.err = ctx.Err(); r.err != nil {
			return
		}
		r.parts[s], r.err = readParts(ctx, p.parts, p.coll, tags, field, seg.lo, seg.hi, p.whole, seg.level, p.needSketch[r.ci])
		if r.err != nil {
			return
		}
	}
}

// take waits for the next read, which must be of column ci of the series
// of rank, and frees its slot.
func (pf *prefetcher) take(ctx context.Context, rank, ci int) (*partsRead, error) {
	r := pf.reads[pf.next]
	if r.rank != rank || r.ci != ci {
		panic("planner: reads ahead out of step with the aggregation")
	}
	pf.next++
	select {
	case <-r.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	<-pf.slots
	return r, nil
}

// stop cancels the reads still to be made and waits for the goroutines.
func (pf *prefetcher) stop() {
	pf.cancel()
	pf.wg.Wait()
}

// partsFor returns the parts of segment s of column ci of the series of
// rank: the read ahead when there is one, else read now.
func (ex *executor) partsFor(ctx context.Context, r *partsRead, tags model.Tags, ci, s int) ([]Part, error) {
	if r != nil {
		return r.parts[s], nil
	}
	p := ex.p
	seg := p.segs[s]
	return readParts(ctx, p.parts, p.coll, tags, p.read[ci], seg.lo, seg.hi, p.whole, seg.level, p.needSketch[ci])
}
