package ingest

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/soltixdb/soltix/httpapi"
	"github.com/soltixdb/soltix/lineproto"
	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/storage"
)

// Headers read from an ingested message.
const (
	HeaderContentType     = "Content-Type"
	HeaderContentEncoding = "Content-Encoding"
	HeaderPrecision       = "Soltix-Precision"
)

// Reasons of a dead letter (its Soltix-Reason header).
const (
	ReasonTooLarge    = "too-large"   // body over the limit, as sent or decompressed
	ReasonBadHeader   = "bad-header"  // unknown precision or encoding
	ReasonBadBody     = "bad-body"    // refused whole: JSON that does not parse, bad gzip
	ReasonBadLines    = "bad-lines"   // some lines refused, the others written
	ReasonUnavailable = "unavailable" // storage unavailable after the retries
	ReasonFailed      = "failed"      // another store error after the retries
)

// maxConflictRounds bounds the writes of one message that storage refuses
// point by point (a field kind changed by a concurrent write, a point
// past retention by storage's clock): each round drops the points named.
const maxConflictRounds = 4

// result is what became of one message.
type result struct {
	collection string
	written    int               // points written
	reason     string            // "" when everything was written
	err        string            // a sentence for Soltix-Error
	bad        []httpapi.BadLine // the refused lines
}

// handle is the NATS callback of every subscription.
func (s *Subscriber) handle(m *nats.Msg) {
	s.metrics.messages.Add(1)
	r := s.process(m.Subject, m.Header, m.Data)
	s.metrics.points.Add(uint64(r.written))
	if r.reason != "" {
		s.deadLetter(m, r)
	}
	if m.Reply != "" {
		if err := m.Respond(r.reply()); err != nil {
			s.log.Warn("ingest: reply", "subject", m.Subject, "err", err)
		}
	}
}

// process decodes and writes one message's body.
func (s *Subscriber) process(subject string, hdr nats.Header, data []byte) result {
	r := result{collection: strings.TrimPrefix(subject, SubjectPrefix)}
	limit := s.opts.MaxBodyBytes
	if int64(len(data)) > limit {
		return r.refuse(ReasonTooLarge, fmt.Sprintf("body of %d bytes is over the limit of %d bytes", len(data), limit))
	}
	prec, err := lineproto.ParsePrecision(header(hdr, HeaderPrecision))
	if err != nil {
		return r.refuse(ReasonBadHeader, fmt.Sprintf("bad %s header: %v", HeaderPrecision, err))
	}
	body, reason, msg := decompress(header(hdr, HeaderContentEncoding), data, limit)
	if reason != "" {
		return r.refuse(reason, msg)
	}
	d := httpapi.DecodeWrite(s.store, s.opts.Now(), httpapi.WriteBody{
		Body:           body,
		ContentType:    header(hdr, HeaderContentType),
		Collection:     r.collection,
		OnlyCollection: true,
		Precision:      prec,
	})
	if d.Refused != "" {
		r.bad = d.Bad
		return r.refuse(ReasonBadBody, d.Refused+"; nothing written")
	}
	r.bad = d.Bad
	r.written, reason, msg = s.write(d.Points, d.Lines, &r.bad)
	switch {
	case reason != "":
		r.reason, r.err = reason, msg
	case len(r.bad) > 0:
		r.reason = ReasonBadLines
		r.err = badLinesMessage(r.bad, r.written)
		if d.Stopped {
			r.err = fmt.Sprintf("%d bad lines, parsing stopped there; %d points written", len(r.bad), r.written)
		}
	}
	return r
}

func (r result) refuse(reason, msg string) result {
	r.reason, r.err = reason, msg
	return r
}

// reply is the answer to a request: {"written":N} when everything was
// written, with "reason" and "error" otherwise.
func (r result) reply() []byte {
	b := []byte(`{"written":`)
	b = strconv.AppendInt(b, int64(r.written), 10)
	if r.reason != "" {
		b = append(b, `,"reason":`...)
		b = strconv.AppendQuote(b, r.reason)
		b = append(b, `,"error":`...)
		b = appendJSON(b, r.err)
	}
	return append(b, '}')
}

// write stores points, retrying what fails for a passing reason and
// dropping (into bad) the points storage refuses one by one. It returns
// the number of points written, and a dead-letter reason and message when
// the remaining points could not be written.
func (s *Subscriber) write(points []model.Point, lines []int, bad *[]httpapi.BadLine) (int, string, string) {
	attempt, rounds := 0, 0
	for len(points) > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), s.opts.WriteTimeout)
		err := s.store.Write(ctx, points)
		cancel()
		if err == nil {
			return len(points), "", ""
		}
		if refused := refusedPoints(err); refused != nil {
			rounds++
			if rounds > maxConflictRounds {
				return 0, ReasonFailed, fmt.Sprintf("write: %v; nothing written", err)
			}
			points, lines = dropPoints(points, lines, refused, bad)
			continue
		}
		s.metrics.writeErrors.Add(1)
		transient := isTransient(err)
		if attempt >= s.opts.MaxRetries || s.stopping.Err() != nil {
			reason := ReasonFailed
			if transient {
				reason = ReasonUnavailable
			}
			s.log.Warn("ingest: write failed, dead-lettering the message", "points", len(points), "attempts", attempt+1, "err", err)
			return 0, reason, fmt.Sprintf("write: %v (after %d attempts); nothing written", err, attempt+1)
		}
		wait := s.opts.RetryBackoff << min(attempt, 16)
		if wait > maxBackoff || wait <= 0 {
			wait = maxBackoff
		}
		attempt++
		s.metrics.retries.Add(1)
		select {
		case <-time.After(wait):
		case <-s.stopping.Done():
		}
	}
	return 0, "", ""
}

// isTransient reports an error the HTTP API answers 503: the write may
// succeed later.
func isTransient(err error) bool {
	return errors.Is(err, storage.ErrUnavailable) || errors.Is(err, storage.ErrClosed) ||
		errors.Is(err, storage.ErrBackpressure) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, context.Canceled)
}

// refusedPoints returns the points storage refused one by one (index of
// the point, reason), or nil when err is not such a refusal.
func refusedPoints(err error) map[int]string {
	var ce *storage.ConflictError
	if errors.As(err, &ce) {
		out := make(map[int]string, len(ce.Conflicts))
		for _, c := range ce.Conflicts {
			out[c.Point] = c.Reason()
		}
		return out
	}
	var re *storage.RetentionError
	if errors.As(err, &re) {
		return map[int]string{re.Point: re.Reason()}
	}
	return nil
}

// dropPoints removes the refused points (an index out of range drops
// them all: storage named no point it was given) and adds them to bad.
func dropPoints(points []model.Point, lines []int, refused map[int]string, bad *[]httpapi.BadLine) ([]model.Point, []int) {
	for i := range refused {
		if i < 0 || i >= len(points) {
			for j := range points {
				*bad = append(*bad, httpapi.BadLine{Line: lines[j], Reason: refused[i]})
			}
			sortBad(*bad)
			return nil, nil
		}
	}
	var keptP []model.Point
	var keptL []int
	for i := range points {
		if reason, ok := refused[i]; ok {
			*bad = append(*bad, httpapi.BadLine{Line: lines[i], Reason: reason})
			continue
		}
		keptP = append(keptP, points[i])
		keptL = append(keptL, lines[i])
	}
	sortBad(*bad)
	return keptP, keptL
}

func sortBad(bad []httpapi.BadLine) {
	slices.SortStableFunc(bad, func(a, b httpapi.BadLine) int { return a.Line - b.Line })
}

// badLinesMessage is "2 bad lines; 3 points written", counting distinct
// lines.
func badLinesMessage(bad []httpapi.BadLine, written int) string {
	n := 0
	for i, b := range bad {
		if i == 0 || bad[i-1].Line != b.Line {
			n++
		}
	}
	lines := "bad lines"
	if n == 1 {
		lines = "bad line"
	}
	points := "points"
	if written == 1 {
		points = "point"
	}
	return fmt.Sprintf("%d %s; %d %s written", n, lines, written, points)
}

// decompress returns the body a Content-Encoding names, bounded by limit
// after decompression.
func decompress(encoding string, data []byte, limit int64) (body []byte, reason, msg string) {
	switch enc := strings.ToLower(strings.TrimSpace(encoding)); enc {
	case "", "identity":
		return data, "", ""
	case "gzip", "x-gzip":
	default:
		return nil, ReasonBadHeader, fmt.Sprintf("unsupported %s %q: use gzip or none", HeaderContentEncoding, enc)
	}
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, ReasonBadBody, fmt.Sprintf("bad gzip body: %v; nothing written", err)
	}
	defer zr.Close()
	var buf bytes.Buffer
	n, err := buf.ReadFrom(io.LimitReader(zr, limit+1))
	switch {
	case err != nil:
		return nil, ReasonBadBody, fmt.Sprintf("bad gzip body: %v; nothing written", err)
	case n > limit:
		return nil, ReasonTooLarge, fmt.Sprintf("body is over the limit of %d bytes once decompressed", limit)
	}
	return buf.Bytes(), "", ""
}

// header returns the first value of a header, its name compared without
// case (NATS headers keep the case they were sent with).
func header(h nats.Header, name string) string {
	if v := h.Get(name); v != "" {
		return v
	}
	for k, v := range h {
		if strings.EqualFold(k, name) && len(v) > 0 {
			return v[0]
		}
	}
	return ""
}
