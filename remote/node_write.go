package remote

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/soltixdb/soltix/internal/seriesrate"
	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/remote/wire"
	"github.com/soltixdb/soltix/storage"
)

// ContentTypeFrames is the content type of a write request's body.
const ContentTypeFrames = "application/x-soltix-frames"

// writeRoutes registers the write and admin routes.
func (n *Node) writeRoutes() {
	n.mux.Post(PathWrite, n.serveWrite)
	n.mux.Post(PathFlush, n.serveFlush)
	n.mux.Post(PathCompact, n.serveCompact)
	n.mux.Post(PathDelete, n.serveDelete)
	n.mux.Get(PathHealth, n.serveHealth)
}

// readBody reads a request body of at most limit bytes within timeout;
// the status is 413 for a larger one, 408 for one that does not arrive in
// time. Memory grows with the bytes that arrive: a declared length makes
// the buffer at most preGrow bytes before they do.
func readBody(w http.ResponseWriter, r *http.Request, limit int64, timeout time.Duration) ([]byte, int, error) {
	if r.ContentLength > limit {
		return nil, http.StatusRequestEntityTooLarge, fmt.Errorf("body of %d bytes exceeds the limit of %d", r.ContentLength, limit)
	}
	// Not every ResponseWriter has deadlines (a test recorder); HTTP/1.1
	// and HTTP/2 ones do.
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(timeout))
	var b bytes.Buffer
	if r.ContentLength > 0 {
		b.Grow(int(min(r.ContentLength, preGrow)) + bytes.MinRead)
	}
	if _, err := b.ReadFrom(http.MaxBytesReader(w, r.Body, limit)); err != nil {
		var mb *http.MaxBytesError
		switch {
		case errors.As(err, &mb):
			return nil, http.StatusRequestEntityTooLarge, fmt.Errorf("body exceeds the limit of %d bytes", limit)
		case errors.Is(err, os.ErrDeadlineExceeded):
			return nil, http.StatusRequestTimeout, fmt.Errorf("body not read within %s (%d bytes arrived)", timeout, b.Len())
		}
		return nil, http.StatusBadRequest, fmt.Errorf("read body: %w", err)
	}
	return b.Bytes(), 0, nil
}

// preGrow bounds what a body's declared length reserves before it
// arrives.
const preGrow = 1 << 20

// batchPool holds decoded batches for reuse: storage.DB.Write keeps no
// point or field slice after it returns (httpapi.Store's contract), so the
// next request decodes into the same memory. Whatever else sees the
// decoded points (a group move's tail log) must copy what it keeps past
// the handler: the []model.Point array and each point's Fields are reused
// (tags and strings are not).
var batchPool = sync.Pool{New: func() any { return new(wire.Batch) }}

// serveWrite serves POST /internal/v1/write: frames of points, one per
// group, written in one storage.DB.Write (one WAL record) once every
// frame's group is this node's at the frame's epoch and every point
// belongs to its frame's group.
func (n *Node) serveWrite(w http.ResponseWriter, r *http.Request) {
	fail := func(status int, body ErrorBody) {
		n.metrics.writeErrors.Add(1)
		if status == http.StatusConflict {
			n.metrics.staleEpochs.Add(1)
		}
		n.metrics.bytesSent.Add(uint64(writeJSON(w, status, body)))
	}
	body, status, err := readBody(w, r, n.opts.MaxBodyBytes, n.opts.BodyTimeout)
	n.metrics.bytesRecv.Add(uint64(len(body)))
	if err != nil {
		code := CodeBadRequest
		if status == http.StatusRequestEntityTooLarge {
			code = CodeTooLarge
		}
		fail(status, ErrorBody{Error: "write: " + err.Error(), Code: code})
		return
	}
	batch := batchPool.Get().(*wire.Batch)
	defer func() {
		batch.Release()
		batchPool.Put(batch)
	}()
	if err := wire.DecodeInto(batch, body, wire.Limits{MaxFrameBytes: int(n.opts.MaxBodyBytes)}); err != nil {
		fail(http.StatusBadRequest, ErrorBody{Error: "write: " + err.Error(), Code: CodeBadRequest})
		return
	}
	groups := n.topo.NumGroups()
	shard := n.topo.ShardTag()
	var stale []int
	refreshed := false
	for i, f := range batch.Frames {
		if int64(f.Group) >= int64(groups) {
			fail(http.StatusBadRequest, ErrorBody{Error: fmt.Sprintf("write: frame %d: group %d of %d groups", i, f.Group, groups), Code: CodeBadRequest})
			return
		}
		if !n.owns(int(f.Group), f.Epoch, &refreshed) {
			stale = append(stale, int(f.Group))
		}
	}
	if len(stale) > 0 {
		slices.Sort(stale)
		stale = slices.Compact(stale)
		fail(http.StatusConflict, ErrorBody{
			Error:  fmt.Sprintf("write: node %s does not hold %s at the epochs sent", n.opts.NodeID, groupList(stale)),
			Code:   CodeStaleEpoch,
			Groups: stale,
		})
		return
	}
	at := 0
	for _, f := range batch.Frames {
		if i, g := wrongGroup(f.Points, int(f.Group), groups, shard); i >= 0 {
			fail(http.StatusBadRequest, ErrorBody{
				Error: fmt.Sprintf("write: point %d belongs to group %d, not to its frame's group %d", at+i, g, f.Group),
				Code:  CodeBadRequest,
			})
			return
		}
		at += len(f.Points)
	}
	points, frames := batch.Points, batch.Frames
	var seriesRefused []int
	var grant seriesrate.Grant
	if n.series != nil {
		seriesRefused, grant = n.series.Admit(points, n.db.NewSeries(points), n.opts.Now())
		if len(seriesRefused) > 0 {
			points, frames = dropPoints(batch.Frames, len(batch.Points), seriesRefused)
		}
	}
	apply := func() error { return n.db.Write(r.Context(), points) }
	var wait func(context.Context) error
	if lg := n.opts.Log; lg != nil {
		write := apply
		apply = func() (err error) {
			wait, err = lg.Write(r.Context(), frameWrites(frames), write)
			return err
		}
	}
	switch {
	case len(points) == 0 && len(seriesRefused) > 0:
		// Every point refused: nothing to write, replicate or gate.
	case n.opts.Gate != nil:
		err = n.opts.Gate.Write(frameWrites(frames), apply)
	default:
		err = apply()
	}
	if err == nil && len(points) > 0 && n.opts.Log != nil && n.ackReplicated(points) {
		err = n.waitReplicated(r.Context(), wait)
	}
	if err != nil {
		n.series.GiveBack(grant)
		status, eb := gateErrorBody(err)
		if status >= 500 {
			n.log.WarnContext(r.Context(), "internal write", "points", len(points), "err", err)
		}
		if eb.Code == CodeRetention && eb.Retention != nil && len(seriesRefused) > 0 {
			// Its index is into the points written: make it the request's.
			eb.Retention.Point = keptIndex(eb.Retention.Point, seriesRefused)
		}
		if eb.Code == CodeConflict && len(seriesRefused) > 0 {
			for i := range eb.Conflicts {
				eb.Conflicts[i].Point = keptIndex(eb.Conflicts[i].Point, seriesRefused)
			}
		}
		eb.Error = "write: " + eb.Error
		fail(status, eb)
		return
	}
	n.metrics.writes.Add(1)
	n.metrics.points.Add(uint64(len(points)))
	if len(seriesRefused) > 0 {
		n.metrics.seriesRefused.Add(uint64(len(seriesRefused)))
		sl := &storage.SeriesLimitError{Points: seriesRefused, Limit: n.series.Rate(), RetryAfter: n.series.RetryAfter()}
		w.Header().Set("Retry-After", strconv.Itoa(sl.RetryAfter))
		n.metrics.bytesSent.Add(uint64(writeJSON(w, http.StatusTooManyRequests, ErrorBody{
			Error: "write: " + sl.Error() + "; the other points were written", Code: CodeSeriesLimit, SeriesLimit: sl})))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// dropPoints returns the points of frames (n in all) without those at the
// indexes drop (ascending, across frames in order), and frames over them.
func dropPoints(frames []wire.Frame, n int, drop []int) ([]model.Point, []wire.Frame) {
	points := make([]model.Point, 0, n-len(drop))
	out := make([]wire.Frame, 0, len(frames))
	at, next := 0, 0
	for _, f := range frames {
		lo := len(points)
		for _, p := range f.Points {
			if next < len(drop) && drop[next] == at {
				next++
			} else {
				points = append(points, p)
			}
			at++
		}
		if len(points) > lo {
			out = append(out, wire.Frame{Group: f.Group, Epoch: f.Epoch, Points: points[lo:len(points):len(points)]})
		}
	}
	return points, out
}

// keptIndex maps an index into the points kept after dropping those at
// the indexes dropped (ascending) back to its index in the request.
func keptIndex(i int, dropped []int) int {
	for _, d := range dropped {
		if d > i {
			break
		}
		i++
	}
	return i
}

// ackReplicated reports whether a write of points answers only once it is
// replicated: when a collection of them says so (setting ack), or says
// nothing and the node's default is NodeOptions.WaitReplicated.
func (n *Node) ackReplicated(points []model.Point) bool {
	last := ""
	for i := range points {
		if c := points[i].Collection; c != last {
			if n.ackReplicatedColl(c) {
				return true
			}
			last = c
		}
	}
	return false
}

func (n *Node) ackReplicatedColl(collection string) bool {
	switch n.db.CollectionSettings(collection).Ack {
	case storage.AckLocal:
		return false
	case storage.AckReplicated:
		return true
	}
	return n.opts.WaitReplicated
}

// waitReplicated waits for a change's replication (nothing to wait for
// without a WriteLog).
func (n *Node) waitReplicated(ctx context.Context, wait func(context.Context) error) error {
	if wait == nil {
		return nil
	}
	if err := wait(ctx); err != nil {
		return fmt.Errorf("%w: %w", ErrNotReplicated, err)
	}
	return nil
}

// wrongGroup returns the first point not in group g and its group, or -1.
func wrongGroup(points []model.Point, g, groups int, shard string) (int, int) {
	var last *model.Tag
	for i := range points {
		p := &points[i]
		// Decoded points of one series share their tags.
		if len(p.Tags) > 0 && &p.Tags[0] == last {
			continue
		}
		if len(p.Tags) > 0 {
			last = &p.Tags[0]
		}
		var device string
		if p.Tags.Has(shard) {
			device = p.Tags.Get(shard)
		} else {
			device = model.SeriesKey(p.Collection, p.Tags)
		}
		if pg := model.GroupOf(device, groups); pg != g {
			return i, pg
		}
	}
	return -1, 0
}

// storageErrorBody maps an error of a storage.DB call to a status and an
// internal error body.
func storageErrorBody(err error) (int, ErrorBody) {
	var ce *storage.ConflictError
	var re *storage.RetentionError
	switch {
	case errors.As(err, &ce):
		return http.StatusBadRequest, ErrorBody{Error: err.Error(), Code: CodeConflict, Conflicts: ce.Conflicts}
	case errors.As(err, &re):
		return http.StatusBadRequest, ErrorBody{Error: err.Error(), Code: CodeRetention, Retention: re}
	case errors.Is(err, storage.ErrUnavailable), errors.Is(err, storage.ErrClosed), errors.Is(err, storage.ErrBackpressure),
		errors.Is(err, ErrNotReplicated),
		errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable, ErrorBody{Error: err.Error(), Code: CodeUnavailable}
	}
	// storage refuses a malformed batch with a plain error.
	return http.StatusBadRequest, ErrorBody{Error: err.Error(), Code: CodeBadRequest}
}

func (n *Node) serveFlush(w http.ResponseWriter, r *http.Request) {
	n.serveAdmin(w, r, "flush", n.db.Flush)
}

func (n *Node) serveCompact(w http.ResponseWriter, r *http.Request) {
	n.serveAdmin(w, r, "compact", n.db.Compact)
}

func (n *Node) serveAdmin(w http.ResponseWriter, r *http.Request, op string, f func(context.Context) error) {
	if err := f(r.Context()); err != nil {
		status, eb := storageErrorBody(err)
		if status == http.StatusBadRequest { // nothing a flush is asked is malformed
			status, eb.Code = http.StatusInternalServerError, ""
		}
		n.log.WarnContext(r.Context(), "internal "+op, "err", err)
		eb.Error = op + ": " + eb.Error
		writeJSON(w, status, eb)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// DeleteRequest is the JSON body of POST /internal/v1/delete: the points
// of the listed series of a collection in [Min, Max], for groups the node
// holds at the given epochs.
type DeleteRequest struct {
	Collection string        `json:"collection"`
	Min        int64         `json:"min"`
	Max        int64         `json:"max"`
	Groups     []DeleteGroup `json:"groups"`
}

// DeleteGroup is one group's share of a DeleteRequest.
type DeleteGroup struct {
	Group int    `json:"group"`
	Epoch uint64 `json:"epoch"`
	// Series lists each series' tags as [key, value] pairs.
	Series [][][2]string `json:"series"`
}

// maxDeleteBody bounds a delete request (series lists come from the
// router's index).
const maxDeleteBody = 256 << 20

func (n *Node) serveDelete(w http.ResponseWriter, r *http.Request) {
	body, status, err := readBody(w, r, maxDeleteBody, n.opts.BodyTimeout)
	if err != nil {
		writeJSONError(w, status, "delete: "+err.Error(), CodeBadRequest)
		return
	}
	var req DeleteRequest
	if err := json.Unmarshal(body, &req); err != nil {
		writeJSONError(w, http.StatusBadRequest, "delete: bad body: "+err.Error(), CodeBadRequest)
		return
	}
	groups, shard := n.topo.NumGroups(), n.topo.ShardTag()
	var stale []int
	var series []model.Tags
	refreshed := false
	for _, g := range req.Groups {
		if g.Group < 0 || g.Group >= groups {
			writeJSONError(w, http.StatusBadRequest, fmt.Sprintf("delete: group %d of %d groups", g.Group, groups), CodeBadRequest)
			return
		}
		if !n.owns(g.Group, g.Epoch, &refreshed) {
			stale = append(stale, g.Group)
			continue
		}
		for _, pairs := range g.Series {
			tags := make(model.Tags, len(pairs))
			for i, kv := range pairs {
				tags[i] = model.Tag{Key: kv[0], Value: kv[1]}
			}
			p := model.Point{Collection: req.Collection, Tags: tags}
			if i, pg := wrongGroup([]model.Point{p}, g.Group, groups, shard); i >= 0 {
				writeJSONError(w, http.StatusBadRequest, fmt.Sprintf("delete: series %s belongs to group %d, not %d",
					model.SeriesKey(req.Collection, tags), pg, g.Group), CodeBadRequest)
				return
			}
			series = append(series, tags)
		}
	}
	if len(stale) > 0 {
		slices.Sort(stale)
		stale = slices.Compact(stale)
		writeJSON(w, http.StatusConflict, ErrorBody{
			Error:  fmt.Sprintf("delete: node %s does not hold %s at the epochs sent", n.opts.NodeID, groupList(stale)),
			Code:   CodeStaleEpoch,
			Groups: stale,
		})
		return
	}
	apply := func() error { return n.db.Delete(r.Context(), req.Collection, series, req.Min, req.Max) }
	var wait func(context.Context) error
	if lg := n.opts.Log; lg != nil {
		del := apply
		apply = func() (err error) {
			wait, err = lg.Delete(r.Context(), req.Collection, deleteGroups(req.Groups), req.Min, req.Max, del)
			return err
		}
	}
	if n.opts.Gate != nil {
		err = n.opts.Gate.Delete(req.Collection, deleteGroups(req.Groups), req.Min, req.Max, apply)
	} else {
		err = apply()
	}
	if err == nil && n.opts.Log != nil && n.ackReplicatedColl(req.Collection) {
		err = n.waitReplicated(r.Context(), wait)
	}
	if err != nil {
		status, eb := gateErrorBody(err)
		eb.Error = "delete: " + eb.Error
		writeJSON(w, status, eb)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// HealthBody is the JSON answer of GET /internal/v1/health.
type HealthBody struct {
	Node string `json:"node"`
	// OK is false when the WAL failed (every write fails until restart).
	OK                       bool   `json:"ok"`
	WALError                 string `json:"wal_error,omitempty"`
	LastFlushError           string `json:"last_flush_error,omitempty"`
	ConsecutiveFlushFailures int    `json:"consecutive_flush_failures"`
	MemoryPoints             int    `json:"memory_points"`
	MemoryLimit              int    `json:"memory_limit"`
}

func (n *Node) serveHealth(w http.ResponseWriter, r *http.Request) {
	h := n.db.Health()
	b := HealthBody{
		Node:                     n.opts.NodeID,
		OK:                       h.WALError == nil,
		ConsecutiveFlushFailures: h.ConsecutiveFlushFailures,
		MemoryPoints:             h.MemoryPoints,
		MemoryLimit:              h.MemoryLimit,
	}
	if h.WALError != nil {
		b.WALError = h.WALError.Error()
	}
	if h.LastFlushError != nil {
		b.LastFlushError = h.LastFlushError.Error()
	}
	status := http.StatusOK
	if !b.OK {
		status = http.StatusServiceUnavailable
	}
	writeJSON(w, status, b)
}

// groupList names groups: "group 3" or "groups 3, 7"; past
// maxListedGroups it says how many more there are.
func groupList(gs []int) string {
	var b strings.Builder
	if len(gs) == 1 {
		b.WriteString("group ")
	} else {
		b.WriteString("groups ")
	}
	for i, g := range gs {
		if i == maxListedGroups {
			fmt.Fprintf(&b, " and %d more", len(gs)-i)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprint(&b, g)
	}
	return b.String()
}

// maxListedGroups bounds the groups an error message lists.
const maxListedGroups = 64
