package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/soltixdb/soltix/internal/natstest"
)

// These tests run the soltix binary with --nats against a real
// nats-server with its MQTT listener (internal/natstest), and publish as
// devices do, with a real MQTT client (paho): line protocol to
// soltix/ingest/<collection>. The points are queried back over HTTP; a bad
// payload is read from soltix/deadletter (the MQTT side of the
// soltix.deadletter subject: the payload without the NATS headers, which
// replication/ingest's tests check).

// mqttDevice connects an MQTT client to the server's MQTT listener.
func mqttDevice(t *testing.T, ns *natstest.Server, id string) mqtt.Client {
	t.Helper()
	o := mqtt.NewClientOptions().AddBroker("tcp://" + ns.MQTTAddr()).SetClientID(id).SetCleanSession(true).
		SetConnectTimeout(10 * time.Second).SetAutoReconnect(false)
	c := mqtt.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
		t.Fatalf("MQTT connect %s: %v", id, tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return c
}

// deadLetters subscribes to soltix/deadletter and returns the payloads
// received.
func deadLetters(t *testing.T, ns *natstest.Server) <-chan string {
	t.Helper()
	c := mqttDevice(t, ns, "deadletter-reader")
	ch := make(chan string, 16)
	tok := c.Subscribe("soltix/deadletter", 1, func(_ mqtt.Client, m mqtt.Message) { ch <- string(m.Payload()) })
	if !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
		t.Fatalf("MQTT subscribe: %v", tok.Error())
	}
	return ch
}

// publishDevices publishes n points of collection, one message per point
// from n/devices devices, alternating QoS 0 and 1, then a bad payload, and
// returns the bad payload.
func publishDevices(t *testing.T, ns *natstest.Server, collection string, devices, perDevice int) string {
	t.Helper()
	for d := range devices {
		c := mqttDevice(t, ns, "device-"+strconv.Itoa(d))
		for i := range perDevice {
			line := fmt.Sprintf("%s,device_id=d%d v=%d %d\n", collection, d, i, 1_700_000_000_000_000_000+int64(i)*1_000_000_000)
			tok := c.Publish("soltix/ingest/"+collection, byte(i%2), false, line)
			if !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
				t.Fatalf("publish: %v", tok.Error())
			}
		}
	}
	bad := collection + ",device_id=bad v=\n"
	c := mqttDevice(t, ns, "bad-device")
	if tok := c.Publish("soltix/ingest/"+collection, 1, false, bad); !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
		t.Fatalf("publish: %v", tok.Error())
	}
	return bad
}

// waitRows polls count() of collection through base until it is want,
// bounded by a deadline; it returns the last count.
func waitRows(t *testing.T, base, collection string, want int) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	got := -1
	for {
		// 404 until the first point of the collection is written.
		resp, err := http.Get(base + "/api/v1/query?format=csv&q=" + url.QueryEscape("SELECT count(v) FROM "+collection))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch resp.StatusCode {
		case http.StatusOK:
			// A header line, then count(v) in the last column.
			lines := strings.Split(strings.TrimSpace(string(body)), "\n")
			cols := strings.Split(lines[len(lines)-1], ",")
			got, _ = strconv.Atoi(strings.TrimSpace(cols[len(cols)-1]))
		case http.StatusNotFound:
		default:
			t.Fatalf("count %s: %d %s", collection, resp.StatusCode, body)
		}
		if got == want {
			return got
		}
		select {
		case <-ctx.Done():
			return got
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// ingestMetric reads one soltix_ingest_* line of base's /metrics.
func ingestMetric(t *testing.T, base, series string) int {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, l := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(l, series+" "); ok {
			n, err := strconv.Atoi(v)
			if err != nil {
				t.Fatalf("%s: %v", series, err)
			}
			return n
		}
	}
	t.Fatalf("no %s in %s/metrics", series, base)
	return 0
}

// TestNATSIngestServe: soltix serve --nats takes MQTT devices' points
// (QoS 0 and 1) and dead-letters a bad payload; it stops cleanly.
func TestNATSIngestServe(t *testing.T) {
	ns := natstest.Start(t, natstest.Options{MQTT: true})
	dls := deadLetters(t, ns)
	srv := startBinary(t, t.TempDir(), "--nats", ns.URL())
	bad := publishDevices(t, ns, "mqserve", 3, 10)
	if got := waitRows(t, srv.url, "mqserve", 30); got != 30 {
		t.Fatalf("%d points through serve, want 30; logs:\n%s", got, srv.logs)
	}
	select {
	case p := <-dls:
		if p != bad {
			t.Fatalf("dead letter %q, want %q", p, bad)
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("no dead letter; logs:\n%s", srv.logs)
	}
	if n := ingestMetric(t, srv.url, "soltix_ingest_messages_total"); n != 31 {
		t.Fatalf("soltix_ingest_messages_total %d, want 31", n)
	}
	srv.stop(t)
}

// TestNATSIngestRouter: with cluster.nats, two routers share the MQTT
// devices' messages as a queue group (each message is handled once, by one
// of them), the points are spread over the storage nodes and queried back
// through a router; a bad payload is dead-lettered.
func TestNATSIngestRouter(t *testing.T) {
	ns := natstest.Start(t, natstest.Options{MQTT: true})
	c := startClusterWith(t, clusterOptions{nodes: 2, routers: 2, groups: 4, nats: ns.URL()})
	dls := deadLetters(t, ns)
	bad := publishDevices(t, ns, "mqrouter", 4, 10)
	if got := waitRows(t, c.url(), "mqrouter", 40); got != 40 {
		t.Fatalf("%d points through the router, want 40", got)
	}
	select {
	case p := <-dls:
		if p != bad {
			t.Fatalf("dead letter %q, want %q", p, bad)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("no dead letter")
	}
	messages, points, deadLettered := 0, 0, 0
	for _, r := range c.routers {
		messages += ingestMetric(t, r.url(), "soltix_ingest_messages_total")
		points += ingestMetric(t, r.url(), "soltix_ingest_points_written_total")
		deadLettered += ingestMetric(t, r.url(), `soltix_ingest_dead_letters_total{reason="bad-lines"}`)
	}
	if messages != 41 || points != 40 || deadLettered != 1 {
		t.Fatalf("routers handled %d messages, wrote %d points, dead-lettered %d; want 41, 40, 1", messages, points, deadLettered)
	}
}

// TestNATSIngestServeWithoutNATS: serve --nats starts while the NATS
// server is down, serves HTTP, and takes MQTT devices' points once the
// server is up (soltix_ingest_connected turns 1).
func TestNATSIngestServeWithoutNATS(t *testing.T) {
	ns := natstest.Start(t, natstest.Options{MQTT: true})
	ns.Stop()
	srv := startBinary(t, t.TempDir(), "--nats", ns.URL())
	if n := ingestMetric(t, srv.url, "soltix_ingest_connected"); n != 0 {
		t.Fatalf("soltix_ingest_connected %d with the server down", n)
	}
	if code, err := srv.write("up,device_id=d v=1 1\n"); err != nil || code != http.StatusNoContent {
		t.Fatalf("HTTP write with NATS down: %d %v", code, err)
	}
	if err := ns.Restart(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for ingestMetric(t, srv.url, "soltix_ingest_connected") != 1 {
		select {
		case <-ctx.Done():
			t.Fatalf("not connected to NATS; logs:\n%s", srv.logs)
		case <-time.After(50 * time.Millisecond):
		}
	}
	publishDevices(t, ns, "late", 1, 5)
	if got := waitRows(t, srv.url, "late", 5); got != 5 {
		t.Fatalf("%d points, want 5; logs:\n%s", got, srv.logs)
	}
	srv.stop(t)
}
