package ingest

import (
	"bytes"
	"strconv"
	"sync"
	"sync/atomic"
)

// reasons are the dead-letter reasons, in the order /metrics lists them.
var reasons = []string{ReasonTooLarge, ReasonBadHeader, ReasonBadBody, ReasonBadLines, ReasonUnavailable, ReasonFailed}

// metrics are the Subscriber's counters.
type metrics struct {
	messages    atomic.Uint64 // messages taken
	points      atomic.Uint64 // points written
	writeErrors atomic.Uint64 // Store.Write calls that failed (not refusals of points)
	retries     atomic.Uint64 // writes retried
	lost        atomic.Uint64 // dead letters that could not be published

	mu          sync.Mutex
	deadLetters map[string]uint64 // by reason
}

func (m *metrics) deadLetter(reason string) {
	m.mu.Lock()
	m.deadLetters[reason]++
	m.mu.Unlock()
}

// WriteMetrics writes the Subscriber's families in the Prometheus text
// format (httpapi.Options.Metrics takes it).
func (s *Subscriber) WriteMetrics(b *bytes.Buffer) {
	family := func(name, typ, help string) {
		b.WriteString("# HELP " + name + " " + help + "\n")
		b.WriteString("# TYPE " + name + " " + typ + "\n")
	}
	value := func(name, typ, help string, v uint64) {
		family(name, typ, help)
		b.WriteString(name + " " + strconv.FormatUint(v, 10) + "\n")
	}
	m := &s.metrics
	value("soltix_ingest_messages_total", "counter", "Messages taken from soltix.ingest.* (NATS and MQTT).", m.messages.Load())
	value("soltix_ingest_points_written_total", "counter", "Points of ingested messages written.", m.points.Load())
	family("soltix_ingest_dead_letters_total", "counter", "Messages published to soltix.deadletter, by reason.")
	m.mu.Lock()
	for _, r := range reasons {
		b.WriteString(`soltix_ingest_dead_letters_total{reason="` + r + `"} ` + strconv.FormatUint(m.deadLetters[r], 10) + "\n")
	}
	m.mu.Unlock()
	value("soltix_ingest_write_errors_total", "counter", "Writes of ingested points that failed (each is retried or dead-lettered).", m.writeErrors.Load())
	value("soltix_ingest_write_retries_total", "counter", "Writes of ingested points retried after a failure.", m.retries.Load())
	var dropped uint64
	for _, sub := range s.subs {
		if n, err := sub.Dropped(); err == nil && n > 0 {
			dropped += uint64(n)
		}
	}
	value("soltix_ingest_dropped_total", "counter", "Messages the NATS client dropped because the subscriber fell behind (pending limits).", dropped)
	value("soltix_ingest_lost_total", "counter", "Dead letters that could not be published.", m.lost.Load())
	var up uint64
	if s.nc.IsConnected() {
		up = 1
	}
	value("soltix_ingest_connected", "gauge", "1 when the connection to NATS is up.", up)
}
