package ingest

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go"

	"github.com/soltixdb/soltix/httpapi"
)

// Headers of a dead letter, besides the original message's.
const (
	HeaderReason     = "Soltix-Reason"
	HeaderError      = "Soltix-Error"
	HeaderCollection = "Soltix-Collection"
	HeaderSubject    = "Soltix-Subject"
	HeaderWritten    = "Soltix-Written"
	HeaderLines      = "Soltix-Lines"
	HeaderTruncated  = "Soltix-Truncated"
)

// maxLinesHeader bounds the Soltix-Lines header: bad lines beyond it are
// left out of the list (Soltix-Error still counts them).
const maxLinesHeader = 16 << 10

// deadLetter publishes the message m, which r could not write whole, to
// DeadLetterSubject.
func (s *Subscriber) deadLetter(m *nats.Msg, r result) {
	s.metrics.deadLetter(r.reason)
	dl := s.deadLetterMsg(m, r, s.nc.MaxPayload())
	if err := s.nc.PublishMsg(dl); err != nil {
		s.metrics.lost.Add(1)
		s.log.Error("ingest: cannot publish a dead letter; the message is lost", "subject", m.Subject, "reason", r.reason, "error", r.err, "err", err)
		return
	}
	s.log.Warn("ingest: dead letter", "subject", m.Subject, "reason", r.reason, "error", r.err)
}

// deadLetterMsg builds the dead letter of m: its headers and body, with
// the body cut when the whole would not fit in maxPayload bytes (0: no
// limit known).
func (s *Subscriber) deadLetterMsg(m *nats.Msg, r result, maxPayload int64) *nats.Msg {
	dl := nats.NewMsg(DeadLetterSubject)
	for k, v := range m.Header {
		if !serverHeader(k) {
			dl.Header[k] = slices.Clone(v)
		}
	}
	set := func(k, v string) { dl.Header[k] = []string{headerValue(v)} }
	set(HeaderReason, r.reason)
	set(HeaderError, r.err)
	set(HeaderCollection, r.collection)
	set(HeaderSubject, m.Subject)
	set(HeaderWritten, strconv.Itoa(r.written))
	if len(r.bad) > 0 {
		set(HeaderLines, linesJSON(r.bad))
	}
	dl.Data = m.Data
	if maxPayload > 0 {
		room := maxPayload - headerSize(dl.Header) - 64 // 64: Soltix-Truncated
		if room < 0 {
			room = 0
		}
		if int64(len(dl.Data)) > room {
			set(HeaderTruncated, strconv.Itoa(len(m.Data)))
			dl.Data = dl.Data[:room]
		}
	}
	return dl
}

// serverHeader reports a header the NATS server gives a meaning to, which
// a dead letter must not carry over: Nats-* (JetStream's message id and
// expectations, which would make a stream capturing soltix.deadletter
// drop or refuse it) and Nmqtt-* (the MQTT bridge's, which would keep it
// from MQTT subscribers).
func serverHeader(k string) bool {
	k = strings.ToLower(k)
	return strings.HasPrefix(k, "nats-") || strings.HasPrefix(k, "nmqtt-")
}

// linesJSON encodes the bad lines that fit in maxLinesHeader bytes.
func linesJSON(bad []httpapi.BadLine) string {
	b := []byte{'['}
	for i, l := range bad {
		e, _ := json.Marshal(l)
		if len(b)+len(e)+2 > maxLinesHeader {
			break
		}
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, e...)
	}
	return string(append(b, ']'))
}

// headerValue makes v fit in a header: no CR or LF.
func headerValue(v string) string {
	if !strings.ContainsAny(v, "\r\n") {
		return v
	}
	return strings.NewReplacer("\r", " ", "\n", " ").Replace(v)
}

// headerSize is the size of h on the wire ("NATS/1.0\r\n", "k: v\r\n"
// lines, "\r\n").
func headerSize(h nats.Header) int64 {
	n := int64(len("NATS/1.0\r\n\r\n"))
	for k, vs := range h {
		for _, v := range vs {
			n += int64(len(k) + len(v) + 4)
		}
	}
	return n
}

// appendJSON appends s as a JSON string.
func appendJSON(b []byte, s string) []byte {
	e, _ := json.Marshal(s)
	return append(b, e...)
}
