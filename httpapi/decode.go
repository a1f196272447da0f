package httpapi

import (
	"time"

	"github.com/soltixdb/soltix/internal/timex"
	"github.com/soltixdb/soltix/lineproto"
	"github.com/soltixdb/soltix/model"
)

// The decoding of a write body is shared with the ingestion over NATS and
// MQTT (replication/ingest), so that a body means the same there as in
// POST /api/v1/write: the same parsers, the same checks against the
// store's schemas and retention, the same reasons.

// WriteBody is a write body to decode with DecodeWrite.
type WriteBody struct {
	// Body is the body, already decompressed.
	Body []byte
	// ContentType decides the format as for POST /api/v1/write: JSON for
	// application/json (or any +json type), line protocol otherwise.
	ContentType string
	// Collection is the default collection of JSON objects (the
	// collection parameter of the HTTP route).
	Collection string
	// OnlyCollection, when set, refuses every point of another collection
	// than Collection (a line whose measurement differs, a JSON object
	// naming another collection).
	OnlyCollection bool
	// Precision is the unit of integer timestamps (0: nanoseconds).
	Precision lineproto.Precision
}

// BadLine is a refused line (or JSON element) of a write body, as listed
// in the "lines" of a 400 answer to a write.
type BadLine struct {
	Line   int    `json:"line"`
	Column int    `json:"column"`
	Reason string `json:"reason"`
}

// DecodedWrite is what DecodeWrite found in a body.
type DecodedWrite struct {
	// Points are the good points, in body order; Lines[i] is the line
	// (or JSON element) Points[i] came from.
	Points []model.Point
	Lines  []int
	// Bad are the refused lines, in body order.
	Bad []BadLine
	// Stopped says that line protocol parsing stopped after
	// lineproto.MaxErrors bad lines: later lines were neither decoded nor
	// reported.
	Stopped bool
	// Refused, when not empty, says why the whole body was refused (JSON
	// that does not parse, or that is neither an object nor an array);
	// Points is then empty and Bad holds the syntax error's position when
	// there is one.
	Refused string
}

// IsJSON reports whether a Content-Type names a JSON write body.
func IsJSON(contentType string) bool { return isJSON(contentType) }

// DecodeWrite decodes a write body exactly as POST /api/v1/write does,
// checking its points against store (field kinds, retention, names) at
// the time now, which also stamps points without a time.
func DecodeWrite(store Store, now time.Time, b WriteBody) DecodedWrite {
	nowNanos, _ := timex.FromTime(now)
	checks := newWriteChecks(store, nowNanos)
	var d DecodedWrite
	if isJSON(b.ContentType) {
		check := checks.point
		if b.OnlyCollection {
			check = func(p *model.Point) string {
				if r := otherCollection(p.Collection, b.Collection); r != "" {
					return r
				}
				return checks.point(p)
			}
		}
		points, lines, bad, syntax, err := decodeJSON(b.Body, b.Collection, int64(b.Precision), nowNanos, check)
		switch {
		case syntax != nil:
			d.Refused = "bad JSON body"
			d.Bad = []BadLine{BadLine(*syntax)}
			return d
		case err != nil:
			d.Refused = err.Error()
			return d
		}
		d.Points, d.Lines = points, lines
		for _, l := range bad {
			d.Bad = append(d.Bad, BadLine(l))
		}
		return d
	}
	lc := checks.lineproto()
	if b.OnlyCollection {
		lc.Collection = func(name string) string {
			if r := otherCollection(name, b.Collection); r != "" {
				return r
			}
			return collectionProblem(name)
		}
	}
	var errs []*lineproto.LineError
	d.Points, d.Lines, errs = lineproto.ParseWith(b.Body, b.Precision, nowNanos, lc)
	for _, e := range errs {
		d.Bad = append(d.Bad, BadLine{Line: e.Line, Column: e.Column, Reason: e.Reason})
	}
	d.Stopped = len(errs) >= lineproto.MaxErrors
	return d
}

// otherCollection refuses a point of collection got where only want is
// accepted.
func otherCollection(got, want string) string {
	if got == want {
		return ""
	}
	return "collection " + quote(got) + " is not " + quote(want) + ", the only one accepted here"
}

func quote(s string) string { return string(appendJSONString(nil, s)) }
