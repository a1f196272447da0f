// Group moves, the old primary's side: it snapshots the group, serves the
// snapshot's files and the tail of writes it accepted since, and answers
// the final tail only once its map shows the switch (after which it takes
// no more writes of the group).

package remote

import (
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"

	"github.com/go-chi/chi/v5"
)

// Routes of group moves (docs/cluster.md). {g} is the group number.
const (
	PathMoveSnapshot = "/internal/v1/groups/{g}/snapshot"
	PathMoveFiles    = "/internal/v1/groups/{g}/files/*"
	PathMoveTail     = "/internal/v1/groups/{g}/tail"
	PathMovePull     = "/internal/v1/groups/{g}/pull"
	PathMoveAbort    = "/internal/v1/groups/{g}/abort"
	PathMoveRelease  = "/internal/v1/groups/{g}/release"
)

// Headers of move answers.
const (
	headerTailNext = "X-Soltix-Tail-Next"
	headerTailEnd  = "X-Soltix-Tail-End"
	headerCRC      = "X-Soltix-Crc32c"
	headerSize     = "X-Soltix-Size"
)

// tailResponseBytes bounds the batches of one tail answer.
const tailResponseBytes = 4 << 20

// moveSource is a group being copied away from this node: the copy's id
// (the epoch at which the map named it moving), the node it goes to, the
// tail of writes accepted since just before the snapshot, and the snapshot.
type moveSource struct {
	move uint64
	to   string
	// fenced is set (under the gate) by the final tail request: the node
	// takes no more of the group's writes while the map moves it.
	fenced bool
	tail   *tailLog
	snap   GroupFiles       // nil until taken
	size   map[string]int64 // the snapshot's files
	// replica marks a copy for a replica (replica_copy.go): no tail, and
	// the map does not move the group.
	replica bool
}

// close unpins the snapshot.
func (s *moveSource) close() {
	if s.snap != nil {
		s.snap.Close() //nolint:errcheck // unpinning only
		s.snap = nil
	}
}

// snapshotAnswer is the JSON answer of PathMoveSnapshot.
type snapshotAnswer struct {
	Move  uint64      `json:"move"`
	Files []GroupFile `json:"files"`
	// Position (replication on) is the stream sequence the snapshot holds
	// every change of the group up to (MoveOptions.Position).
	Position uint64 `json:"position,omitempty"`
}

// Routes registers the move routes with handle (Node.Handle).
func (m *Moves) Routes(handle func(method, pattern string, h http.HandlerFunc)) {
	handle(http.MethodPost, PathMoveSnapshot, m.serveSnapshot)
	handle(http.MethodGet, PathMoveFiles, m.serveFile)
	handle(http.MethodGet, PathMoveTail, m.serveTail)
	handle(http.MethodPost, PathMovePull, m.servePull)
	handle(http.MethodPost, PathMoveAbort, m.serveAbort)
	handle(http.MethodPost, PathMoveRelease, m.serveRelease)
	handle(http.MethodPost, PathReplicaSnapshot, m.serveReplicaSnapshot)
}

// moveParams are the group and query parameters of a move request.
type moveParams struct {
	g           int
	epoch, move uint64
	source, to  string // nodes: the one a pull takes the group from, the one a snapshot is for
	final       bool
	from        uint64 // the first tail batch asked for
	hasFrom     bool
}

func (m *Moves) params(r *http.Request) (moveParams, error) {
	var p moveParams
	g, err := strconv.Atoi(chi.URLParam(r, "g"))
	if err != nil || g < 0 || g >= len(m.gates) {
		return p, fmt.Errorf("group %q outside [0, %d)", chi.URLParam(r, "g"), len(m.gates))
	}
	p.g = g
	q := r.URL.Query()
	for _, f := range []struct {
		name string
		dst  *uint64
		has  *bool
	}{{"epoch", &p.epoch, nil}, {"move", &p.move, nil}, {"from", &p.from, &p.hasFrom}} {
		v := q.Get(f.name)
		if v == "" {
			if f.name == "epoch" {
				return p, errors.New("missing epoch")
			}
			continue
		}
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return p, fmt.Errorf("bad %s %q", f.name, v)
		}
		*f.dst = n
		if f.has != nil {
			*f.has = true
		}
	}
	p.source, p.to = q.Get("source"), q.Get("to")
	p.final = q.Get("final") == "1"
	return p, nil
}

// entryAt returns group g's map entry once the map has reached epoch: a
// request carrying a newer epoch than the map makes the node refresh its
// map first. ok is false unless the entry is at exactly that epoch.
func (m *Moves) entryAt(g int, epoch uint64) (GroupInfo, bool) {
	info, ok := m.view.Group(g)
	if !ok || info.Epoch < epoch {
		if err := m.view.Refresh(); err != nil {
			m.log.Warn("refresh the cluster map", "err", err)
		}
		info, ok = m.view.Group(g)
	}
	return info, ok && info.Epoch == epoch
}

func (m *Moves) staleEpoch(w http.ResponseWriter, g int, epoch uint64, info GroupInfo) {
	moveJSON(w, http.StatusConflict, moveError{
		Error:  fmt.Sprintf("group %d: request at epoch %d, map at epoch %d (primary %q, state %q, moving to %q)", g, epoch, info.Epoch, info.Primary, info.State, info.MovingTo),
		Code:   "stale_epoch",
		Groups: []int{g},
	})
}

// serveSnapshot starts copying a group away: POST
// /internal/v1/groups/{g}/snapshot?epoch=E&to=NODE, where E is the epoch at
// which the map says the group moves from this node to NODE. The group's
// writes are recorded in a tail from now on; the answer lists the files of
// a snapshot taken after that (JSON snapshotAnswer, whose move is E).
func (m *Moves) serveSnapshot(w http.ResponseWriter, r *http.Request) {
	p, err := m.params(r)
	if err != nil {
		moveBadRequest(w, err)
		return
	}
	info, ok := m.entryAt(p.g, p.epoch)
	if !ok || info.State != StateMoving || info.Primary != m.opts.NodeID || info.MovingTo != p.to || p.to == "" {
		m.staleEpoch(w, p.g, p.epoch, info)
		return
	}
	src := &moveSource{move: p.epoch, to: p.to, tail: newTailLog(m.opts.TailMaxBytes)}
	gt := &m.gates[p.g]
	// Taking the gate exclusively waits for the writes in flight: every
	// write applied before the tail starts is in the snapshot below, every
	// later one is in the tail.
	gt.mu.Lock()
	if gt.src != nil {
		gt.src.close()
	}
	gt.src = src
	gt.mu.Unlock()
	// With replication, the snapshot is taken with the group's writes
	// held and every change applied so far published: it holds the
	// stream up to pos, which the receiver records (the tail's changes,
	// published after pos, it gets both ways; applying them twice is
	// harmless).
	var snap GroupFiles
	var pos uint64
	if m.opts.Position != nil {
		pos, err = m.opts.Position(r.Context(), p.g, func() error {
			var err error
			snap, err = m.db.SnapshotGroup(r.Context(), p.g)
			return err
		})
		if err != nil && snap != nil {
			snap.Close() //nolint:errcheck // unpinning only
		}
	} else {
		snap, err = m.db.SnapshotGroup(r.Context(), p.g)
	}
	if err != nil {
		m.endSource(p.g, src)
		moveJSON(w, http.StatusServiceUnavailable, moveError{Error: fmt.Sprintf("snapshot group %d: %v", p.g, err), Code: "unavailable"})
		return
	}
	files, ok := m.keepSnapshot(w, p, src, snap, "move")
	if !ok {
		return
	}
	m.metrics.snapshots.Add(1)
	m.log.Info("group snapshot for a move", "group", p.g, "to", p.to, "epoch", p.epoch, "files", len(files), "position", pos)
	moveJSON(w, http.StatusOK, snapshotAnswer{Move: p.epoch, Files: files, Position: pos})
}

// keepSnapshot pins snap as src's files, or, when the copy src ended while
// the snapshot was taken (what names it: "move" or "copy"), unpins it and
// answers 409. It returns the snapshot's files.
func (m *Moves) keepSnapshot(w http.ResponseWriter, p moveParams, src *moveSource, snap GroupFiles, what string) ([]GroupFile, bool) {
	files := snap.Files()
	gt := &m.gates[p.g]
	gt.mu.Lock()
	defer gt.mu.Unlock()
	if gt.src != src {
		snap.Close() //nolint:errcheck // unpinning only
		moveJSON(w, http.StatusConflict, moveError{Error: fmt.Sprintf("group %d: %s %d ended during its snapshot", p.g, what, p.epoch), Code: "stale_epoch", Groups: []int{p.g}})
		return nil, false
	}
	src.snap = snap
	src.size = make(map[string]int64, len(files))
	for _, f := range files {
		src.size[f.Path] = f.Size
	}
	return files, true
}

// source returns group g's copy in progress if it is move's.
func (m *Moves) source(g int, move uint64) *moveSource {
	gt := &m.gates[g]
	gt.mu.RLock()
	defer gt.mu.RUnlock()
	if gt.src != nil && gt.src.move == move {
		return gt.src
	}
	return nil
}

// endSource ends a copy: the group's writes stop being recorded and its
// snapshot is unpinned.
func (m *Moves) endSource(g int, src *moveSource) {
	gt := &m.gates[g]
	gt.mu.Lock()
	defer gt.mu.Unlock()
	if gt.src == src {
		gt.src = nil
		src.close()
	}
}

// sweepSource ends group g's copy once the map's entry is past the copy's
// epoch: the map changes a moving group only to end the move.
func (m *Moves) sweepSource(g int, info GroupInfo) {
	gt := &m.gates[g]
	gt.mu.RLock()
	src := gt.src
	gt.mu.RUnlock()
	if src == nil {
		return
	}
	if info.Epoch > src.move { // the move succeeded, was given up or began again
		m.endSource(g, src)
	}
}

// checkSource checks that a request of the copy p.move is at the map's
// epoch and that the map still moves the group to the copy's receiver.
func (m *Moves) checkSource(w http.ResponseWriter, p moveParams) (*moveSource, GroupInfo, bool) {
	src := m.source(p.g, p.move)
	info, ok := m.entryAt(p.g, p.epoch)
	if src == nil {
		moveJSON(w, http.StatusConflict, moveError{Error: fmt.Sprintf("group %d: no move %d in progress", p.g, p.move), Code: "stale_epoch", Groups: []int{p.g}})
		return nil, info, false
	}
	if src.replica {
		if !ok || info.State != "" || !slices.Contains(info.Replicas, src.to) || info.Primary != m.opts.NodeID {
			m.staleEpoch(w, p.g, p.epoch, info)
			return nil, info, false
		}
		return src, info, true
	}
	if !ok || info.State == "" || info.MovingTo != src.to || info.Primary != m.opts.NodeID {
		m.staleEpoch(w, p.g, p.epoch, info)
		return nil, info, false
	}
	return src, info, true
}

// serveFile streams one file of a copy's snapshot: GET
// /internal/v1/groups/{g}/files/PATH?epoch=E&move=M. The file's size is in
// the header X-Soltix-Size and its CRC-32C in the trailer X-Soltix-Crc32c.
func (m *Moves) serveFile(w http.ResponseWriter, r *http.Request) {
	p, err := m.params(r)
	if err != nil {
		moveBadRequest(w, err)
		return
	}
	src, _, ok := m.checkSource(w, p)
	if !ok {
		return
	}
	path, err := url.PathUnescape(chi.URLParam(r, "*"))
	if err != nil {
		moveBadRequest(w, fmt.Errorf("bad file path: %w", err))
		return
	}
	m.gates[p.g].mu.RLock()
	size, listed := src.size[path]
	snap := src.snap
	m.gates[p.g].mu.RUnlock()
	if !listed || snap == nil {
		moveJSON(w, http.StatusNotFound, moveError{Error: fmt.Sprintf("group %d: %q is not in move %d's snapshot", p.g, path, p.move), Code: "not_found"})
		return
	}
	f, err := snap.Open(path)
	if err != nil {
		moveJSON(w, http.StatusServiceUnavailable, moveError{Error: fmt.Sprintf("open %s: %v", path, err), Code: "unavailable"})
		return
	}
	defer f.Close()
	h := crc32.New(castagnoli)
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set(headerSize, strconv.FormatInt(size, 10))
	w.Header().Set("Trailer", headerCRC)
	n, err := io.Copy(w, io.TeeReader(io.LimitReader(f, size), h))
	m.metrics.fileBytesSent.Add(uint64(n))
	if err != nil || n != size {
		// The receiver sees a short body or no checksum and fails.
		m.log.Warn("send a group file", "group", p.g, "path", path, "sent", n, "size", size, "err", err)
		return
	}
	w.Header().Set(headerCRC, strconv.FormatUint(uint64(h.Sum32()), 10))
}

// serveTail answers the tail of a copy: GET
// /internal/v1/groups/{g}/tail?epoch=E&move=M&from=N[&final=1]. The body
// holds the batches from number N on (those before N are acknowledged and
// dropped) in the tail encoding; X-Soltix-Tail-Next is the number after the
// last batch sent, X-Soltix-Tail-End the number after the last held. With
// final=1 the node is first fenced: it takes no more of the group's
// writes while the map moves it (they answer 503), so the answer ends the
// tail. A tail that outgrew its bound answers 410 (code tail_overflow) and
// ends the copy.
func (m *Moves) serveTail(w http.ResponseWriter, r *http.Request) {
	p, err := m.params(r)
	if err != nil {
		moveBadRequest(w, err)
		return
	}
	if !p.hasFrom {
		moveBadRequest(w, errors.New("missing from"))
		return
	}
	src, _, ok := m.checkSource(w, p)
	if !ok {
		return
	}
	if p.final {
		// Writes that passed the gate before are applied and in the tail
		// once the gate is ours; writes after see the fence.
		gt := &m.gates[p.g]
		gt.mu.Lock()
		src.fenced = true
		gt.mu.Unlock()
		// With replication, every change the node applied is published
		// before the map moves the group: its new primary, following
		// the stream to its end before it leads, then holds them all,
		// and so do the group's replicas.
		if m.opts.Position != nil {
			if _, err := m.opts.Position(r.Context(), p.g, func() error { return nil }); err != nil {
				moveJSON(w, http.StatusServiceUnavailable, moveError{Error: fmt.Sprintf("group %d: publish its last changes before the switch: %v", p.g, err), Code: "unavailable"})
				return
			}
		}
	}
	body, next, end, err := src.tail.read(p.from, tailResponseBytes)
	if errors.Is(err, ErrTailOverflow) {
		m.endSource(p.g, src)
		moveJSON(w, http.StatusGone, moveError{Error: fmt.Sprintf("group %d: %v (%d bytes)", p.g, err, m.opts.TailMaxBytes), Code: "tail_overflow"})
		return
	}
	if err != nil {
		moveBadRequest(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.Header().Set(headerTailNext, strconv.FormatUint(next, 10))
	w.Header().Set(headerTailEnd, strconv.FormatUint(end, 10))
	w.WriteHeader(http.StatusOK)
	m.metrics.tailSent.Add(next - p.from)
	w.Write(body) //nolint:errcheck // the receiver asks again
}

// serveAbort ends a move on this node, whichever side it is: POST
// /internal/v1/groups/{g}/abort?epoch=E&move=M. The old primary ends the
// copy M; the receiver stops pulling and drops what it imported, unless
// the map at E names it the primary.
func (m *Moves) serveAbort(w http.ResponseWriter, r *http.Request) {
	p, err := m.params(r)
	if err != nil {
		moveBadRequest(w, err)
		return
	}
	info, _ := m.entryAt(p.g, p.epoch)
	gt := &m.gates[p.g]
	gt.mu.RLock()
	src := gt.src
	gt.mu.RUnlock()
	if src != nil && (p.move == 0 || src.move == p.move) {
		m.endSource(p.g, src)
	}
	if err := m.abortPull(r.Context(), p.g, p.move, info); err != nil {
		moveJSON(w, http.StatusServiceUnavailable, moveError{Error: err.Error(), Code: "unavailable"})
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// serveRelease makes the old primary drop a group it gave up: POST
// /internal/v1/groups/{g}/release?epoch=E. Once its map is at E or later,
// the group is dropped if the map gives this node no part in it.
func (m *Moves) serveRelease(w http.ResponseWriter, r *http.Request) {
	p, err := m.params(r)
	if err != nil {
		moveBadRequest(w, err)
		return
	}
	info, _ := m.entryAt(p.g, p.epoch)
	if info.Epoch < p.epoch {
		m.staleEpoch(w, p.g, p.epoch, info)
		return
	}
	m.sweepSource(p.g, info)
	if !m.partOf(info) {
		if err := m.dropGroup(r.Context(), p.g); err != nil {
			moveJSON(w, http.StatusServiceUnavailable, moveError{Error: err.Error(), Code: "unavailable"})
			return
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

// moveError is the JSON body of a move route's error.
type moveError struct {
	Error  string `json:"error"`
	Code   string `json:"code,omitempty"`
	Groups []int  `json:"groups,omitempty"`
}

func moveBadRequest(w http.ResponseWriter, err error) {
	moveJSON(w, http.StatusBadRequest, moveError{Error: err.Error(), Code: "bad_request"})
}

func moveJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		b, status = []byte(`{"error":"encode the answer"}`), http.StatusInternalServerError
	}
	w.Header().Set("Content-Type", "application/json")
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	w.WriteHeader(status)
	w.Write(append(b, '\n')) //nolint:errcheck // the client went away
}
