package remote

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/remote/wire"
	"github.com/soltixdb/soltix/storage"
)

// WriteError reports groups whose part of a write (or delete, flush,
// compaction) was not done because their node could not be reached, was
// unavailable, or kept answering "stale epoch", or because they had no
// primary. The other groups' parts were done: retrying the whole request
// is safe (last write wins on series, field and time). It wraps
// storage.ErrUnavailable, so the external API answers 503.
type WriteError struct {
	// Groups are the groups not written, sorted.
	Groups []int
	// Err says why, naming the node of each cause.
	Err error
	// op is the participle of the operation ("written", "deleted").
	op string
}

// Error implements error: "groups 3, 7 not written: node n2
// (http://127.0.0.1:7002): connection refused".
func (e *WriteError) Error() string {
	op := e.op
	if op == "" {
		op = "written"
	}
	return fmt.Sprintf("%s not %s: %v", groupList(e.Groups), op, e.Err)
}

// Unwrap returns storage.ErrUnavailable and the cause.
func (e *WriteError) Unwrap() []error { return []error{storage.ErrUnavailable, e.Err} }

// groupFailure is one cause of a WriteError and the groups it hit.
type groupFailure struct {
	groups []int
	err    error
}

// failures are a WriteError's causes; with more than one, each names its
// groups.
type failures []groupFailure

func (fs failures) Error() string {
	if len(fs) == 1 {
		return fs[0].err.Error()
	}
	parts := make([]string, len(fs))
	for i, f := range fs {
		parts[i] = groupList(f.groups) + ": " + f.err.Error()
	}
	return strings.Join(parts, "; ")
}

func (fs failures) Unwrap() []error {
	errs := make([]error, len(fs))
	for i, f := range fs {
		errs[i] = f.err
	}
	return errs
}

// errNoMap is returned before the cluster map is known.
var errNoMap = fmt.Errorf("the cluster map is not loaded yet: %w", storage.ErrUnavailable)

// errNoRoute is the cause for groups without a primary that is up.
var errNoRoute = errors.New("no primary is up")

// outcome is what one request to one node did to the groups it carried.
type outcome struct {
	// stale are the groups a 409 named; the whole request was refused,
	// so every group it carried is retried.
	stale bool
	// switching is set when the node refused the groups for the moment a
	// move of theirs is switched over (503 CodeSwitching); they are sent
	// again after a short wait, for at most ClientOptions.SwitchWait.
	switching bool
	// err, when not nil and not stale, is why the request's groups were
	// not done; final errors (a 400) are not retried.
	err   error
	final bool
	// down is set when the node could not be reached or answered 503:
	// with ClientOptions.FailoverWait, the groups are sent again.
	down bool
	// series, with err nil, is the node's refusal of the points of new
	// series over its limit (indexes mapped to the caller's): the groups
	// are done, the rest of their points written.
	series *storage.SeriesLimitError
}

// addSeries merges a node's series refusal into have.
func addSeries(have, sl *storage.SeriesLimitError) *storage.SeriesLimitError {
	if sl == nil {
		return have
	}
	if have == nil {
		return &storage.SeriesLimitError{Points: slices.Clone(sl.Points), Limit: sl.Limit, RetryAfter: sl.RetryAfter}
	}
	have.Points = append(have.Points, sl.Points...)
	have.Limit = min(have.Limit, sl.Limit)
	have.RetryAfter = max(have.RetryAfter, sl.RetryAfter)
	return have
}

// nodeOp is one request of a fan-out: a node and the routes of the groups
// it is sent.
type nodeOp struct {
	nc     *nodeClient
	routes []Route
	out    outcome
}

// fanOut sends groups' work to their primaries, one request per node at a
// time, concurrently, retrying the groups of requests answered "stale
// epoch" after a Topology.Refresh, at most WriteAttempts times. send does
// one node's request. It returns the first final error, else a
// *WriteError naming the groups not done, else the nodes' refusals of
// points of new series (*storage.SeriesLimitError), else nil.
// timeout bounds each request (0: the context alone).
func (c *Client) fanOut(ctx context.Context, groups []int, op string, timeout time.Duration, send func(ctx context.Context, o *nodeOp) outcome) error {
	var (
		fails  []groupFailure
		final  error
		series *storage.SeriesLimitError
	)
	pending := groups
	var switchUntil time.Time // when waiting out a move's switch gives up
	wait := 5 * time.Millisecond
	var failoverUntil time.Time // when waiting out a failover gives up
	downWait := 50 * time.Millisecond
	for attempt := 1; len(pending) > 0; attempt++ {
		byAddr := make(map[string]*nodeOp)
		var ops []*nodeOp
		var noRoute []int
		for _, g := range pending {
			r, ok := c.topo.Route(g)
			if !ok || r.Addr == "" {
				noRoute = append(noRoute, g)
				continue
			}
			o := byAddr[r.Addr]
			if o == nil {
				o = &nodeOp{nc: c.node(r)}
				byAddr[r.Addr] = o
				ops = append(ops, o)
			}
			o.routes = append(o.routes, r)
		}
		var downErrs []groupFailure
		if len(noRoute) > 0 {
			downErrs = append(downErrs, groupFailure{noRoute, errNoRoute})
		}
		var wg sync.WaitGroup
		for _, o := range ops {
			wg.Go(func() {
				rctx := ctx
				if timeout > 0 {
					var cancel context.CancelFunc
					rctx, cancel = context.WithTimeout(ctx, timeout)
					defer cancel()
				}
				o.out = send(rctx, o)
			})
		}
		wg.Wait()
		pending = nil
		var staleErrs, switchErrs []groupFailure
		for _, o := range ops {
			gs := routeGroups(o.routes)
			switch {
			case o.out.stale:
				pending = append(pending, gs...)
				staleErrs = append(staleErrs, groupFailure{gs, fmt.Errorf("%s: %w", o.nc.label(), o.out.err)})
			case o.out.switching:
				switchErrs = append(switchErrs, groupFailure{gs, fmt.Errorf("%s: %w", o.nc.label(), o.out.err)})
			case o.out.final:
				final = mergeFinal(final, o.out.err)
			case o.out.down:
				downErrs = append(downErrs, groupFailure{gs, fmt.Errorf("%s: %w", o.nc.label(), o.out.err)})
			case o.out.err != nil:
				fails = append(fails, groupFailure{gs, fmt.Errorf("%s: %w", o.nc.label(), o.out.err)})
			default:
				series = addSeries(series, o.out.series)
			}
		}
		if len(downErrs) > 0 {
			// With replication a failover gives the groups a primary
			// again within about a lease: wait for it (bounded by
			// FailoverWait and ctx), then send them where the map says.
			now := time.Now()
			if failoverUntil.IsZero() {
				failoverUntil = now.Add(c.opts.FailoverWait)
			}
			if c.opts.FailoverWait <= 0 || now.Add(downWait).After(failoverUntil) || !sleepCtx(ctx, downWait) {
				fails = append(fails, downErrs...)
			} else {
				for _, f := range downErrs {
					pending = append(pending, f.groups...)
				}
				downWait = min(2*downWait, 500*time.Millisecond)
				attempt-- // waiting out a failover does not use up the stale-epoch attempts
			}
		}
		if len(switchErrs) > 0 {
			// A move's switch lasts milliseconds: wait for it (with a
			// growing pause, bounded by SwitchWait and ctx), then send
			// the groups to whichever node the map names by then.
			now := time.Now()
			if switchUntil.IsZero() {
				switchUntil = now.Add(c.opts.SwitchWait)
			}
			if now.Add(wait).After(switchUntil) || !sleepCtx(ctx, wait) {
				fails = append(fails, switchErrs...)
				if len(pending) == 0 {
					break
				}
			} else {
				for _, f := range switchErrs {
					pending = append(pending, f.groups...)
				}
				wait = min(2*wait, 200*time.Millisecond)
				attempt-- // a switch does not use up the stale-epoch attempts
			}
		}
		if len(pending) == 0 {
			break
		}
		if attempt >= c.opts.WriteAttempts || ctx.Err() != nil {
			for _, f := range staleErrs {
				fails = append(fails, groupFailure{f.groups, fmt.Errorf("still stale after %d attempts: %w", attempt, f.err)})
			}
			break
		}
		if err := c.topo.Refresh(); err != nil {
			fails = append(fails, groupFailure{pending, fmt.Errorf("refresh the cluster map: %w", err)})
			break
		}
		slices.Sort(pending)
	}
	if final != nil {
		return final
	}
	if len(fails) == 0 {
		if series != nil {
			slices.Sort(series.Points)
			return series
		}
		return nil
	}
	var all []int
	for i := range fails {
		slices.Sort(fails[i].groups)
		all = append(all, fails[i].groups...)
	}
	slices.Sort(all)
	return &WriteError{Groups: slices.Compact(all), Err: failures(fails), op: op}
}

// mergeFinal keeps the first final error, merging the conflicts of
// several nodes into one *storage.ConflictError.
func mergeFinal(have, err error) error {
	var a, b *storage.ConflictError
	if errors.As(have, &a) && errors.As(err, &b) {
		a.Conflicts = append(a.Conflicts, b.Conflicts...)
		sort.SliceStable(a.Conflicts, func(i, j int) bool { return a.Conflicts[i].Point < a.Conflicts[j].Point })
		return a
	}
	if have == nil {
		return err
	}
	return have
}

func routeGroups(rs []Route) []int {
	gs := make([]int, len(rs))
	for i, r := range rs {
		gs[i] = r.Group
	}
	return gs
}

// groupsOf returns each point's group.
func groupsOf(points []model.Point, n int, shard string) []int {
	gs := make([]int, len(points))
	var last *model.Tag
	lastColl, lastGroup := "", -1
	for i := range points {
		p := &points[i]
		if len(p.Tags) > 0 && &p.Tags[0] == last && p.Collection == lastColl {
			gs[i] = lastGroup
			continue
		}
		gs[i] = groupOf(p.Collection, p.Tags, shard, n)
		last, lastColl, lastGroup = nil, p.Collection, gs[i]
		if len(p.Tags) > 0 {
			last = &p.Tags[0]
		}
	}
	return gs
}

// groupOf is a series' group: model.GroupOf of its device.
func groupOf(collection string, tags model.Tags, shard string, n int) int {
	if tags.Has(shard) {
		return model.GroupOf(tags.Get(shard), n)
	}
	return model.GroupOf(model.SeriesKey(collection, tags), n)
}

// Write sends each group's points to the group's primary, one request per
// node (one frame per group) concurrently, and returns once every part is
// durable. Groups whose node answers "stale epoch" are sent again after a
// map refresh. It returns a *WriteError naming the groups not written, or
// a *storage.ConflictError or *storage.RetentionError (point indexes into
// points) when a node refused its part as storage would have, or a
// *storage.SeriesLimitError naming the points nodes refused for beginning
// new series over their limit, the others written.
func (c *Client) Write(ctx context.Context, points []model.Point) error {
	if len(points) == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	n := c.topo.NumGroups()
	if n <= 0 {
		return errNoMap
	}
	// Order the points by group (stable): group g's points are
	// sorted[start[g]:start[g+1]], and perm maps them back.
	gs := groupsOf(points, n, c.topo.ShardTag())
	start := make([]int, n+1)
	for _, g := range gs {
		start[g+1]++
	}
	var groups []int
	for g := range start[:len(start)-1] {
		if start[g+1] > 0 {
			groups = append(groups, g)
		}
		start[g+1] += start[g]
	}
	sorted := make([]model.Point, len(points))
	perm := make([]int, len(points))
	next := slices.Clone(start)
	for i, g := range gs {
		sorted[next[g]], perm[next[g]] = points[i], i
		next[g]++
	}
	w := &groupedWrite{sorted: sorted, perm: perm, start: start}
	return c.fanOut(ctx, groups, "written", c.opts.RequestTimeout, func(ctx context.Context, o *nodeOp) outcome {
		return c.sendWrite(ctx, o, w)
	})
}

// groupedWrite is a batch ordered by group.
type groupedWrite struct {
	sorted []model.Point
	perm   []int // perm[i] is sorted[i]'s index in the caller's batch
	start  []int // group g is sorted[start[g]:start[g+1]]
}

// maxFramePoints bounds a frame's points: a group's share of a large
// batch becomes several frames.
const maxFramePoints = 1 << 16

// piece is one frame of a write: a group's points sorted[lo:hi].
type piece struct {
	r      Route
	lo, hi int
}

// sendWrite sends one node its groups' frames: one request, or several
// when the frames exceed ClientOptions.MaxRequestBytes. It stops at the
// first request that fails, and the outcome is the node's: a retry sends
// every frame again (rewriting what was written is harmless).
func (c *Client) sendWrite(ctx context.Context, o *nodeOp, w *groupedWrite) outcome {
	var pieces []piece
	est := 0
	for _, r := range o.routes {
		lo, end := w.start[r.Group], w.start[r.Group+1]
		est += (wire.FrameOverhead+64)*((end-lo)/maxFramePoints+1) + (end-lo)*(8+7*len(w.sorted[lo].Fields))
		for ; lo < end; lo += maxFramePoints {
			pieces = append(pieces, piece{r, lo, min(lo+maxFramePoints, end)})
		}
	}
	limit := c.opts.MaxRequestBytes
	var (
		body   []byte
		in     []piece // the pieces in body
		err    error
		series *storage.SeriesLimitError
	)
	for i := 0; i < len(pieces); {
		p := pieces[i]
		if body == nil {
			body = make([]byte, 0, min(est, limit+limit/8))
		}
		at := len(body)
		body, err = wire.AppendFrame(body, uint32(p.r.Group), p.r.Epoch, w.sorted[p.lo:p.hi])
		if err != nil {
			return outcome{err: fmt.Errorf("encode group %d: %w", p.r.Group, err), final: true}
		}
		if len(body) > limit && len(in) > 0 {
			// Send what fits; this piece starts the next request.
			out := c.postFrames(ctx, o, w, body[:at], in)
			if out.err != nil {
				return out
			}
			series = addSeries(series, out.series)
			est -= at
			body, in = nil, nil
			continue
		}
		in = append(in, p)
		i++
	}
	out := c.postFrames(ctx, o, w, body, in)
	if out.err == nil {
		out.series = addSeries(series, out.series)
	}
	return out
}

// postFrames sends one write request holding pieces.
func (c *Client) postFrames(ctx context.Context, o *nodeOp, w *groupedWrite, body []byte, pieces []piece) outcome {
	o.nc.m.writes.Add(1)
	resp, err := c.do(ctx, o.nc, http.MethodPost, PathWrite, ContentTypeFrames, body)
	if err != nil {
		return outcome{err: transportError(err), down: true}
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 == 2 {
		io.Copy(io.Discard, resp.Body) //nolint:errcheck // reuse the stream
		return outcome{}
	}
	eb := readErrorBody(resp.Body)
	var order []int // the request's point i is the caller's order[i]
	for _, p := range pieces {
		order = append(order, w.perm[p.lo:p.hi]...)
	}
	return c.errorOutcome(o, resp.StatusCode, eb, order)
}

// errorOutcome turns a node's error answer into an outcome. order maps the
// request's point indexes to the caller's (nil when there are none).
func (c *Client) errorOutcome(o *nodeOp, status int, eb ErrorBody, order []int) outcome {
	mapPoint := func(i int) int {
		if i >= 0 && i < len(order) {
			return order[i]
		}
		return -1
	}
	switch {
	case status == http.StatusConflict && eb.Code == CodeStaleEpoch:
		return outcome{stale: true, err: errors.New(eb.Error)}
	case status == http.StatusServiceUnavailable && eb.Code == CodeSwitching:
		return outcome{switching: true, err: errors.New(eb.Error)}
	case status == http.StatusBadRequest && eb.Code == CodeConflict && len(eb.Conflicts) > 0:
		ce := &storage.ConflictError{Conflicts: eb.Conflicts}
		for i := range ce.Conflicts {
			ce.Conflicts[i].Point = mapPoint(ce.Conflicts[i].Point)
		}
		sort.SliceStable(ce.Conflicts, func(i, j int) bool { return ce.Conflicts[i].Point < ce.Conflicts[j].Point })
		return outcome{err: ce, final: true}
	case status == http.StatusBadRequest && eb.Code == CodeRetention && eb.Retention != nil:
		re := *eb.Retention
		re.Point = mapPoint(re.Point)
		return outcome{err: &re, final: true}
	case status == http.StatusTooManyRequests && eb.Code == CodeSeriesLimit && eb.SeriesLimit != nil:
		sl := *eb.SeriesLimit
		sl.Points = make([]int, 0, len(eb.SeriesLimit.Points))
		for _, i := range eb.SeriesLimit.Points {
			if j := mapPoint(i); j >= 0 {
				sl.Points = append(sl.Points, j)
			}
		}
		return outcome{series: &sl}
	case status == http.StatusServiceUnavailable:
		return outcome{err: errors.New(eb.Error), down: true}
	case status == http.StatusBadGateway, status == http.StatusGatewayTimeout,
		status == http.StatusInternalServerError, status == http.StatusRequestTimeout:
		return outcome{err: errors.New(eb.Error)}
	}
	// A 400 the router's checks did not foresee, a 413, a 404: retrying
	// gives the same answer.
	return outcome{err: fmt.Errorf("%s refused %s (%d): %s", o.nc.label(), groupList(routeGroups(o.routes)), status, eb.Error), final: true}
}

// transportError strips the method and URL Go's client adds (the caller
// names the node).
func transportError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// Flush makes every group's primary flush its memory into files, and
// returns when all have; a node that fails makes it a *WriteError naming
// the groups not flushed.
func (c *Client) Flush(ctx context.Context) error {
	return c.fanOut(ctx, c.allGroups(), "flushed", 0, func(ctx context.Context, o *nodeOp) outcome {
		return c.sendAdmin(ctx, o, PathFlush)
	})
}

// Compact makes every group's primary compact its files.
func (c *Client) Compact(ctx context.Context) error {
	return c.fanOut(ctx, c.allGroups(), "compacted", 0, func(ctx context.Context, o *nodeOp) outcome {
		return c.sendAdmin(ctx, o, PathCompact)
	})
}

func (c *Client) allGroups() []int {
	gs := make([]int, c.topo.NumGroups())
	for i := range gs {
		gs[i] = i
	}
	return gs
}

func (c *Client) sendAdmin(ctx context.Context, o *nodeOp, path string) outcome {
	resp, err := c.do(ctx, o.nc, http.MethodPost, path, "", nil)
	if err != nil {
		return outcome{err: transportError(err)}
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 == 2 {
		io.Copy(io.Discard, resp.Body) //nolint:errcheck // reuse the stream
		return outcome{}
	}
	eb := readErrorBody(resp.Body)
	out := c.errorOutcome(o, resp.StatusCode, eb, nil)
	if !out.stale {
		out.final = false // the node is unwell: name its groups
	}
	return out
}

// Delete removes the points of the listed series of the collection in
// [min, max] on the primaries of the series' groups, and returns once
// every one has; a node that fails makes it a *WriteError naming the
// groups not deleted.
func (c *Client) Delete(ctx context.Context, collection string, series []model.Tags, min, max int64) error {
	if min > max || len(series) == 0 {
		return nil
	}
	n, shard := c.topo.NumGroups(), c.topo.ShardTag()
	if n <= 0 {
		return errNoMap
	}
	byGroup := make(map[int][][][2]string)
	for _, tags := range series {
		g := groupOf(collection, tags, shard, n)
		pairs := make([][2]string, len(tags))
		for i, t := range tags {
			pairs[i] = [2]string{t.Key, t.Value}
		}
		byGroup[g] = append(byGroup[g], pairs)
	}
	groups := make([]int, 0, len(byGroup))
	for g := range byGroup {
		groups = append(groups, g)
	}
	slices.Sort(groups)
	return c.fanOut(ctx, groups, "deleted", c.opts.RequestTimeout, func(ctx context.Context, o *nodeOp) outcome {
		req := DeleteRequest{Collection: collection, Min: min, Max: max}
		for _, r := range o.routes {
			req.Groups = append(req.Groups, DeleteGroup{Group: r.Group, Epoch: r.Epoch, Series: byGroup[r.Group]})
		}
		body, err := json.Marshal(req)
		if err != nil {
			return outcome{err: err, final: true}
		}
		resp, err := c.do(ctx, o.nc, http.MethodPost, PathDelete, "application/json", body)
		if err != nil {
			return outcome{err: transportError(err), down: true}
		}
		defer resp.Body.Close()
		if resp.StatusCode/100 == 2 {
			io.Copy(io.Discard, resp.Body) //nolint:errcheck // reuse the stream
			return outcome{}
		}
		return c.errorOutcome(o, resp.StatusCode, readErrorBody(resp.Body), nil)
	})
}

// sleepCtx waits d, or less when ctx ends first; it reports whether it
// waited the whole d.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
