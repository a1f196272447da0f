package natstest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// conn is a minimal NATS protocol client (only replication/ may import the
// NATS client library): CONNECT, SUB, PUB and reading one MSG.
type conn struct {
	t  *testing.T
	c  net.Conn
	rd *bufio.Reader
}

func dial(t *testing.T, url string) *conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", strings.TrimPrefix(url, "nats://"), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(30 * time.Second))
	n := &conn{t: t, c: c, rd: bufio.NewReader(c)}
	if line := n.line(); !strings.HasPrefix(line, "INFO ") {
		t.Fatalf("greeting %q", line)
	}
	n.send("CONNECT {\"verbose\":false,\"pedantic\":false}\r\nSUB _INBOX.natstest 1\r\n")
	return n
}

func (n *conn) send(s string) {
	n.t.Helper()
	if _, err := io.WriteString(n.c, s); err != nil {
		n.t.Fatal(err)
	}
}

func (n *conn) line() string {
	n.t.Helper()
	l, err := n.rd.ReadString('\n')
	if err != nil {
		n.t.Fatal(err)
	}
	return strings.TrimRight(l, "\r\n")
}

// request publishes body to subj with the inbox as reply and decodes the
// answer into v.
func (n *conn) request(subj, body string, v any) {
	n.t.Helper()
	n.send(fmt.Sprintf("PUB %s _INBOX.natstest %d\r\n%s\r\n", subj, len(body), body))
	for {
		l := n.line()
		if l == "PING" {
			n.send("PONG\r\n")
			continue
		}
		f := strings.Fields(l)
		if len(f) != 4 || f[0] != "MSG" {
			n.t.Fatalf("answer to %s: %q", subj, l)
		}
		size, err := strconv.Atoi(f[3])
		if err != nil {
			n.t.Fatal(err)
		}
		b := make([]byte, size+2)
		if _, err := io.ReadFull(n.rd, b); err != nil {
			n.t.Fatal(err)
		}
		if err := json.Unmarshal(b[:size], v); err != nil {
			n.t.Fatalf("answer to %s: %q: %v", subj, b, err)
		}
		return
	}
}

type streamInfo struct {
	Error *struct {
		Description string `json:"description"`
	} `json:"error"`
	State struct {
		Messages uint64 `json:"messages"`
	} `json:"state"`
}

func messages(t *testing.T, s *Server) uint64 {
	t.Helper()
	var si streamInfo
	dial(t, s.URL()).request("$JS.API.STREAM.INFO.T", "", &si)
	if si.Error != nil {
		t.Fatalf("stream info: %s", si.Error.Description)
	}
	return si.State.Messages
}

// TestJetStreamSurvivesKill: messages JetStream acknowledged on a file
// stream are there after a SIGKILL and Restart, on the same URL; Stop twice
// is harmless.
func TestJetStreamSurvivesKill(t *testing.T) {
	s := Start(t)
	url := s.URL()
	n := dial(t, url)
	var si streamInfo
	n.request("$JS.API.STREAM.CREATE.T", `{"name":"T","subjects":["t.>"],"storage":"file"}`, &si)
	if si.Error != nil {
		t.Fatalf("create stream: %s", si.Error.Description)
	}
	for i := range 3 {
		var ack struct {
			Seq   uint64 `json:"seq"`
			Error *struct {
				Description string `json:"description"`
			} `json:"error"`
		}
		n.request("t.x", "m"+strconv.Itoa(i), &ack)
		if ack.Error != nil || ack.Seq != uint64(i+1) {
			t.Fatalf("publish %d: %+v", i, ack)
		}
	}
	s.Kill()
	if _, err := net.DialTimeout("tcp", strings.TrimPrefix(url, "nats://"), time.Second); err == nil {
		t.Fatal("server answers after Kill")
	}
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	if s.URL() != url {
		t.Fatalf("URL after restart %s, was %s", s.URL(), url)
	}
	if got := messages(t, s); got != 3 {
		t.Fatalf("%d messages after restart, want 3", got)
	}
	s.Stop()
	s.Stop()
	if s.Pid() != 0 {
		t.Fatal("Pid of a stopped server is not 0")
	}
}

// TestMQTTListener: with Options.MQTT the listener answers an MQTT 3.1.1
// CONNECT with CONNACK "accepted"; without it there is no address. Two
// servers get distinct ports and directories.
func TestMQTTListener(t *testing.T) {
	plain, s := Start(t), Start(t, Options{MQTT: true, MaxPayload: 4 << 20})
	if plain.MQTTAddr() != "" {
		t.Fatalf("MQTT address without the option: %q", plain.MQTTAddr())
	}
	if plain.URL() == s.URL() || plain.Dir() == s.Dir() {
		t.Fatalf("shared URL or dir: %s %s", plain.URL(), s.URL())
	}
	c, err := net.DialTimeout("tcp", s.MQTTAddr(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	// CONNECT: protocol "MQTT" level 4, clean session, keep-alive 30 s,
	// client id "natstest".
	body := []byte{0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, 0, 30, 0, 8}
	body = append(body, "natstest"...)
	if _, err := c.Write(append([]byte{0x10, byte(len(body))}, body...)); err != nil {
		t.Fatal(err)
	}
	ack := make([]byte, 4)
	if _, err := io.ReadFull(c, ack); err != nil {
		t.Fatal(err)
	}
	if ack[0] != 0x20 || ack[1] != 2 || ack[3] != 0 {
		t.Fatalf("CONNACK % x", ack)
	}
	var info struct {
		MaxPayload int `json:"max_payload"`
	}
	resp, err := http.Get(s.MonitorURL() + "/varz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&info); err != nil {
		t.Fatal(err)
	}
	if info.MaxPayload != 4<<20 {
		t.Fatalf("max_payload %d, want %d", info.MaxPayload, 4<<20)
	}
}
