// Group moves, the new node's side: asked by the coordinator, it pulls a
// group from its primary (the snapshot's files, then the tail of writes the
// primary accepted since), and at the switch the final tail.

package remote

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// pull is a group this node is receiving.
type pull struct {
	move     uint64     // the epoch at which the map named the group moving here
	source   string     // the primary it comes from
	addr     string     // the primary's base URL
	mu       sync.Mutex // held by the request working on the pull
	next     uint64     // the first tail batch not applied yet; guarded by mu
	imported bool       // guarded by mu
	ctx      context.Context
	cancel   context.CancelFunc
	// replica marks a copy for a replica (replica_copy.go), which the
	// sweep leaves alone: the map does not move the group.
	replica bool
}

// pullAnswer is the JSON answer of PathMovePull.
type pullAnswer struct {
	Group int    `json:"group"`
	Move  uint64 `json:"move"`
	// Next is the number of the first tail batch not applied yet.
	Next uint64 `json:"next"`
	// Files and Bytes count what the copy downloaded.
	Files int   `json:"files"`
	Bytes int64 `json:"bytes"`
}

// servePull makes this node take a group: POST
// /internal/v1/groups/{g}/pull?epoch=E&source=NODE[&final=1]. Without final,
// E is the epoch at which the map moves the group from NODE to this node:
// the node drops whatever it held of the group, copies NODE's snapshot,
// imports it and applies NODE's tail until it has caught up, then answers
// (JSON pullAnswer). With final=1 (same E), NODE is fenced — it takes no
// more of the group's writes — and this node applies the rest of the tail.
func (m *Moves) servePull(w http.ResponseWriter, r *http.Request) {
	p, err := m.params(r)
	if err != nil {
		moveBadRequest(w, err)
		return
	}
	info, ok := m.entryAt(p.g, p.epoch)
	if !ok || info.State != StateMoving || info.MovingTo != m.opts.NodeID || info.Primary != p.source || p.source == "" {
		m.staleEpoch(w, p.g, p.epoch, info)
		return
	}
	var ans pullAnswer
	if p.final {
		ans, err = m.pullFinal(r.Context(), p.g, p.epoch, info)
	} else {
		ans, err = m.pullCopy(r.Context(), p.g, p.epoch, info)
	}
	if err != nil {
		status := http.StatusServiceUnavailable
		var se *StaleEpochError
		if errors.As(err, &se) {
			status = http.StatusConflict
		}
		m.metrics.pullsFailed.Add(1)
		m.log.Warn("pull a group", "group", p.g, "epoch", p.epoch, "source", p.source, "final", p.final, "err", err)
		moveJSON(w, status, moveError{Error: err.Error(), Code: codeOf(status), Groups: []int{p.g}})
		return
	}
	if !p.final {
		m.metrics.pullsDone.Add(1)
	}
	moveJSON(w, http.StatusOK, ans)
}

func codeOf(status int) string {
	if status == http.StatusConflict {
		return "stale_epoch"
	}
	return "unavailable"
}

// pullCopy copies group g from its primary and follows its tail until it
// has caught up. On failure what was imported is dropped.
func (m *Moves) pullCopy(ctx context.Context, g int, epoch uint64, info GroupInfo) (pullAnswer, error) {
	addr, ok := m.view.NodeAddr(info.Primary)
	if !ok {
		return pullAnswer{}, fmt.Errorf("group %d: node %q has no address in the map", g, info.Primary)
	}
	pctx, cancel := context.WithCancel(context.Background())
	pl := &pull{move: epoch, source: info.Primary, addr: addr, ctx: pctx, cancel: cancel}
	// Register the pull and drop stale data under the gate, so that a
	// sweep sees either no pull and nothing imported, or the pull.
	gt := &m.gates[g]
	gt.mu.Lock()
	m.mu.Lock()
	if old := m.pulls[g]; old != nil {
		old.cancel()
	}
	m.pulls[g] = pl
	m.mu.Unlock()
	err := m.db.DropGroup(ctx, g)
	gt.mu.Unlock()
	if err != nil {
		m.endPull(context.Background(), g, pl)
		return pullAnswer{}, fmt.Errorf("drop group %d before a copy: %w", g, err)
	}
	ans, err := m.copyGroup(ctx, g, pl)
	if err != nil {
		m.endPull(context.Background(), g, pl)
		m.tellAbort(pl, g, epoch)
		return ans, err
	}
	return ans, nil
}

// copyGroup downloads and imports the snapshot and applies the tail until
// it has caught up. It holds pl.mu.
func (m *Moves) copyGroup(ctx context.Context, g int, pl *pull) (pullAnswer, error) {
	pl.mu.Lock()
	defer pl.mu.Unlock()
	ctx, stop := mergeCancel(ctx, pl.ctx)
	defer stop()
	ans := pullAnswer{Group: g, Move: pl.move}
	q := url.Values{"epoch": {strconv.FormatUint(pl.move, 10)}, "to": {m.opts.NodeID}}
	var snap snapshotAnswer
	if err := m.callJSON(ctx, http.MethodPost, pl.addr+groupPath(g, "snapshot")+"?"+q.Encode(), &snap); err != nil {
		return ans, fmt.Errorf("snapshot group %d on %s: %w", g, pl.source, err)
	}
	src := &remoteSource{m: m, ctx: ctx, g: g, pl: pl, files: snap.Files}
	if err := m.importUnderGate(ctx, g, pl, src); err != nil {
		return ans, err
	}
	if snap.Position > 0 {
		if err := m.db.SetApplied(g, snap.Position); err != nil {
			return ans, fmt.Errorf("group %d: record the copy's replication position: %w", g, err)
		}
	}
	ans.Files, ans.Bytes = src.got, src.bytes
	pl.imported = true
	if err := m.applyTail(ctx, g, pl, pl.move, false); err != nil {
		return ans, err
	}
	ans.Next = pl.next
	m.log.Info("copied a group", "group", g, "source", pl.source, "epoch", pl.move, "files", ans.Files, "bytes", ans.Bytes, "tail", pl.next)
	return ans, nil
}

// importUnderGate imports the snapshot unless the pull was ended.
func (m *Moves) importUnderGate(ctx context.Context, g int, pl *pull, src ImportSource) error {
	gt := &m.gates[g]
	gt.mu.Lock()
	defer gt.mu.Unlock()
	if m.currentPull(g) != pl {
		return fmt.Errorf("group %d: move %d ended during its copy", g, pl.move)
	}
	if err := m.db.ImportGroup(ctx, g, src); err != nil {
		return fmt.Errorf("import group %d: %w", g, err)
	}
	return nil
}

// pullFinal fences the source and applies the rest of group g's tail.
func (m *Moves) pullFinal(ctx context.Context, g int, epoch uint64, info GroupInfo) (pullAnswer, error) {
	pl := m.currentPull(g)
	if pl == nil {
		return pullAnswer{}, &StaleEpochError{Group: g, Epoch: epoch}
	}
	pl.mu.Lock()
	defer pl.mu.Unlock()
	if pl.source != info.Primary || pl.move != epoch || !pl.imported {
		return pullAnswer{}, &StaleEpochError{Group: g, Epoch: epoch}
	}
	ctx, stop := mergeCancel(ctx, pl.ctx)
	defer stop()
	if err := m.applyTail(ctx, g, pl, epoch, true); err != nil {
		return pullAnswer{}, err
	}
	m.log.Info("took a group's final tail", "group", g, "source", pl.source, "epoch", epoch, "tail", pl.next)
	return pullAnswer{Group: g, Move: pl.move, Next: pl.next}, nil
}

// applyTail asks the source for tail batches from pl.next and writes them
// here, in order, until an answer has held every batch the source had.
func (m *Moves) applyTail(ctx context.Context, g int, pl *pull, epoch uint64, final bool) error {
	for {
		q := url.Values{"epoch": {strconv.FormatUint(epoch, 10)}, "move": {strconv.FormatUint(pl.move, 10)},
			"from": {strconv.FormatUint(pl.next, 10)}}
		if final {
			q.Set("final", "1")
		}
		resp, err := m.call(ctx, http.MethodGet, pl.addr+groupPath(g, "tail")+"?"+q.Encode())
		if err != nil {
			return fmt.Errorf("tail of group %d from %s: %w", g, pl.source, err)
		}
		// An answer holds at most the source's whole tail, which its
		// TailMaxBytes bounds like ours: a longer one is not a tail.
		limit := m.opts.TailMaxBytes + 1<<20
		body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
		resp.Body.Close()
		if err != nil {
			return fmt.Errorf("tail of group %d from %s: %w", g, pl.source, err)
		}
		if int64(len(body)) > limit {
			return fmt.Errorf("tail of group %d from %s: answer longer than %d bytes", g, pl.source, limit)
		}
		next, err1 := strconv.ParseUint(resp.Header.Get(headerTailNext), 10, 64)
		end, err2 := strconv.ParseUint(resp.Header.Get(headerTailEnd), 10, 64)
		if err1 != nil || err2 != nil || next < pl.next || end < next {
			return fmt.Errorf("tail of group %d from %s: bad batch numbers %q, %q", g, pl.source, resp.Header.Get(headerTailNext), resp.Header.Get(headerTailEnd))
		}
		want := pl.next
		for len(body) > 0 {
			e, rest, err := decodeTailRecord(body)
			if err != nil {
				return fmt.Errorf("tail of group %d from %s: %w", g, pl.source, err)
			}
			if e.Seq != want {
				return fmt.Errorf("tail of group %d from %s: batch %d where %d was due", g, pl.source, e.Seq, want)
			}
			if d := e.Delete; d != nil {
				err = m.db.Delete(ctx, d.Collection, d.Series, d.Min, d.Max)
			} else {
				err = m.db.Write(ctx, e.Points)
			}
			if err != nil {
				return fmt.Errorf("apply the tail of group %d: %w", g, err)
			}
			m.metrics.tailApplied.Add(1)
			want++
			body = rest
		}
		if want != next {
			return fmt.Errorf("tail of group %d from %s: %d batches where %d were announced", g, pl.source, want-pl.next, next-pl.next)
		}
		pl.next = next
		if next == end {
			return nil
		}
	}
}

// remoteSource is the source's snapshot as ImportGroup reads it: each
// file streamed from the source as it is opened.
type remoteSource struct {
	m     *Moves
	ctx   context.Context
	g     int
	pl    *pull
	files []GroupFile
	got   int   // files downloaded whole
	bytes int64 // their bytes
}

// Files lists the snapshot's files.
func (s *remoteSource) Files() []GroupFile { return s.files }

// Open streams one file from the source. Its reader fails at the end of
// the body unless the size and the CRC-32C the source sent match.
func (s *remoteSource) Open(path string) (io.ReadCloser, error) {
	size := int64(-1)
	for _, f := range s.files {
		if f.Path == path {
			size = f.Size
		}
	}
	if size < 0 {
		return nil, fmt.Errorf("group %d: %q is not in the snapshot", s.g, path)
	}
	q := url.Values{"epoch": {strconv.FormatUint(s.pl.move, 10)}, "move": {strconv.FormatUint(s.pl.move, 10)}}
	resp, err := s.m.call(s.ctx, http.MethodGet, s.pl.addr+groupPath(s.g, "files/"+escapePath(path))+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("download %s of group %d: %w", path, s.g, err)
	}
	return &checkedBody{src: s, resp: resp, path: path, size: size, h: crc32.New(castagnoli)}, nil
}

// checkedBody is a downloaded file's body, checked at its end.
type checkedBody struct {
	src  *remoteSource
	resp *http.Response
	path string
	size int64
	n    int64
	h    hash.Hash32
	err  error
}

func (b *checkedBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if rest := b.size + 1 - b.n; int64(len(p)) > rest {
		p = p[:rest] // read one byte past the size to see a longer body
	}
	n, err := b.resp.Body.Read(p)
	b.n += int64(n)
	b.h.Write(p[:n])
	switch {
	case b.n > b.size:
		err = fmt.Errorf("download %s of group %d: more than the %d bytes listed", b.path, b.src.g, b.size)
	case err == io.EOF:
		if b.n != b.size {
			err = fmt.Errorf("download %s of group %d: %d bytes where %d were listed", b.path, b.src.g, b.n, b.size)
		} else if got, want := strconv.FormatUint(uint64(b.h.Sum32()), 10), b.resp.Trailer.Get(headerCRC); got != want {
			err = fmt.Errorf("download %s of group %d: checksum %s, the source's %q", b.path, b.src.g, got, want)
		} else {
			b.src.got++
			b.src.bytes += b.n
		}
	case err != nil:
		err = fmt.Errorf("download %s of group %d: %w", b.path, b.src.g, err)
	}
	if err != nil {
		b.err = err
	}
	return n, err
}

func (b *checkedBody) Close() error { return b.resp.Body.Close() }

// currentPull returns the pull of group g in progress.
func (m *Moves) currentPull(g int) *pull {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.pulls[g]
}

// endPull ends a pull: it stops it and drops what it imported, unless the
// map names this node the group's primary by now (the move finished).
func (m *Moves) endPull(ctx context.Context, g int, pl *pull) error {
	pl.cancel()
	gt := &m.gates[g]
	gt.mu.Lock()
	defer gt.mu.Unlock()
	m.mu.Lock()
	if m.pulls[g] != pl {
		m.mu.Unlock()
		return nil
	}
	delete(m.pulls, g)
	m.mu.Unlock()
	if info, ok := m.view.Group(g); ok && info.Primary == m.opts.NodeID {
		return nil
	}
	if err := m.db.DropGroup(ctx, g); err != nil {
		return fmt.Errorf("drop group %d after its move ended: %w", g, err)
	}
	m.metrics.drops.Add(1)
	m.log.Info("dropped a group whose move here ended", "group", g, "epoch", pl.move)
	return nil
}

// abortPull ends group g's pull of move (any pull when move is 0) unless the
// map entry info names this node the group's primary.
func (m *Moves) abortPull(ctx context.Context, g int, move uint64, info GroupInfo) error {
	pl := m.currentPull(g)
	if pl == nil || (move != 0 && pl.move != move) {
		return nil
	}
	return m.endPull(ctx, g, pl)
}

// sweepPull ends group g's pull once the map no longer moves the group here
// (the move failed, or another began) — or forgets it once the map names
// this node the primary (the move finished).
func (m *Moves) sweepPull(g int, info GroupInfo) {
	pl := m.currentPull(g)
	if pl == nil || info.Epoch < pl.move || pl.replica {
		return
	}
	if info.Primary == m.opts.NodeID {
		m.mu.Lock()
		if m.pulls[g] == pl {
			delete(m.pulls, g)
		}
		m.mu.Unlock()
		pl.cancel()
		return
	}
	if info.State == "" || info.MovingTo != m.opts.NodeID || info.Primary != pl.source {
		if err := m.endPull(context.Background(), g, pl); err != nil {
			m.log.Warn("end a pull", "group", g, "err", err)
		}
	}
}

// tellAbort asks the source to end its copy (best effort: it also ends it
// when its map moves on).
func (m *Moves) tellAbort(pl *pull, g int, epoch uint64) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	q := url.Values{"epoch": {strconv.FormatUint(epoch, 10)}, "move": {strconv.FormatUint(pl.move, 10)}}
	resp, err := m.call(ctx, http.MethodPost, pl.addr+groupPath(g, "abort")+"?"+q.Encode())
	if err == nil {
		resp.Body.Close()
	}
}

// call sends a body-less request and returns a 2xx response; any other
// status becomes an error carrying the answer's message.
func (m *Moves) call(ctx context.Context, method, u string) (*http.Response, error) {
	return callNode(ctx, m.http, method, u)
}

func (m *Moves) callJSON(ctx context.Context, method, u string, v any) error {
	resp, err := m.call(ctx, method, u)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return decodeJSON(resp, v)
}

// decodeJSON decodes a JSON answer.
func decodeJSON(resp *http.Response, v any) error {
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(v); err != nil {
		return fmt.Errorf("decode the answer of %s: %w", resp.Request.URL.Path, err)
	}
	return nil
}

// NodeError is a node's non-2xx answer to a move request.
type NodeError struct {
	Status int
	Code   string
	Msg    string
}

func (e *NodeError) Error() string {
	return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Msg)
}

func callNode(ctx context.Context, c *http.Client, method, u string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return nil, err
	}
	setRequestID(req)
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		var e moveError
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if json.Unmarshal(b, &e) != nil || e.Error == "" {
			e.Error = strings.TrimSpace(string(b))
		}
		return nil, &NodeError{Status: resp.StatusCode, Code: e.Code, Msg: e.Error}
	}
	return resp, nil
}

func groupPath(g int, rest string) string {
	return "/internal/v1/groups/" + strconv.Itoa(g) + "/" + rest
}

// escapePath escapes each segment of a slash-separated path.
func escapePath(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.Join(segs, "/")
}

// mergeCancel returns a context of a that b's end cancels too.
func mergeCancel(a, b context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(a)
	stop := context.AfterFunc(b, cancel)
	return ctx, func() { stop(); cancel() }
}

// newH2Client returns an HTTP client speaking only HTTP/2 for
// node-to-node move traffic: over mutual TLS with t, cleartext (prior
// knowledge) without.
func newH2Client(t *ClusterTLS) *http.Client {
	return NewInternalClient(t, 0)
}
