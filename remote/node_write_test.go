package remote

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/remote/wire"
)

// post sends body to a node over the client's HTTP/2 pool and returns the
// status, the decoded error body and the protocol's major version.
func post(t *testing.T, c *Client, n *testNode, path, ctype string, body []byte) (int, ErrorBody) {
	t.Helper()
	resp, err := c.do(testContext(t), c.node(Route{Node: n.id, Addr: n.addr}), http.MethodPost, path, ctype, body)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.ProtoMajor != 2 {
		t.Fatalf("answered over %s", resp.Proto)
	}
	var eb ErrorBody
	if resp.StatusCode/100 != 2 {
		eb = readErrorBody(resp.Body)
		if resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") == "" {
			t.Fatal("503 without Retry-After")
		}
	}
	return resp.StatusCode, eb
}

func frames(t *testing.T, fs ...wire.Frame) []byte {
	t.Helper()
	var b []byte
	for _, f := range fs {
		var err error
		if b, err = wire.AppendFrame(b, f.Group, f.Epoch, f.Points); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

// TestNodeWriteRefuses: what a node refuses, and that it writes nothing
// of a refused request.
func TestNodeWriteRefuses(t *testing.T) {
	m := newTestMap(8)
	a := startNode(t, m, "a", NodeOptions{MaxBodyBytes: 4096})
	b := startNode(t, m, "b", NodeOptions{})
	m.spread(a, b) // a: even groups, b: odd, at epoch 1
	c, _ := newTestClient(t, m, ClientOptions{})

	ps := devicePoints(0, 40, 1)
	var even, odd []model.Point // points of a's groups, of b's
	evenGroup, oddGroup := -1, -1
	for _, p := range ps {
		g := model.GroupOf(p.Tags.Get("device_id"), 8)
		switch {
		case g%2 == 0 && (evenGroup < 0 || g == evenGroup):
			evenGroup = g
			even = append(even, p)
		case g%2 == 1 && (oddGroup < 0 || g == oddGroup):
			oddGroup = g
			odd = append(odd, p)
		}
	}
	other := -1 // another even group
	for _, p := range ps {
		if g := model.GroupOf(p.Tags.Get("device_id"), 8); g%2 == 0 && g != evenGroup {
			other = g
		}
	}
	good := wire.Frame{Group: uint32(evenGroup), Epoch: 1, Points: even}
	big := make([]model.Point, 1000)
	for i := range big {
		big[i] = even[0]
		big[i].Time = int64(i)
	}
	for _, tc := range []struct {
		name   string
		body   []byte
		status int
		code   string
		msg    string
		groups []int
	}{
		{"not owned", frames(t, good, wire.Frame{Group: uint32(oddGroup), Epoch: 1, Points: odd}), 409, CodeStaleEpoch,
			fmt.Sprintf("node a does not hold group %d at the epochs sent", oddGroup), []int{oddGroup}},
		{"old epoch", frames(t, wire.Frame{Group: uint32(evenGroup), Epoch: 0, Points: even}), 409, CodeStaleEpoch, "does not hold", []int{evenGroup}},
		{"newer epoch", frames(t, wire.Frame{Group: uint32(evenGroup), Epoch: 2, Points: even}), 409, CodeStaleEpoch, "does not hold", []int{evenGroup}},
		{"wrong group", frames(t, good, wire.Frame{Group: uint32(other), Epoch: 1, Points: even}), 400, CodeBadRequest,
			fmt.Sprintf("point %d belongs to group %d, not to its frame's group %d", len(even), evenGroup, other), nil},
		{"group out of range", frames(t, wire.Frame{Group: 8, Epoch: 1, Points: even}), 400, CodeBadRequest, "group 8 of 8 groups", nil},
		{"corrupt", append(frames(t, good), 1, 2, 3), 400, CodeBadRequest, "truncated", nil},
		{"too large", frames(t, wire.Frame{Group: uint32(evenGroup), Epoch: 1, Points: big}), 413, CodeTooLarge, "exceeds the limit of 4096", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, eb := post(t, c, a, PathWrite, ContentTypeFrames, tc.body)
			if status != tc.status || eb.Code != tc.code || !strings.Contains(eb.Error, tc.msg) || !slices.Equal(eb.Groups, tc.groups) {
				t.Fatalf("got %d %+v, want %d %s %q groups %v", status, eb, tc.status, tc.code, tc.msg, tc.groups)
			}
		})
	}
	if got := a.db.Series("m", nil); len(got) != 0 {
		t.Fatalf("refused requests wrote %d series", len(got))
	}
	if sm := a.node.Metrics(); sm.Writes != 0 || sm.WriteErrors != 7 || sm.StaleEpochs != 3 {
		t.Fatalf("metrics %+v", sm)
	}
	// The same frame alone is written.
	if status, eb := post(t, c, a, PathWrite, ContentTypeFrames, frames(t, good)); status != 204 {
		t.Fatalf("good frame: %d %+v", status, eb)
	}
	if got := len(a.db.Series("m", nil)); got == 0 {
		t.Fatal("good frame not written")
	}
}

// TestNodeRoutes: wrong methods and paths answer JSON errors, and delete
// checks epochs and groups like write.
func TestNodeRoutes(t *testing.T) {
	m := newTestMap(4)
	n := startNode(t, m, "a", NodeOptions{})
	m.spread(n)
	c, _ := newTestClient(t, m, ClientOptions{})
	if status, eb := post(t, c, n, "/internal/v1/nope", "", nil); status != 404 || !strings.Contains(eb.Error, "not found") {
		t.Fatalf("unknown path: %d %+v", status, eb)
	}
	if status, eb := post(t, c, n, PathHealth, "", nil); status != 405 {
		t.Fatalf("POST health: %d %+v", status, eb)
	}
	g := model.GroupOf("d1", 4)
	del := func(group int, epoch uint64, device string) []byte {
		b, _ := json.Marshal(DeleteRequest{Collection: "m", Min: 0, Max: 10, Groups: []DeleteGroup{
			{Group: group, Epoch: epoch, Series: [][][2]string{{{"device_id", device}}}},
		}})
		return b
	}
	for _, tc := range []struct {
		name   string
		body   []byte
		status int
		msg    string
	}{
		{"ok", del(g, 1, "d1"), 204, ""},
		{"stale", del(g, 3, "d1"), 409, "does not hold"},
		{"wrong group", del((g+1)%4, 1, "d1"), 400, fmt.Sprintf("belongs to group %d", g)},
		{"bad json", []byte("{"), 400, "bad body"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, eb := post(t, c, n, PathDelete, "application/json", tc.body)
			if status != tc.status || !strings.Contains(eb.Error, tc.msg) {
				t.Fatalf("got %d %+v, want %d %q", status, eb, tc.status, tc.msg)
			}
		})
	}
	if status, _ := post(t, c, n, PathFlush, "", bytes.NewBufferString("").Bytes()); status != 204 {
		t.Fatalf("flush: %d", status)
	}
}

// TestNodeBodyLimitStreamed: a body without a declared length is cut at
// the limit with 413 too.
func TestNodeBodyLimitStreamed(t *testing.T) {
	m := newTestMap(4)
	n := startNode(t, m, "a", NodeOptions{MaxBodyBytes: 1000})
	m.spread(n)
	c, _ := newTestClient(t, m, ClientOptions{})
	nc := c.node(Route{Node: n.id, Addr: n.addr})
	body := io.MultiReader(bytes.NewReader(make([]byte, 600)), bytes.NewReader(make([]byte, 600)))
	req, err := http.NewRequestWithContext(testContext(t), http.MethodPost, n.addr+PathWrite, body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := nc.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	eb := readErrorBody(resp.Body)
	if req.ContentLength != 0 || resp.StatusCode != 413 || eb.Code != CodeTooLarge {
		t.Fatalf("length %d: got %d %+v", req.ContentLength, resp.StatusCode, eb)
	}
}
