package ingest

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/nats-io/nats.go"

	"github.com/soltixdb/soltix/httpapi"
	"github.com/soltixdb/soltix/internal/natstest"
	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/storage"
)

// testEnv is a real nats-server, a real storage.DB behind the real HTTP
// API (as soltix serve runs them) and a Subscriber writing to it.
type testEnv struct {
	t    *testing.T
	ns   *natstest.Server
	db   *storage.DB
	sub  *Subscriber
	http *httptest.Server
	nc   *nats.Conn         // the test's client
	dls  *nats.Subscription // soltix.deadletter
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// startEnv starts everything; wrap, when not nil, wraps the store the
// Subscriber writes to.
func startEnv(t *testing.T, ns *natstest.Server, opts Options, wrap func(httpapi.Store) httpapi.Store) *testEnv {
	t.Helper()
	if ns == nil {
		ns = natstest.Start(t, natstest.Options{MQTT: true})
	}
	db, err := storage.Open(t.TempDir(), &storage.Options{FlushInterval: -1, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	var store httpapi.Store = db
	if wrap != nil {
		store = wrap(db)
	}
	opts.Logger = quiet()
	sub, err := Start([]string{ns.URL()}, store, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := sub.Close(ctx); err != nil {
			t.Error(err)
		}
	})
	srv := httptest.NewServer(httpapi.New(db, httpapi.Options{Logger: quiet(), Metrics: []func(*bytes.Buffer){sub.WriteMetrics}}))
	t.Cleanup(srv.Close)
	nc, err := nats.Connect(ns.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	dls, err := nc.SubscribeSync(DeadLetterSubject)
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return &testEnv{t: t, ns: ns, db: db, sub: sub, http: srv, nc: nc, dls: dls}
}

// reply is the Subscriber's answer to a request.
type reply struct {
	Written int    `json:"written"`
	Reason  string `json:"reason"`
	Error   string `json:"error"`
}

// request publishes a body to soltix.ingest.<collection> with headers and
// returns the answer.
func (e *testEnv) request(collection string, hdr map[string]string, body []byte) reply {
	e.t.Helper()
	m := nats.NewMsg(SubjectPrefix + collection)
	for k, v := range hdr {
		m.Header.Set(k, v)
	}
	m.Data = body
	ans, err := e.nc.RequestMsg(m, 30*time.Second)
	if err != nil {
		e.t.Fatalf("request to %s: %v", m.Subject, err)
	}
	var r reply
	if err := json.Unmarshal(ans.Data, &r); err != nil {
		e.t.Fatalf("reply %q: %v", ans.Data, err)
	}
	return r
}

// deadLetter returns the next dead letter.
func (e *testEnv) deadLetter() *nats.Msg {
	e.t.Helper()
	m, err := e.dls.NextMsg(30 * time.Second)
	if err != nil {
		e.t.Fatalf("no dead letter: %v", err)
	}
	return m
}

// rows returns the rows of SELECT * FROM collection through the HTTP API
// (none for a collection that does not exist), times in nanoseconds.
func (e *testEnv) rows(collection string) [][]any {
	e.t.Helper()
	resp, err := http.Get(e.http.URL + "/api/v1/query?epoch=ns&q=" + url.QueryEscape("SELECT * FROM "+collection))
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusNotFound {
		return nil
	}
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("query %s: %d %s", collection, resp.StatusCode, body)
	}
	var a struct {
		Rows [][]any `json:"rows"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&a); err != nil {
		e.t.Fatalf("query %s: %v: %s", collection, err, body)
	}
	return a.Rows
}

// metric returns the value of a line of /metrics ("name" or
// `name{label="x"}`).
func (e *testEnv) metric(series string) string {
	e.t.Helper()
	resp, err := http.Get(e.http.URL + "/metrics")
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, l := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(l, series+" "); ok {
			return v
		}
	}
	e.t.Fatalf("no %s in /metrics:\n%s", series, body)
	return ""
}

func gzipped(t *testing.T, s string) []byte {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write([]byte(s))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestIngest: bodies published over NATS are written as over HTTP and
// read back through the HTTP API; what cannot be written lands on
// soltix.deadletter with its reason, the original body and headers; the
// good lines of a body with bad ones are written.
func TestIngest(t *testing.T) {
	e := startEnv(t, nil, Options{MaxBodyBytes: 4096}, nil)
	jsonCT := map[string]string{"Content-Type": "application/json"}
	cases := []struct {
		name       string
		collection string
		hdr        map[string]string
		body       []byte
		written    int    // points written (and then in the collection)
		reason     string // of the dead letter, "" for none
		lines      string // in Soltix-Lines
		time       string // of the first row, when set
	}{
		{name: "line protocol", collection: "lp", body: []byte("lp,device_id=d1 v=1 1000000000\nlp,device_id=d2 v=2 1000000000\n"), written: 2},
		{name: "json", collection: "js", hdr: jsonCT, written: 2,
			body: []byte(`[{"device_id":"d1","time":1000000000,"fields":{"v":1}},{"device_id":"d2","time":"2026-01-01T00:00:00Z","fields":{"v":2,"s":"x"}}]`)},
		{name: "json one object, collection named", collection: "js1", hdr: jsonCT, written: 1,
			body: []byte(`{"collection":"js1","device_id":"d1","time":5,"fields":{"v":1}}`)},
		{name: "precision", collection: "prec", hdr: map[string]string{"Soltix-Precision": "s"}, written: 1,
			body: []byte("prec,device_id=d1 v=1 1700000000\n"), time: "1700000000000000000"},
		{name: "header name case", collection: "lower", hdr: map[string]string{"content-type": "application/json"}, written: 1,
			body: []byte(`{"device_id":"d1","time":5,"fields":{"v":1}}`)},
		{name: "gzip", collection: "gz", hdr: map[string]string{"Content-Encoding": "gzip"}, written: 1,
			body: gzipped(t, "gz,device_id=d1 v=1 7\n")},
		{name: "empty body", collection: "empty", body: nil},
		{name: "partial", collection: "part", written: 2, reason: ReasonBadLines, lines: `"line":2,"column":21`,
			body: []byte("part,device_id=d1 v=1 1\npart,device_id=d2 v=oops 2\npart,device_id=d3 v=3 3\n")},
		{name: "type clash in the body", collection: "clash", written: 1, reason: ReasonBadLines, lines: `"line":2`,
			body: []byte("clash,device_id=d v=1 1\nclash,device_id=d v=\"x\" 2\n")},
		{name: "other collection", collection: "mine", reason: ReasonBadLines, lines: `is not \"mine\"`,
			body: []byte("theirs,device_id=d v=1 1\n")},
		{name: "json other collection", collection: "mine2", hdr: jsonCT, reason: ReasonBadLines, lines: `"line":1`,
			body: []byte(`{"collection":"theirs","device_id":"d1","fields":{"v":1}}`)},
		{name: "bad json", collection: "badjs", hdr: jsonCT, reason: ReasonBadBody, lines: `"line":1,"column":13`,
			body: []byte(`{"device_id":`)},
		{name: "json not an object", collection: "badjs2", hdr: jsonCT, reason: ReasonBadBody, body: []byte(`42`)},
		{name: "bad precision", collection: "badp", hdr: map[string]string{"Soltix-Precision": "parsec"}, reason: ReasonBadHeader,
			body: []byte("badp,device_id=d v=1 1\n")},
		{name: "bad encoding", collection: "bade", hdr: map[string]string{"Content-Encoding": "br"}, reason: ReasonBadHeader,
			body: []byte("bade,device_id=d v=1 1\n")},
		{name: "bad gzip", collection: "badgz", hdr: map[string]string{"Content-Encoding": "gzip"}, reason: ReasonBadBody,
			body: []byte("not gzip")},
		{name: "too large", collection: "big", reason: ReasonTooLarge,
			body: []byte("big,device_id=d v=1 1\n" + strings.Repeat("#", 4096) + "\n")},
		{name: "too large once decompressed", collection: "big2", hdr: map[string]string{"Content-Encoding": "gzip"}, reason: ReasonTooLarge,
			body: gzipped(t, "big2,device_id=d v=1 1\n"+strings.Repeat("#", 8192)+"\n")},
	}
	deadLetters := map[string]int{}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e.t = t
			r := e.request(c.collection, c.hdr, c.body)
			if r.Written != c.written || r.Reason != c.reason {
				t.Fatalf("reply %+v, want %d written, reason %q", r, c.written, c.reason)
			}
			rows := e.rows(c.collection)
			if len(rows) != c.written {
				t.Fatalf("%d rows in %s, want %d: %v", len(rows), c.collection, c.written, rows)
			}
			if c.time != "" && fmt.Sprint(rows[0][0]) != c.time {
				t.Fatalf("time %v, want %s", rows[0][0], c.time)
			}
			if c.reason == "" {
				// The dead letter would be published before the reply, on
				// the connection the reply came by.
				if n, _, _ := e.dls.Pending(); n != 0 {
					t.Fatalf("%d dead letters for a good body", n)
				}
				return
			}
			deadLetters[c.reason]++
			dl := e.deadLetter()
			if !bytes.Equal(dl.Data, c.body) {
				t.Fatalf("dead letter body %q, want the original %q", dl.Data, c.body)
			}
			want := map[string]string{HeaderReason: c.reason, HeaderCollection: c.collection, HeaderSubject: SubjectPrefix + c.collection,
				HeaderWritten: fmt.Sprint(c.written), HeaderError: r.Error}
			for k, v := range c.hdr {
				want[k] = v
			}
			for k, v := range want {
				if got := dl.Header.Get(k); got != v {
					t.Errorf("dead letter %s = %q, want %q", k, got, v)
				}
			}
			if got := dl.Header.Get(HeaderLines); !strings.Contains(got, c.lines) {
				t.Errorf("dead letter %s = %q, want it to hold %q", HeaderLines, got, c.lines)
			}
			if dl.Header.Get(HeaderError) == "" {
				t.Error("dead letter without an error")
			}
		})
	}
	e.t = t
	written := 0
	for _, c := range cases {
		written += c.written
	}
	checks := map[string]string{
		"soltix_ingest_messages_total":       fmt.Sprint(len(cases)),
		"soltix_ingest_points_written_total": fmt.Sprint(written),
		"soltix_ingest_write_errors_total":   "0",
		"soltix_ingest_dropped_total":        "0",
		"soltix_ingest_lost_total":           "0",
		"soltix_ingest_connected":            "1",
	}
	for _, r := range reasons {
		checks[`soltix_ingest_dead_letters_total{reason="`+r+`"}`] = fmt.Sprint(deadLetters[r])
	}
	for series, want := range checks {
		if got := e.metric(series); got != want {
			t.Errorf("%s = %s, want %s", series, got, want)
		}
	}
}

// TestIngestPublish: messages published without a reply subject (what
// devices do) are written: the points appear through the HTTP API.
func TestIngestPublish(t *testing.T) {
	e := startEnv(t, nil, Options{}, nil)
	const n = 50
	for i := range n {
		if err := e.nc.Publish(SubjectPrefix+"pub", fmt.Appendf(nil, "pub,device_id=d%d v=%d 1000\n", i, i)); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for len(e.rows("pub")) < n {
		select {
		case <-ctx.Done():
			t.Fatalf("%d of %d points written", len(e.rows("pub")), n)
		case <-time.After(20 * time.Millisecond):
		}
	}
	if got := len(e.rows("pub")); got != n {
		t.Fatalf("%d points, want %d", got, n)
	}
	if got := e.metric("soltix_ingest_messages_total"); got != fmt.Sprint(n) {
		t.Fatalf("messages %s, want %d", got, n)
	}
}

// flaky fails its first writes with err, then writes.
type flaky struct {
	httpapi.Store
	fail  atomic.Int32
	err   error
	calls atomic.Int32
}

func (f *flaky) Write(ctx context.Context, points []model.Point) error {
	f.calls.Add(1)
	if f.fail.Add(-1) >= 0 {
		return f.err
	}
	return f.Store.Write(ctx, points)
}

// TestIngestRetries: a write refused for a passing reason (backpressure,
// storage unavailable) is retried and then succeeds; one that keeps
// failing is dead-lettered after the retries, with the reason, not lost.
func TestIngestRetries(t *testing.T) {
	cases := []struct {
		name    string
		fail    int32
		err     error
		written int
		reason  string
		calls   int32
	}{
		{name: "backpressure passes", fail: 2, err: fmt.Errorf("write: %w", storage.ErrBackpressure), written: 1, calls: 3},
		{name: "unavailable passes", fail: 3, err: storage.ErrUnavailable, written: 1, calls: 4},
		{name: "unavailable stays", fail: 100, err: storage.ErrUnavailable, reason: ReasonUnavailable, calls: 4},
		{name: "other error stays", fail: 100, err: errors.New("disk on fire"), reason: ReasonFailed, calls: 4},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := &flaky{err: c.err}
			f.fail.Store(c.fail)
			e := startEnv(t, nil, Options{MaxRetries: 3, RetryBackoff: time.Millisecond}, func(s httpapi.Store) httpapi.Store {
				f.Store = s
				return f
			})
			r := e.request("retry", nil, []byte("retry,device_id=d v=1 1\n"))
			if r.Written != c.written || r.Reason != c.reason || f.calls.Load() != c.calls {
				t.Fatalf("reply %+v after %d writes, want %d written, reason %q, %d writes", r, f.calls.Load(), c.written, c.reason, c.calls)
			}
			if got := len(e.rows("retry")); got != c.written {
				t.Fatalf("%d rows, want %d", got, c.written)
			}
			if got, want := e.metric("soltix_ingest_write_retries_total"), fmt.Sprint(min(c.calls-1, 3)); got != want {
				t.Fatalf("retries %s, want %s", got, want)
			}
			if c.reason == "" {
				return
			}
			dl := e.deadLetter()
			if dl.Header.Get(HeaderReason) != c.reason || !strings.Contains(dl.Header.Get(HeaderError), c.err.Error()) ||
				!strings.Contains(dl.Header.Get(HeaderError), "after 4 attempts") {
				t.Fatalf("dead letter headers %v", dl.Header)
			}
		})
	}
}

// TestIngestClosedStorage: with the storage closed under the subscriber
// (the write path of a stopping server), a message is dead-lettered as
// unavailable, not lost.
func TestIngestClosedStorage(t *testing.T) {
	e := startEnv(t, nil, Options{MaxRetries: 2, RetryBackoff: time.Millisecond}, nil)
	if err := e.db.Close(); err != nil {
		t.Fatal(err)
	}
	r := e.request("closed", nil, []byte("closed,device_id=d v=1 1\n"))
	if r.Written != 0 || r.Reason != ReasonUnavailable {
		t.Fatalf("reply %+v", r)
	}
	if dl := e.deadLetter(); dl.Header.Get(HeaderReason) != ReasonUnavailable || string(dl.Data) != "closed,device_id=d v=1 1\n" {
		t.Fatalf("dead letter %v %q", dl.Header, dl.Data)
	}
}

// TestDeadLetterTruncated: a dead letter whose body and headers would not
// fit in the server's max_payload carries the start of the body and the
// body's size.
func TestDeadLetterTruncated(t *testing.T) {
	ns := natstest.Start(t, natstest.Options{MaxPayload: 4096})
	e := startEnv(t, ns, Options{}, nil)
	body := []byte("trunc,device_id=d v=oops 1\n" + strings.Repeat("#", 4000) + "\n")
	if r := e.request("trunc", nil, body); r.Reason != ReasonBadLines {
		t.Fatalf("reply %+v", r)
	}
	dl := e.deadLetter()
	if dl.Header.Get(HeaderTruncated) != fmt.Sprint(len(body)) || len(dl.Data) >= len(body) || !bytes.HasPrefix(body, dl.Data) {
		t.Fatalf("dead letter of %d bytes, headers %v", len(dl.Data), dl.Header)
	}
}

// mqttClient connects a real MQTT client (paho) to the NATS server's MQTT
// listener.
func mqttClient(t *testing.T, ns *natstest.Server, id string) mqtt.Client {
	t.Helper()
	o := mqtt.NewClientOptions().AddBroker("tcp://" + ns.MQTTAddr()).SetClientID(id).SetCleanSession(true).
		SetConnectTimeout(10 * time.Second).SetAutoReconnect(false)
	c := mqtt.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
		t.Fatalf("MQTT connect: %v", tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return c
}

// TestIngestMQTT: devices publishing line protocol with QoS 0 and 1 to
// soltix/ingest/<collection> through the NATS server's MQTT listener are
// written; a bad payload lands on soltix.deadletter.
func TestIngestMQTT(t *testing.T) {
	ns := natstest.Start(t, natstest.Options{MQTT: true})
	e := startEnv(t, ns, Options{}, nil)
	c := mqttClient(t, ns, "device-1")
	for qos := range byte(2) {
		for i := range 10 {
			tok := c.Publish("soltix/ingest/mqtt", qos, false, fmt.Sprintf("mqtt,device_id=d%d,qos=%d v=%d 1000\n", i, qos, i))
			if !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
				t.Fatalf("publish QoS %d: %v", qos, tok.Error())
			}
		}
	}
	tok := c.Publish("soltix/ingest/mqtt", 1, false, "mqtt,device_id=bad v=\n")
	if !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
		t.Fatalf("publish: %v", tok.Error())
	}
	dl := e.deadLetter()
	// The MQTT bridge's Nmqtt-Pub header is not carried over: with it the
	// dead letter would not reach MQTT subscribers.
	if dl.Header.Get(HeaderReason) != ReasonBadLines || dl.Header.Get(HeaderSubject) != "soltix.ingest.mqtt" ||
		string(dl.Data) != "mqtt,device_id=bad v=\n" || dl.Header.Get("Nmqtt-Pub") != "" {
		t.Fatalf("dead letter %v %q", dl.Header, dl.Data)
	}
	// The bad payload was published after the others on the same MQTT
	// connection; with 4 workers they may still be in flight: wait for
	// them, bounded.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for len(e.rows("mqtt")) < 20 {
		select {
		case <-ctx.Done():
			t.Fatalf("%d of 20 points written", len(e.rows("mqtt")))
		case <-time.After(20 * time.Millisecond):
		}
	}
	if got := len(e.rows("mqtt")); got != 20 {
		t.Fatalf("%d points, want 20", got)
	}
}

// TestIngestCloseDeadLetters: a subscriber stopping while it retries a
// write does not wait out the retries nor lose the message: it tries once
// more at once, then dead-letters it as unavailable.
func TestIngestCloseDeadLetters(t *testing.T) {
	f := &flaky{err: storage.ErrUnavailable}
	f.fail.Store(1 << 30)
	e := startEnv(t, nil, Options{MaxRetries: 1000, RetryBackoff: time.Hour}, func(s httpapi.Store) httpapi.Store {
		f.Store = s
		return f
	})
	if err := e.nc.Publish(SubjectPrefix+"stop", []byte("stop,device_id=d v=1 1\n")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for f.calls.Load() == 0 {
		select {
		case <-ctx.Done():
			t.Fatal("the message never reached the store")
		case <-time.After(5 * time.Millisecond):
		}
	}
	if err := e.sub.Close(ctx); err != nil {
		t.Fatal(err)
	}
	dl := e.deadLetter()
	if dl.Header.Get(HeaderReason) != ReasonUnavailable || string(dl.Data) != "stop,device_id=d v=1 1\n" || f.calls.Load() != 2 {
		t.Fatalf("dead letter %v %q after %d writes", dl.Header, dl.Data, f.calls.Load())
	}
}
