package remote

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/planner"
	"github.com/soltixdb/soltix/query"
	"github.com/soltixdb/soltix/remote/wire"
)

// rawSession posts a whole session body to a node and returns the status
// and the answer's messages (or its error body).
func rawSession(t *testing.T, hc *http.Client, n *testNode, body []byte) (int, []byte, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(testContext(t), http.MethodPost, n.addr+PathQuery, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, nil, readErrorBody(resp.Body).Error
	}
	mr := wire.NewMessageReader(resp.Body, maxSessionMsg)
	var types []byte
	var last string
	for {
		typ, payload, err := mr.Next()
		if err == io.EOF {
			return resp.StatusCode, types, last
		}
		if err != nil {
			t.Fatalf("answer: %v", err)
		}
		types = append(types, typ)
		if typ == msgError {
			var em errorMsg
			if err := em.decode(payload); err != nil {
				t.Fatal(err)
			}
			last = em.Msg
		}
	}
}

func sessionBody(open openMsg, more ...[]byte) []byte {
	b := wire.AppendMessage(nil, msgOpen, open.encode())
	for _, m := range more {
		b = append(b, m...)
	}
	return b
}

// TestHostileSessions: what a node answers to session requests no router
// sends. Each gets a clear refusal, a bounded amount of work (at most one
// map refresh per request), and the node keeps serving.
func TestHostileSessions(t *testing.T) {
	m := newTestMap(8)
	a := startNode(t, m, "a", NodeOptions{})
	b := startNode(t, m, "b", NodeOptions{})
	m.spread(a, b) // a: even groups, b: odd
	if err := a.view.Refresh(); err != nil {
		t.Fatal(err)
	}
	// A series in one of a's groups and one in b's, both stored on a (as
	// a node keeps a group's files after it moved away).
	var mine, other string
	for i := 0; mine == "" || other == ""; i++ {
		d := fmt.Sprintf("d%d", i)
		if model.GroupOf(d, 8)%2 == 0 {
			mine = d
		} else {
			other = d
		}
	}
	var pts []model.Point
	for _, d := range []string{mine, other} {
		pts = append(pts, model.Point{Collection: "m", Tags: model.Tags{{Key: "device_id", Value: d}}, Time: 5,
			Fields: []model.Field{{Key: "f", Value: model.Float(1)}}})
	}
	if err := a.db.Write(context.Background(), pts); err != nil {
		t.Fatal(err)
	}
	mg := model.GroupOf(mine, 8)
	h2 := NewClient(a.view, ClientOptions{}).newHTTPClient()
	fetchOf := func(dev string, fields ...string) []byte {
		it := planner.SeriesRead{Tags: model.Tags{{Key: "device_id", Value: dev}}}
		for _, f := range fields {
			it.Values = append(it.Values, planner.FieldSpan{Field: f, Lo: 0, Hi: 100})
		}
		return wire.AppendMessage(nil, msgFetch, (&fetchMsg{Items: []planner.SeriesRead{it}}).encode())
	}
	open := openMsg{Collection: "m", Groups: []groupEpoch{{mg, 1}}, Lo: 0, Hi: 100}
	many := make([]groupEpoch, 50000)
	for i := range many {
		many[i] = groupEpoch{Group: 1 << 20, Epoch: uint64(i)}
	}
	newer := make([]groupEpoch, 5000)
	for i := range newer {
		newer[i] = groupEpoch{Group: mg, Epoch: uint64(i + 2)}
	}
	// Filtering on the node (filter_proto.go): a condition that does not
	// parse, a filter without a condition, of fields the item does not
	// read, that does not compile.
	withWhere := func(w string) openMsg { o := open; o.Where = w; return o }
	filtered := func(fields []string, kinds []model.Kind, read ...string) []byte {
		it := planner.SeriesRead{Tags: model.Tags{{Key: "device_id", Value: mine}}, Chunk: 2}
		for _, f := range read {
			it.Values = append(it.Values, planner.FieldSpan{Field: f, Lo: 0, Hi: 100})
		}
		fm := fetchMsg{Items: []planner.SeriesRead{it}, Filter: &planner.Filter{Fields: fields, Kinds: kinds, Lo: 0, Hi: 100, MaxChunk: 4}}
		return wire.AppendMessage(nil, msgFetch, fm.encode())
	}
	fl := []model.Kind{model.KindFloat}
	// Aggregating on the node (fragment.go): a statement of another
	// collection, a points limit below what was spent, one that is not a
	// SELECT.
	aggregate := func(q string, maxPoints, spent int64) []byte {
		stmt, err := query.Parse(q)
		if err != nil {
			t.Fatal(err)
		}
		req := planner.FragmentRequest{Select: stmt.Select, Fields: map[string]model.Kind{"f": model.KindFloat}, MaxPoints: maxPoints, Spent: spent}
		return wire.AppendMessage(nil, msgAggregate, encodeFragmentRequest(&req))
	}
	notSelect := wire.AppendMessage(nil, msgAggregate, func() []byte {
		var e wire.MsgEnc
		e.String("SHOW COLLECTIONS")
		e.Uvarint(0)
		e.Varint(0)
		e.Bool(false)
		e.Varint(10)
		e.Varint(0)
		return e.B
	}())
	for _, tc := range []struct {
		name   string
		body   []byte
		status int
		errHas string // in the error body or msgError
	}{
		{"group out of range", sessionBody(openMsg{Collection: "m", Groups: []groupEpoch{{8, 1}}}), 400, "group 8 of 8 groups"},
		{"many groups out of range", sessionBody(openMsg{Collection: "m", Groups: many}), 400, "of 8 groups"},
		{"many newer epochs", sessionBody(openMsg{Collection: "m", Groups: newer}), 409, "does not hold"},
		{"series of a group outside the session", sessionBody(open, fetchOf(other, "f")), 200, "not in the session's groups"},
		{"the same field twice", sessionBody(open, fetchOf(mine, "f", "f")), 200, ""},
		{"a field that does not exist", sessionBody(open, fetchOf(mine, "nope", "f")), 200, ""},
		{"garbage after open", append(sessionBody(open), "garbage garbage garbage"...), 200, ""},
		{"huge message length", append(sessionBody(open), 'S', 'X', 'M', 'S', 1, msgFetch, 0, 0, 0xff, 0xff, 0xff, 0xff), 200, ""},
		{"unknown message", sessionBody(open, wire.AppendMessage(nil, 'Z', nil)), 200, "message of type"},
		{"not an open", wire.AppendMessage(nil, msgFetch, nil), 400, "want open"},
		{"a condition that does not parse", sessionBody(withWhere("f > > 1")), 400, "condition"},
		{"a condition that is a statement", sessionBody(withWhere("f > 1; DELETE FROM m")), 400, "condition"},
		{"a filter without a condition", sessionBody(open, filtered([]string{"f"}, fl, "f")), 200, "without a condition"},
		{"a filter of other fields", sessionBody(withWhere("f > 1"), filtered([]string{"f"}, fl, "g")), 200, "does not read the filter's fields"},
		{"a filter that does not compile", sessionBody(withWhere("f =~ /a/"), filtered([]string{"f"}, fl, "f")), 200, "regular expression"},
		{"an aggregate of another collection", sessionBody(open, aggregate("SELECT count(f) FROM other", 10, 0)), 200, "in a session of"},
		{"an aggregate spending more than its limit", sessionBody(open, aggregate("SELECT count(f) FROM m", 10, 11)), 200, "points spent of"},
		{"an aggregate with no limit", sessionBody(open, aggregate("SELECT count(f) FROM m", 0, 0)), 200, "points spent of"},
		{"an aggregate that is not a SELECT", sessionBody(open, notSelect), 200, "not a SELECT"},
		{"an aggregate the node cannot merge", sessionBody(open, aggregate("SELECT sum(f) FROM m", 10, 0)), 200, "cannot be run as a fragment"},
		{"a filter of another kind than stored", sessionBody(withWhere("f > 1"), filtered([]string{"f"}, []model.Kind{model.KindInt}, "f")), 200, "is float, want int"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := a.view.refreshes.Load()
			status, _, msg := rawSession(t, h2, a, tc.body)
			if status != tc.status || !strings.Contains(msg, tc.errHas) || len(msg) > 2000 {
				t.Fatalf("status %d %.2000q, want %d with %q (and under 2,000 bytes)", status, msg, tc.status, tc.errHas)
			}
			if n := a.view.refreshes.Load() - before; n > 1 {
				t.Fatalf("%d map refreshes for one request, want at most 1", n)
			}
		})
	}
	// A write of many frames at epochs newer than the node's map: one
	// refresh, one 409 naming the group once.
	var fs []wire.Frame
	for i := range 2000 {
		fs = append(fs, wire.Frame{Group: uint32(mg), Epoch: uint64(i + 2)})
	}
	before := a.view.refreshes.Load()
	c := NewClient(a.view, ClientOptions{})
	if status, eb := post(t, c, a, PathWrite, ContentTypeFrames, frames(t, fs...)); status != http.StatusConflict || len(eb.Groups) != 1 || a.view.refreshes.Load()-before > 1 {
		t.Fatalf("write at newer epochs: %d %v after %d refreshes, want 409 naming group %d once after at most 1", status, eb.Groups, a.view.refreshes.Load()-before, mg)
	}
	// The node still answers a good session, over HTTP/2 and HTTP/1.1.
	for _, hc := range []*http.Client{h2, &http1Client} {
		if status, types, msg := rawSession(t, hc, a, sessionBody(open, fetchOf(mine, "f"))); status != 200 || msg != "" || !bytes.Equal(types, []byte{msgCatalog, msgValues, msgSeriesEnd, msgFetchEnd}) {
			t.Fatalf("good session: %d %q %q", status, types, msg)
		}
		if status, types, msg := rawSession(t, hc, a, sessionBody(withWhere("f > 0"), filtered([]string{"f"}, fl, "f"))); status != 200 || msg != "" || !bytes.Equal(types, []byte{msgCatalog, msgRows, msgSeriesEnd, msgFetchEnd}) {
			t.Fatalf("good filtered session: %d %q %q", status, types, msg)
		}
	}
}

// TestSlowAndLyingBodies: a write body that declares 64 MiB but sends a
// few bytes reserves memory as bytes arrive, not as declared; one that
// stalls answers 408 once NodeOptions.BodyTimeout has passed, freeing the
// handler.
func TestSlowAndLyingBodies(t *testing.T) {
	m := newTestMap(8)
	a := startNode(t, m, "a", NodeOptions{BodyTimeout: 300 * time.Millisecond})
	m.spread(a)
	host := strings.TrimPrefix(a.addr, "http://")
	send := func(body string, closeAfter bool) string {
		conn, err := net.Dial("tcp", host)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(30 * time.Second))
		fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: n\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n%s", PathWrite, ContentTypeFrames, 64<<20-1, body)
		if closeAfter {
			conn.(*net.TCPConn).CloseWrite()
		}
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.Status
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range 10 {
		if st := send("SXWF", true); !strings.HasPrefix(st, "400") {
			t.Fatalf("truncated body: %s, want 400", st)
		}
	}
	runtime.ReadMemStats(&after)
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 64<<20 {
		t.Fatalf("10 bodies of 4 bytes declaring 64 MiB allocated %d MiB", grew>>20)
	}
	if st := send("SXWF", false); !strings.HasPrefix(st, "408") {
		t.Fatalf("stalled body: %s, want 408", st)
	}
}

// TestSessionCap: sessions held open past NodeOptions.MaxSessions make a
// new one answer 503 (the router reports its groups unavailable), and a
// session that ends frees its place.
func TestSessionCap(t *testing.T) {
	m := newTestMap(8)
	a := startNode(t, m, "a", NodeOptions{MaxSessions: 2})
	m.spread(a)
	c, _ := newTestClient(t, m, ClientOptions{})
	open := &openMsg{Collection: "m", Groups: []groupEpoch{{0, 1}}}
	var held []*session
	for range 2 {
		s, err := c.openSession(testContext(t), Route{Node: a.id, Addr: a.addr}, open, false)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, s)
	}
	_, err := c.openSession(testContext(t), Route{Node: a.id, Addr: a.addr}, open, false)
	var ue *unreachableError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "503") || !strings.Contains(err.Error(), "2 sessions") {
		t.Fatalf("third session: %v, want a 503 saying the node serves 2", err)
	}
	held[0].close()
	ctx := testContext(t)
	for {
		s, err := c.openSession(ctx, Route{Node: a.id, Addr: a.addr}, open, false)
		if err == nil {
			s.close()
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no place freed after a session ended: %v", err)
		case <-time.After(5 * time.Millisecond):
		}
	}
	held[1].close()
}
