// Package lineproto owns Soltix's reading and writing of the InfluxDB line
// protocol: it decodes a write request body into model.Points with exact,
// per-line error reports, and encodes points back into lines.
//
// # Syntax
//
// One point per line:
//
//	measurement[,tag_key=tag_value...] field_key=field_value[,field_key=field_value...] [timestamp]
//
// The rules follow InfluxData's reference decoder (github.com/influxdata/line-protocol/v2)
// and are checked against its conformance corpus, case by case:
//
//   - Lines end with "\n" or "\r\n"; the input may also end with "\r".
//     Any other "\r" outside a quoted string is an error. Blank lines,
//     lines of spaces and comment lines (optional spaces, then '#') are
//     skipped; a comment may hold any byte except control characters other
//     than tab.
//   - Only the space character separates sections; one or more spaces may
//     stand between the tags, the fields and the timestamp, and trailing
//     spaces are allowed. Tabs and other white space are not separators.
//   - The measurement may not start with '#' and may not hold control
//     characters; "\ " and "\," are escapes. Tag keys and field keys may not
//     hold control characters; "\ ", "\," and "\=" are escapes. Tag values
//     may hold any byte except an unescaped space, ',', '=', '\r' or '\n',
//     and must not be empty. A backslash before any other byte is an
//     ordinary character. Every name, key and value must be valid UTF-8.
//   - Field values: a float ("1", "-1.5", ".5", "1.", "1e-3"; no "inf",
//     "nan", hex or underscores), an integer with an 'i' suffix ("-3i"), an
//     unsigned integer with a 'u' suffix ("3u"), a boolean (t, T, true,
//     True, TRUE, f, F, false, False, FALSE) or a double-quoted string, in
//     which only "\"" and "\\" are escapes and which may span lines.
//     Out-of-range numbers are errors. A float zero is always +0: "-0"
//     and "-0.0e5" read as 0, as in the reference.
//   - A tag key repeated within one line is an error.
//   - The timestamp is a decimal integer in units of the request precision.
//     A line without one gets the default time rounded down to a multiple of
//     the precision, as the reference decoder does.
//
// Where the corpus is silent, Soltix chooses as follows:
//
//   - Spaces before the measurement are allowed, as the reference grammar
//     (line-protocol.ebnf) says; a tab there is an error.
//   - A field key repeated within one line is not an error: the last value
//     wins (whatever its type) and the field keeps the position of its first
//     occurrence.
//   - After MaxErrors bad lines, Parse stops: later lines are neither
//     decoded nor reported.
//   - A line breaking a limit of package model on the shape of a point is
//     bad: more than model.MaxTagsPerPoint tags or model.MaxFieldsPerPoint
//     distinct fields, a key over model.MaxKeyBytes, a series key over
//     model.MaxSeriesKeyBytes. It is refused as soon as the offending tag
//     or field is read, so such a line costs no more than the limit.
//
// ParseWith also applies Checks given by the caller (Soltix's write path
// checks reserved keys, field kinds against the schema and retention), and
// reports what they refuse like syntax errors, at the offending column.
//
// # Encoding
//
// AppendPoint writes the reverse: it escapes the separators of each
// element, writes a backslash inside a name, key or tag value as is, writes
// floats in the shortest form that reads back to the same bits and always
// writes the timestamp in nanoseconds. Every point that Parse returns
// encodes to a line that decodes back to an equal point; Validate reports
// whether an arbitrary point has that property.
//
// Parse and AppendPoint keep no state between calls (Parse reuses a few
// emptied parsers, for their maps and buffers) and are safe for
// concurrent use. The points Parse returns don't share memory with its
// input buffer. To save allocations, the Tags and Fields of the points of
// one Parse call are cut from shared arrays, with their capacity limited to
// their length so that appending to one copies it first.
package lineproto

import (
	"strconv"
	"strings"
)

// Precision is the number of nanoseconds in one unit of an incoming
// timestamp.
type Precision int64

// The precisions that clients name in write requests.
const (
	Nanosecond  Precision = 1
	Microsecond Precision = 1000
	Millisecond Precision = 1000000
	Second      Precision = 1000000000
	Minute      Precision = 60 * Second
	Hour        Precision = 60 * Minute
)

// acceptedPrecisions lists the spellings ParsePrecision accepts, for its
// error message.
const acceptedPrecisions = `"" (nanoseconds), "n", "ns", "1ns", "u", "us", "µ", "µs", "1us", "1µs", "ms", "1ms", "s", "1s", "m", "h"`

// ParsePrecision converts a precision as clients spell it into a Precision.
// It accepts the InfluxDB 1.x and 2.x spellings "" (meaning nanoseconds),
// "n", "ns", "u", "us", "µ", "µs", "ms", "s", "m" and "h", and the duration
// spellings "1ns", "1us", "1µs", "1ms" and "1s". Both the micro sign (U+00B5)
// and the Greek letter mu (U+03BC) are accepted for "µ".
func ParsePrecision(s string) (Precision, error) {
	switch s {
	case "", "n", "ns", "1ns":
		return Nanosecond, nil
	case "u", "us", "1us", "\u00b5", "\u00b5s", "1\u00b5s", "\u03bc", "\u03bcs", "1\u03bcs":
		return Microsecond, nil
	case "ms", "1ms":
		return Millisecond, nil
	case "s", "1s":
		return Second, nil
	case "m":
		return Minute, nil
	case "h":
		return Hour, nil
	}
	return 0, &precisionError{s: s}
}

type precisionError struct{ s string }

func (e *precisionError) Error() string {
	return "unknown precision " + strconv.Quote(e.s) + "; want one of " + acceptedPrecisions
}

// String returns the shortest spelling of p that ParsePrecision accepts, or
// the number of nanoseconds for other values.
func (p Precision) String() string {
	switch p {
	case Nanosecond:
		return "ns"
	case Microsecond:
		return "us"
	case Millisecond:
		return "ms"
	case Second:
		return "s"
	case Minute:
		return "m"
	case Hour:
		return "h"
	}
	return strconv.FormatInt(int64(p), 10) + "ns"
}

// MaxErrors is the number of bad lines after which Parse stops.
const MaxErrors = 100

// LineError describes one bad line of input. Line and Column are 1-based;
// Column counts bytes from the start of the line and points at the byte
// where the problem was found (one past the last byte when the input ended
// too early). Reason says what is wrong in plain words.
type LineError struct {
	Line   int
	Column int
	Reason string
}

// Error returns the error as "line L, column C: reason".
func (e *LineError) Error() string {
	var b strings.Builder
	b.Grow(len(e.Reason) + 24)
	b.WriteString("line ")
	b.WriteString(strconv.Itoa(e.Line))
	b.WriteString(", column ")
	b.WriteString(strconv.Itoa(e.Column))
	b.WriteString(": ")
	b.WriteString(e.Reason)
	return b.String()
}
