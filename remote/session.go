package remote

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync/atomic"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/planner"
	"github.com/soltixdb/soltix/remote/wire"
)

// session is the router's end of one query session with one storage node:
// one HTTP/2 request whose body the router keeps writing (a pipe) while it
// reads the node's answers from the response body. See session_proto.go.
type session struct {
	node, addr string
	groups     []int
	pw         *io.PipeWriter
	resp       *http.Response
	mr         *wire.MessageReader
	cancel     context.CancelFunc
	// ctx is the context the session was opened with (the query's).
	ctx context.Context
	ctr *nodeCounters
	// read counts the bytes of the response body read so far.
	read atomic.Uint64
	cat  catalogMsg
	// openNow is the now() the session was opened with (openMsg.Now).
	openNow int64
	keys    []string // the series keys of cat.Series
	// onBytes is told the bytes of every message read (the scoped
	// source's bound on what it holds).
	onBytes func(int64) error
	// items are the series asked for, over every fetch so far; base is
	// where the items of the fetch being answered start, and reading is
	// set while its answer is not read to the end.
	items   []*fetchItem
	base    int
	reading bool
	err     error // sticky: the session is broken
}

// fetchItem is the data of one series fetched from a node.
type fetchItem struct {
	sr    planner.SeriesRead
	desc  bool
	vals  []model.Column // per sr.Values
	cov   []coverage     // per sr.Values: the times vals holds every value of
	parts [][]model.Part // per sr.Parts
	// chunks are the chunks of a filtered item (sr.Chunk > 0) not read
	// yet, in order (scoped_filter.go).
	chunks []rowsChunk
	// done is set once the node sent everything; released once the plan
	// moved past the item (what still arrives for it is dropped).
	done, released bool
	// bytes and points held, for the scope's byte bound.
	bytes, points int64
}

// coverage is a range [lo, hi] of times (when ok) within which a column
// holds every value of its field: it grows as chunks arrive (up, or down
// for descending reads) and shrinks as the plan consumes it.
type coverage struct {
	lo, hi int64
	ok     bool
}

// staleError is a node's 409: it does not hold these groups at the
// epochs the router sent.
type staleError struct {
	node   string
	groups []int
}

func (e *staleError) Error() string {
	return fmt.Sprintf("node %s does not hold %s at the epochs given (stale epoch)", e.node, groupList(e.groups))
}

// unreachableError is a node that could not be asked.
type unreachableError struct {
	node, addr string
	err        error
	// groups, when set, are the only groups the node refused (a replica
	// not caught up): it may still answer for its others.
	groups []int
}

func (e *unreachableError) Error() string {
	return fmt.Sprintf("node %s (%s) unreachable: %v", e.node, e.addr, e.err)
}

func (e *unreachableError) Unwrap() error { return e.err }

// openSession starts a session (path /internal/v1/query) or a catalog call
// (/internal/v1/catalog, which ends after the catalog).
func (c *Client) openSession(parent context.Context, rt Route, open *openMsg, catalogOnly bool) (*session, error) {
	nc := c.node(rt)
	ctr := &nc.m
	node := rt.Node
	ctx, cancel := context.WithCancel(parent)
	var cached *seriesList
	ckey := ""
	if open.Flags&openSeries != 0 {
		ckey = cacheKey(node, open)
		if cached = c.series.get(ckey); cached != nil {
			o := *open
			o.Known = cached.digest
			open = &o
		}
	}
	first := wire.AppendMessage(nil, msgOpen, open.encode())
	s := &session{node: node, addr: rt.Addr, cancel: cancel, ctx: parent, ctr: ctr, openNow: open.Now}
	for _, g := range open.Groups {
		s.groups = append(s.groups, g.Group)
	}
	var body io.Reader = bytes.NewReader(first)
	path := PathCatalog
	if !catalogOnly {
		pr, pw := io.Pipe()
		s.pw = pw
		// The transport closes the body when the stream ends early (the
		// node went away): that must end its read of the pipe, or the
		// stream is never cleaned up and the answer's reader waits for
		// the query's deadline.
		body = &pipeBody{Reader: io.MultiReader(body, pr), pr: pr}
		path = PathQuery
		ctr.fragments.Add(1)
	} else {
		ctr.catalogs.Add(1)
	}
	ctr.requests.Add(1)
	ctr.bytesSent.Add(uint64(len(first)))
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, rt.Addr+path, body)
	if err != nil {
		s.close()
		return nil, err
	}
	req.Header.Set("Content-Type", ContentTypeSession)
	setRequestID(req)
	resp, err := nc.http.Do(req)
	if err != nil {
		ctr.errors.Add(1)
		c.logMismatch(nc, err)
		s.close()
		if parent.Err() != nil {
			return nil, parent.Err()
		}
		return nil, &unreachableError{node: node, addr: rt.Addr, err: err}
	}
	s.resp = resp
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusConflict:
		eb := readErrorBody(resp.Body)
		ctr.errors.Add(1)
		s.close()
		if eb.Code == CodeStaleEpoch {
			return nil, &staleError{node: node, groups: eb.Groups}
		}
		return nil, fmt.Errorf("node %s: %s", node, eb.Error)
	default:
		eb := readErrorBody(resp.Body)
		ctr.errors.Add(1)
		s.close()
		if resp.StatusCode == http.StatusServiceUnavailable {
			return nil, &unreachableError{node: node, addr: rt.Addr, err: fmt.Errorf("%s: %s", resp.Status, eb.Error), groups: eb.Groups}
		}
		return nil, fmt.Errorf("node %s: %s: %s", node, resp.Status, eb.Error)
	}
	s.mr = wire.NewMessageReader(&countingReader{r: resp.Body, n: &s.read}, maxSessionMsg)
	typ, payload, err := s.next()
	if err == nil && typ != msgCatalog {
		err = fmt.Errorf("node %s: first answer of type %q, want a catalog: %w", node, typ, wire.ErrMalformed)
	}
	if err == nil {
		err = s.cat.decode(payload)
	}
	if err == nil && s.cat.Same && (cached == nil || cached.digest != s.cat.Digest) {
		err = fmt.Errorf("node %s: answered an unchanged series list the router does not hold: %w", node, wire.ErrMalformed)
	}
	if err != nil {
		err = s.wrap(parent, err)
		s.close()
		return nil, err
	}
	if ckey != "" {
		if s.cat.Same {
			s.cat.Series, s.keys = cached.series, cached.keys
		} else {
			l := newSeriesList(s.cat.Digest, s.cat.Series)
			c.series.put(ckey, l)
			s.keys = l.keys
		}
	}
	if catalogOnly {
		s.close()
	}
	return s, nil
}

// pipeBody is a session's request body: what the router writes to the
// pipe; closing it closes the pipe's reading end.
type pipeBody struct {
	io.Reader
	pr *io.PipeReader
}

func (b *pipeBody) Close() error { return b.pr.Close() }

// nodeError is an error a node reported in its session (msgError).
type nodeError struct{ msg string } // a node's msgError

func (e *nodeError) Error() string { return e.msg }

// wrap turns a read error into the session's error: the context's, a
// limit, the node's own error or a malformed answer as they are, and
// anything else (the stream ended or broke) an *unreachableError.
func (s *session) wrap(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var le *planner.LimitError
	if errors.As(err, &le) {
		return err
	}
	var ne *nodeError
	if errors.As(err, &ne) || errors.Is(err, wire.ErrMalformed) || errors.Is(err, wire.ErrChecksum) || errors.Is(err, wire.ErrLimit) {
		return fmt.Errorf("node %s: %w", s.node, err)
	}
	return &unreachableError{node: s.node, addr: s.addr, err: fmt.Errorf("session ended early: %w", err)}
}

// broken is the error of a session that broke after it opened: a node
// that went away makes its groups unavailable (503), like a node that
// could not be reached at all. The rows already answered cannot be taken
// back, so this holds with partial=true too.
func (s *session) broken(ctx context.Context, err error) error {
	err = s.wrap(ctx, err)
	var ue *unreachableError
	if errors.As(err, &ue) {
		return &UnavailableError{Groups: slices.Sorted(slices.Values(s.groups)), Reason: ue.Error()}
	}
	return err
}

// next reads one message, counting its bytes, and turns msgError into an
// error.
func (s *session) next() (byte, []byte, error) {
	before := s.read.Load()
	typ, payload, err := s.mr.Next()
	n := int64(s.read.Load() - before)
	s.ctr.bytesRecv.Add(uint64(n))
	if err != nil {
		s.ctr.errors.Add(1)
		return 0, nil, err
	}
	if s.onBytes != nil {
		if err := s.onBytes(n); err != nil {
			return 0, nil, err
		}
	}
	if typ == msgError {
		s.ctr.errors.Add(1)
		var em errorMsg
		if err := em.decode(payload); err != nil {
			return 0, nil, err
		}
		if em.Code == codeLimit {
			return 0, nil, &planner.LimitError{Msg: em.Msg, Setting: planner.SettingMaxPoints}
		}
		return 0, nil, &nodeError{msg: em.Msg}
	}
	return typ, payload, nil
}

// close ends the session: the node sees the end of the body (or the
// cancel) and stops.
func (s *session) close() {
	if s.pw != nil {
		s.pw.Close()
	}
	if s.resp != nil {
		s.resp.Body.Close()
	}
	s.cancel()
}

// send writes one message to the node.
func (s *session) send(typ byte, payload []byte) error {
	if s.err != nil {
		return s.err
	}
	msg := wire.AppendMessage(nil, typ, payload)
	s.ctr.bytesSent.Add(uint64(len(msg)))
	if _, err := s.pw.Write(msg); err != nil {
		s.err = s.broken(s.ctx, err)
		return s.err
	}
	return nil
}

// fetch asks for items (appended to s.items) and starts reading their
// answer; reduce is planner.ReadSet.Reduce (nil: no reduction), sketch
// planner.ReadSet.Sketch (nil: no quantile sketches wanted) and filter
// planner.ReadSet.Filter (nil: none; the items with a Chunk are read
// filtered).
func (s *session) fetch(ctx context.Context, whole planner.WholeSpec, desc bool, reduce map[string]planner.Reduce, sketch map[string]bool, filter *planner.Filter, items []*fetchItem) error {
	if err := s.drain(ctx); err != nil {
		return err
	}
	f := fetchMsg{Whole: whole, Desc: desc, Reduce: reduce, Sketch: sketch, Filter: filter}
	for _, it := range items {
		f.Items = append(f.Items, it.sr)
		it.desc = desc
		it.vals = make([]model.Column, len(it.sr.Values))
		it.cov = make([]coverage, len(it.sr.Values))
		for j, v := range it.sr.Values {
			it.vals[j].Name = v.Field
			it.cov[j] = coverage{lo: v.Lo, hi: v.Hi}
		}
		it.parts = make([][]model.Part, len(it.sr.Parts))
	}
	s.base = len(s.items)
	s.items = append(s.items, items...)
	s.reading = true
	return s.send(msgFetch, f.encode())
}

// drain reads the rest of the fetch answer being read.
func (s *session) drain(ctx context.Context) error {
	for s.reading {
		if err := s.step(ctx); err != nil {
			return err
		}
	}
	return s.err
}

// await reads until it is complete.
func (s *session) await(ctx context.Context, it *fetchItem) error {
	for !it.done {
		if !s.reading {
			return fmt.Errorf("node %s: fetch answer ended before series %v", s.node, it.sr.Tags)
		}
		if err := s.step(ctx); err != nil {
			return err
		}
	}
	return nil
}

// step reads and files one message of a fetch answer.
func (s *session) step(ctx context.Context) error {
	if s.err != nil {
		return s.err
	}
	typ, payload, err := s.next()
	if err != nil {
		s.err = s.broken(ctx, err)
		return s.err
	}
	d := wire.MsgDec{B: payload}
	item := func() *fetchItem {
		i := d.Uvarint()
		if d.Err() != nil || i >= uint64(len(s.items)-s.base) {
			return nil
		}
		return s.items[s.base+int(i)]
	}
	bad := func(what string) error {
		s.err = fmt.Errorf("node %s: bad %s message: %w", s.node, what, wire.ErrMalformed)
		return s.err
	}
	switch typ {
	case msgValues:
		it := item()
		n := d.Count(2)
		if it == nil || it.done {
			return bad("values")
		}
		spans := make([]int, 0, n)
		for x := 0; x < n && d.Err() == nil; x++ {
			j := d.Uvarint()
			c := d.Column()
			if d.Err() != nil || j >= uint64(len(it.sr.Values)) {
				return bad("values")
			}
			spans = append(spans, int(j))
			if it.released {
				continue
			}
			dst := &it.vals[j]
			if c.Len() > 0 && dst.Len() > 0 && c.Kind != dst.Kind {
				return bad("values")
			}
			if it.desc && it.sr.Rows == 0 {
				if c.Len() > 0 && dst.Len() > 0 && c.Times[c.Len()-1] >= dst.Times[0] {
					return bad("values")
				}
				prependColumn(dst, &c)
			} else {
				if c.Len() > 0 && dst.Len() > 0 && c.Times[0] <= dst.Times[dst.Len()-1] {
					return bad("values")
				}
				appendColumn(dst, &c)
			}
			it.points += int64(c.Len())
		}
		through := d.Varint()
		if d.Done() != nil {
			return bad("values")
		}
		if it.released {
			if s.onBytes != nil {
				_ = s.onBytes(-int64(len(payload)))
			}
			break
		}
		it.bytes += int64(len(payload))
		if it.sr.Rows == 0 {
			// The chunk's spans are complete up to through (down to it).
			for _, j := range spans {
				if it.desc {
					it.cov[j].lo = through
				} else {
					it.cov[j].hi = through
				}
				it.cov[j].ok = true
			}
		}
	case msgParts:
		it := item()
		k := d.Uvarint()
		n := d.Count(2)
		if it == nil || k >= uint64(len(it.sr.Parts)) || it.done {
			return bad("parts")
		}
		var parts []model.Part
		for i := 0; i < n && d.Err() == nil; i++ {
			parts = append(parts, d.Part())
		}
		if d.Done() != nil {
			return bad("parts")
		}
		if it.released {
			if s.onBytes != nil {
				_ = s.onBytes(-int64(len(payload)))
			}
			break
		}
		it.parts[k] = append(it.parts[k], parts...)
		it.bytes += int64(len(payload))
	case msgRows:
		if err := s.fileRows(payload); err != nil {
			s.err = fmt.Errorf("node %s: %w", s.node, err)
			return s.err
		}
	case msgSeriesEnd:
		it := item()
		lo, hi := d.Varint(), d.Varint()
		if it == nil || d.Done() != nil {
			return bad("series end")
		}
		it.done = true
		if it.sr.Chunk > 0 {
			break // its values came as chunks of rows
		}
		for j, v := range it.sr.Values {
			c := &it.cov[j]
			switch {
			case it.sr.Rows > 0:
				*c = coverage{lo: lo, hi: hi, ok: true}
			case it.desc:
				c.lo, c.ok = v.Lo, true
			default:
				c.hi, c.ok = v.Hi, true
			}
		}
	case msgFetchEnd:
		for _, it := range s.items[s.base:] {
			if !it.done {
				return bad("fetch end")
			}
		}
		s.reading = false
	default:
		return bad(fmt.Sprintf("%q", typ))
	}
	return nil
}

// prependColumn puts the values of c (same kind, earlier times) before
// those of dst.
func prependColumn(dst, c *model.Column) {
	if c.Len() == 0 {
		if dst.Kind == model.KindNull {
			dst.Kind = c.Kind
		}
		return
	}
	out := model.Column{Name: dst.Name, Kind: c.Kind}
	appendColumn(&out, c)
	out.Times = append(slices.Clip(out.Times), dst.Times...)
	out.Floats = append(slices.Clip(out.Floats), dst.Floats...)
	out.Ints = append(slices.Clip(out.Ints), dst.Ints...)
	out.Uints = append(slices.Clip(out.Uints), dst.Uints...)
	out.Bools = append(slices.Clip(out.Bools), dst.Bools...)
	out.Strings = append(slices.Clip(out.Strings), dst.Strings...)
	out.Name = dst.Name
	*dst = out
}

// appendColumn appends the values of c to dst (same kind, later times).
func appendColumn(dst, c *model.Column) {
	if c.Len() == 0 {
		if dst.Kind == model.KindNull {
			dst.Kind = c.Kind
		}
		return
	}
	if dst.Len() == 0 {
		name := dst.Name
		*dst = *c
		dst.Name = name
		return
	}
	dst.Times = append(dst.Times, c.Times...)
	dst.Floats = append(dst.Floats, c.Floats...)
	dst.Ints = append(dst.Ints, c.Ints...)
	dst.Uints = append(dst.Uints, c.Uints...)
	dst.Bools = append(dst.Bools, c.Bools...)
	dst.Strings = append(dst.Strings, c.Strings...)
}

// request sends a message outside fetches (explain, check) and returns the
// answer, of type want.
func (s *session) request(ctx context.Context, typ byte, payload []byte, want byte) ([]byte, error) {
	if err := s.drain(ctx); err != nil {
		return nil, err
	}
	if err := s.send(typ, payload); err != nil {
		return nil, err
	}
	got, answer, err := s.next()
	if err != nil {
		s.err = s.broken(ctx, err)
		return nil, s.err
	}
	if got != want {
		s.err = fmt.Errorf("node %s: answer of type %q, want %q: %w", s.node, got, want, wire.ErrMalformed)
		return nil, s.err
	}
	return answer, nil
}
