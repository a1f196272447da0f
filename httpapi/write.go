package httpapi

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/soltixdb/soltix/internal/freelist"
	"github.com/soltixdb/soltix/internal/timex"
	"github.com/soltixdb/soltix/lineproto"
	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/storage"
)

// writeEndpoint describes the differences between the write routes.
type writeEndpoint struct {
	precisions []string // accepted values of the precision parameter
	json       bool     // whether application/json bodies are accepted
}

var (
	// POST /api/v1/write.
	writeV1Endpoint = writeEndpoint{precisions: []string{"", "ns", "us", "ms", "s"}, json: true}
	// POST /write (InfluxDB 1.x).
	writeInfluxV1Endpoint = writeEndpoint{precisions: []string{"", "n", "ns", "u", "ms", "s", "m", "h"}}
	// POST /api/v2/write (InfluxDB 2.x).
	writeInfluxV2Endpoint = writeEndpoint{precisions: []string{"", "ns", "us", "ms", "s"}}
)

func (s *server) writeV1(w http.ResponseWriter, r *http.Request) {
	s.write(w, r, writeV1Endpoint)
}

// writeInfluxV1 serves POST /write. db and rp are accepted and ignored:
// Soltix has one namespace. u and p are the credentials (guard).
func (s *server) writeInfluxV1(w http.ResponseWriter, r *http.Request) {
	s.write(w, r, writeInfluxV1Endpoint)
}

// writeInfluxV2 serves POST /api/v2/write. org and bucket are accepted and
// ignored; the Authorization header is guard's.
func (s *server) writeInfluxV2(w http.ResponseWriter, r *http.Request) {
	s.write(w, r, writeInfluxV2Endpoint)
}

// badLine is one entry of the "lines" list of a 400 answer to a write.
type badLine struct {
	Line   int
	Column int
	Reason string
}

func (s *server) write(w http.ResponseWriter, r *http.Request, ep writeEndpoint) {
	ctx := r.Context()
	fail := func(code int, msg string) {
		s.metrics.writeRejected(writeReasonFor(code))
		writeError(w, code, msg)
	}

	params := r.URL.Query()
	p := params.Get("precision")
	if !slices.Contains(ep.precisions, p) {
		fail(http.StatusBadRequest, fmt.Sprintf("bad precision %q: want one of %s", p, strings.Join(ep.precisions[1:], ", ")))
		return
	}
	prec, err := lineproto.ParsePrecision(p)
	if err != nil {
		fail(http.StatusBadRequest, fmt.Sprintf("bad precision %q: %v", p, err))
		return
	}

	// The body's buffer is reused by a later write once this one is
	// answered: nothing decoded from it refers to its bytes.
	spare := getBodyBuf()
	body, code, err := s.readBodyInto(w, r, spare)
	if err != nil {
		putBodyBuf(spare)
		s.metrics.writeRejected(writeReasonLimit)
		writeError(w, code, err.Error())
		return
	}
	defer putBodyBuf(body)
	s.metrics.writeBytes.Add(uint64(len(body)))

	now, _ := timex.FromTime(s.now())
	var (
		points []model.Point
		lines  []int // lines[i] is what a bad points[i] is reported as
		bad    []badLine
	)
	jsonBody := ep.json && isJSON(r.Header.Get("Content-Type"))
	// The points stay in memory until stored: take their share of the
	// decode gate first (decodegate.go).
	release, err := s.decodes.acquire(ctx, decodeEstimate(body, jsonBody))
	if err != nil {
		w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds))
		s.metrics.writeRejected(writeReasonLimit)
		writeError(w, http.StatusServiceUnavailable, "write: waiting to decode the body: "+err.Error())
		return
	}
	defer release()
	// While it decodes and stores the points, the store's background
	// work gives way to it (storage.DB.Decoding).
	if d, ok := s.store.(interface{ Decoding() func() }); ok {
		defer d.Decoding()()
	}
	// Type clashes and other refusals are found while decoding, so that
	// they are reported with the syntax errors (see writeChecks).
	checks := newWriteChecks(s.store, now)
	if jsonBody {
		var syntax *badLine
		points, lines, bad, syntax, err = decodeJSON(body, params.Get("collection"), int64(prec), now, checks.point)
		switch {
		case syntax != nil:
			s.metrics.writeRejected(writeReasonBadLines)
			writeBadLines(w, "bad JSON body; nothing written", []badLine{*syntax})
			return
		case err != nil:
			fail(http.StatusBadRequest, err.Error())
			return
		}
	} else {
		var errs []*lineproto.LineError
		arena := s.arena()
		if arena != nil {
			defer putArena(arena)
		}
		points, lines, errs = lineproto.ParseInto(arena, body, prec, now, checks.lineproto())
		for _, e := range errs {
			bad = append(bad, badLine{Line: e.Line, Column: e.Column, Reason: e.Reason})
		}
	}
	if len(bad) > 0 {
		msg := badLinesMessage(bad)
		if !jsonBody && len(bad) >= lineproto.MaxErrors {
			msg = fmt.Sprintf("%d bad lines, parsing stopped there; nothing written", len(bad))
		}
		s.metrics.writeRejected(writeReasonBadLines)
		writeBadLines(w, msg, bad)
		return
	}
	if t := principal(ctx); t.limited() {
		for i := range points {
			if i > 0 && points[i].Collection == points[i-1].Collection {
				continue
			}
			if err := checkCollection(ctx, "write", points[i].Collection); err != nil {
				s.metrics.authDenials.Add(1)
				fail(http.StatusForbidden, err.Error()+"; nothing written")
				return
			}
		}
	}
	if len(points) == 0 {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if s.maxLines > 0 && len(points) > s.maxLines {
		s.metrics.limits.hit(limitMaxLines)
		fail(http.StatusRequestEntityTooLarge, fmt.Sprintf("write of %d points is over the limit of %d points per request (%s); nothing written", len(points), s.maxLines, limitMaxLines))
		return
	}
	points, lines, refused, grant := s.admitSeries(points, lines)
	if len(refused) > 0 && len(points) == 0 {
		s.refuseSeries(w, refused, 0, s.series.Rate(), s.series.RetryAfter())
		return
	}

	err = s.store.Write(ctx, points)
	if err != nil {
		s.giveBack(grant)
		var ce *storage.ConflictError
		if errors.As(err, &ce) {
			// Only a write racing another one that changed the schema
			// gets here: writeChecks found the other clashes.
			bad = make([]badLine, 0, len(ce.Conflicts))
			var starts []int
			for _, c := range ce.Conflicts {
				line, col := 0, 0
				if c.Point >= 0 && c.Point < len(lines) {
					line = lines[c.Point]
				}
				if !jsonBody && line > 0 {
					if starts == nil {
						starts = lineStarts(body)
					}
					col = fieldColumn(body, starts, line, c.Field)
				}
				bad = append(bad, badLine{Line: line, Column: col, Reason: c.Reason()})
			}
			slices.SortStableFunc(bad, func(a, b badLine) int { return a.Line - b.Line })
			s.metrics.writeRejected(writeReasonBadLines)
			writeBadLines(w, badLinesMessage(bad), bad)
			return
		}
		var sl *storage.SeriesLimitError
		if errors.As(err, &sl) && len(refused) == 0 {
			// A cluster storage node refused the points of new series
			// over its limit and wrote the rest (points were not
			// admitted here: a router does not know the series).
			bad = s.seriesBadLines(points, lines, sl.Points, sl.Limit)
			written := len(points) - len(bad)
			s.metrics.pointsWritten.Add(uint64(written))
			s.refuseSeries(w, bad, written, sl.Limit, sl.RetryAfter)
			return
		}
		var re *storage.RetentionError
		if errors.As(err, &re) {
			bad = s.tooOld(points, lines, re)
			if !jsonBody {
				starts := lineStarts(body)
				for i := range bad {
					bad[i].Column = timeColumn(body, starts, bad[i].Line)
				}
			}
			s.metrics.writeRejected(writeReasonBadLines)
			writeBadLines(w, badLinesMessage(bad), bad)
			return
		}
		code, msg := storeErrorStatus(err)
		if code == http.StatusInternalServerError {
			s.log.ErrorContext(ctx, "write", "points", len(points), "err", err)
		} else {
			s.log.WarnContext(ctx, "write", "points", len(points), "err", err)
		}
		if code == http.StatusServiceUnavailable || code == http.StatusInsufficientStorage {
			w.Header().Set("Retry-After", storageRetryAfter)
		}
		fail(code, "write: "+msg)
		return
	}
	s.metrics.pointsWritten.Add(uint64(len(points)))
	if len(refused) > 0 {
		s.refuseSeries(w, refused, len(points), s.series.Rate(), s.series.RetryAfter())
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// arenas keeps a few lineproto.Arenas, so that the tags and fields of a
// write's points are cut from the arrays of an earlier write's (a batch of
// 10,000 lines has 100,000 tags and 100,000 fields: megabytes).
var arenas = freelist.New[*lineproto.Arena](maxPooledBodies)

// arena returns an arena for a write's points, or nil when the store may
// keep the points' arrays after Write returns. A storage.DB copies what it
// keeps (a new series' tags too); a cluster client's requests may outlive
// a Write that gave up on them, so it gets fresh arrays.
func (s *server) arena() *lineproto.Arena {
	if _, ok := s.store.(*storage.DB); !ok {
		return nil
	}
	if a, ok := arenas.Get(); ok {
		return a
	}
	return new(lineproto.Arena)
}

// putArena keeps a, once nothing uses the points parsed with it.
func putArena(a *lineproto.Arena) {
	a.Reuse()
	arenas.Put(a)
}

// storeErrorStatus maps an error from a Store method (Write, Flush, Delete,
// Compact, Read) to a status code and message.
func storeErrorStatus(err error) (int, string) {
	switch {
	case errors.Is(err, syscall.ENOSPC) && !errors.Is(err, storage.ErrBackpressure):
		// The WAL had no room (backpressure, from flushes failing for
		// lack of space, stays 503). Not a failure of the node: it takes writes again by itself
		// once space is freed (docs/operations.md "Disk full").
		return http.StatusInsufficientStorage, "disk full: write refused, nothing of it stored; writes resume when space is freed: " + err.Error()
	case errors.Is(err, storage.ErrUnavailable), errors.Is(err, storage.ErrClosed), errors.Is(err, storage.ErrBackpressure):
		return http.StatusServiceUnavailable, err.Error()
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable, err.Error()
	}
	return http.StatusInternalServerError, err.Error()
}

// badLinesMessage returns "N bad lines; nothing written", counting distinct
// line numbers.
func badLinesMessage(bad []badLine) string {
	n := 0
	seen := make(map[int]bool, len(bad))
	for _, b := range bad {
		if !seen[b.Line] {
			seen[b.Line] = true
			n++
		}
	}
	if n == 1 {
		return "1 bad line; nothing written"
	}
	return strconv.Itoa(n) + " bad lines; nothing written"
}

// writeBadLines sends {"error": msg, "lines": [{"line","column","reason"},...]}.
func writeBadLines(w http.ResponseWriter, msg string, bad []badLine) {
	writeBadLinesCode(w, http.StatusBadRequest, msg, bad)
}

// writeBadLinesCode is writeBadLines with another status.
func writeBadLinesCode(w http.ResponseWriter, code int, msg string, bad []badLine) {
	b := append([]byte(`{"error":`), appendJSONString(nil, msg)...)
	b = append(b, `,"lines":[`...)
	for i, l := range bad {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"line":`...)
		b = strconv.AppendInt(b, int64(l.Line), 10)
		b = append(b, `,"column":`...)
		b = strconv.AppendInt(b, int64(l.Column), 10)
		b = append(b, `,"reason":`...)
		b = appendJSONString(b, l.Reason)
		b = append(b, '}')
	}
	b = append(b, "]}"...)
	writeJSON(w, code, b)
}

// isJSON reports whether a Content-Type names a JSON body.
func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	return mt == "application/json" || strings.HasSuffix(mt, "+json")
}

// readBody reads the whole request body, gunzipping it when
// Content-Encoding says gzip, and enforces the body limit before and after
// decompression. On failure it returns the status code to answer with.
func (s *server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, int, error) {
	return s.readBodyInto(w, r, nil)
}

// readBodyInto is readBody reading into spare first (see readAll).
func (s *server) readBodyInto(w http.ResponseWriter, r *http.Request, spare []byte) ([]byte, int, error) {
	b, code, err := s.readBodyLimited(w, r, spare)
	if err != nil {
		s.countBodyLimit(code)
	}
	return b, code, err
}

// readBodyLimited is readBody without counting the limits it enforces.
func (s *server) readBodyLimited(w http.ResponseWriter, r *http.Request, spare []byte) ([]byte, int, error) {
	tooLarge := fmt.Errorf("request body too large: limit is %d bytes (http.max_body_bytes)", s.limit)
	gz := false
	switch enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
	case "gzip", "x-gzip":
		gz = true
	default:
		return nil, http.StatusUnsupportedMediaType, fmt.Errorf("unsupported Content-Encoding %q: use gzip or none", enc)
	}
	if r.ContentLength > s.limit {
		return nil, http.StatusRequestEntityTooLarge, tooLarge
	}
	body := http.MaxBytesReader(w, r.Body, s.limit)
	defer body.Close()

	var rd io.Reader = body
	hint := r.ContentLength
	if gz {
		zr, err := gzip.NewReader(body)
		if err != nil {
			code, err := readErrorStatus(w, err, tooLarge, true)
			return nil, code, err
		}
		defer zr.Close()
		rd = io.LimitReader(zr, s.limit+1)
		hint = -1
	}
	// Memory follows the bytes received, not the declared length.
	data, err := readAll(rd, s.limit, hint, bodyHoldOf(r), spare)
	if err != nil {
		code, err := readErrorStatus(w, err, tooLarge, gz)
		return nil, code, err
	}
	if int64(len(data)) > s.limit {
		return nil, http.StatusRequestEntityTooLarge, tooLarge
	}
	return data, 0, nil
}

func readErrorStatus(w http.ResponseWriter, err, tooLarge error, gz bool) (int, error) {
	if code, msg, ok := guardError(w, err); ok {
		return code, errors.New(msg)
	}
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return http.StatusRequestEntityTooLarge, tooLarge
	case gz:
		return http.StatusBadRequest, fmt.Errorf("bad gzip body: %w", err)
	}
	return http.StatusBadRequest, fmt.Errorf("read body: %w", err)
}

// tooOld reports the points of a batch that storage refused with re: the
// point re names, and every later point older than its collection's raw
// retention by this server's clock. Storage stops at the first such point
// and checks them in order, so the points before it are not reported.
func (s *server) tooOld(points []model.Point, lines []int, re *storage.RetentionError) []badLine {
	line := func(i int) int {
		if i >= 0 && i < len(lines) {
			return lines[i]
		}
		return 0
	}
	reason := tooOldReason
	first := re.Reason() // a longer raw retention's kept start
	if re.Kept == 0 {
		first = reason(re.Time, re.Collection, re.Retention)
	}
	bad := []badLine{{Line: line(re.Point), Reason: first}}
	if re.Point < 0 || re.Point >= len(points) {
		return bad
	}
	now, _ := timex.FromTime(s.now())
	retention := make(map[string]time.Duration)
	for i := re.Point + 1; i < len(points); i++ {
		p := &points[i]
		r, ok := retention[p.Collection]
		if !ok {
			r = s.store.CollectionSettings(p.Collection).Retention[model.LevelRaw]
			retention[p.Collection] = r
		}
		if cut, _ := timex.Sub(now, int64(r)); r > 0 && p.Time < cut {
			bad = append(bad, badLine{Line: line(i), Reason: reason(p.Time, p.Collection, r)})
		}
	}
	slices.SortStableFunc(bad, func(a, b badLine) int { return a.Line - b.Line })
	return bad
}
