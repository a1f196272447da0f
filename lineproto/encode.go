package lineproto

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/soltixdb/soltix/model"
)

// AppendPoint appends p encoded as one line of line protocol, with a
// trailing '\n' and the timestamp in nanoseconds, to dst and returns the
// extended buffer. It escapes spaces and commas in the measurement, and
// spaces, commas and equals signs in keys and tag values; it writes tags
// in the order of p.Tags and fields in the order of p.Fields.
//
// AppendPoint doesn't check p: a point that Validate rejects (for example
// one with no fields, a NaN value or a key ending in a backslash) gives a
// line that Parse rejects or decodes differently.
func AppendPoint(dst []byte, p *model.Point) []byte {
	dst = appendEscaped(dst, p.Collection, escMeasurement)
	for _, t := range p.Tags {
		dst = append(dst, ',')
		dst = appendEscaped(dst, t.Key, escKey)
		dst = append(dst, '=')
		dst = appendEscaped(dst, t.Value, escKey)
	}
	for i, f := range p.Fields {
		if i == 0 {
			dst = append(dst, ' ')
		} else {
			dst = append(dst, ',')
		}
		dst = appendEscaped(dst, f.Key, escKey)
		dst = append(dst, '=')
		dst = appendValue(dst, f.Value)
	}
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, p.Time, 10)
	return append(dst, '\n')
}

// appendEscaped appends s with a backslash before every byte in class esc.
func appendEscaped(dst []byte, s string, esc uint8) []byte {
	start := 0
	for i := 0; i < len(s); i++ {
		if class[s[i]]&esc != 0 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', s[i])
			start = i + 1
		}
	}
	return append(dst, s[start:]...)
}

// appendValue appends a field value.
func appendValue(dst []byte, v model.Value) []byte {
	switch v.Kind {
	case model.KindFloat:
		return strconv.AppendFloat(dst, v.Float(), 'g', -1, 64)
	case model.KindInt:
		return append(strconv.AppendInt(dst, v.Int(), 10), 'i')
	case model.KindUint:
		return append(strconv.AppendUint(dst, v.Uint(), 10), 'u')
	case model.KindBool:
		return strconv.AppendBool(dst, v.Bool())
	case model.KindString:
		s := v.Str()
		dst = append(dst, '"')
		start := 0
		for i := 0; i < len(s); i++ {
			if c := s[i]; c == '"' || c == '\\' {
				dst = append(dst, s[start:i]...)
				dst = append(dst, '\\', c)
				start = i + 1
			}
		}
		dst = append(dst, s[start:]...)
		return append(dst, '"')
	}
	// A null value has no line-protocol form; write something Parse
	// rejects rather than a wrong value.
	return append(dst, "null"...)
}

// Validate reports whether AppendPoint encodes p as a line that Parse
// decodes back to an equal point (given Nanosecond precision), and if not,
// why. The one difference it allows is a float -0, which reads back as +0.
// Every point Parse returns is valid.
func Validate(p *model.Point) error {
	if err := checkName(p.Collection, "measurement name", cMeasurement|escMeasurement); err != nil {
		return err
	}
	if p.Collection[0] == '#' {
		return errors.New("measurement name starts with '#'")
	}
	for i, t := range p.Tags {
		if err := checkName(t.Key, "tag key", cKey|escKey); err != nil {
			return err
		}
		if err := checkName(t.Value, "tag value", cTagValue|escKey); err != nil {
			return err
		}
		if i > 0 && p.Tags[i-1].Key >= t.Key {
			return errors.New("tags are not sorted by key with unique keys")
		}
	}
	if len(p.Fields) == 0 {
		return errors.New("point has no fields")
	}
	seen := make(map[string]struct{}, len(p.Fields))
	for _, f := range p.Fields {
		if err := checkName(f.Key, "field key", cKey|escKey); err != nil {
			return err
		}
		if _, dup := seen[f.Key]; dup {
			return errors.New("field key " + strconv.Quote(f.Key) + " appears more than once")
		}
		seen[f.Key] = struct{}{}
		switch f.Value.Kind {
		case model.KindFloat:
			if x := f.Value.Float(); math.IsNaN(x) || math.IsInf(x, 0) {
				return errors.New("field " + strconv.Quote(f.Key) + " holds " + f.Value.String() + ", which line protocol can't express")
			}
		case model.KindString:
			if !utf8.ValidString(f.Value.Str()) {
				return errors.New("invalid UTF-8 in string value of field " + strconv.Quote(f.Key))
			}
		case model.KindInt, model.KindUint, model.KindBool:
		default:
			return errors.New("field " + strconv.Quote(f.Key) + " has no value")
		}
	}
	return nil
}

// checkName checks a name, key or tag value whose bytes must be in class
// allowed (after escaping).
func checkName(s, what string, allowed uint8) error {
	if s == "" {
		return errors.New("empty " + what)
	}
	if !utf8.ValidString(s) {
		return errors.New("invalid UTF-8 in " + what + " " + strconv.Quote(s))
	}
	for i := 0; i < len(s); i++ {
		if class[s[i]]&allowed == 0 {
			return errors.New(what + " " + strconv.Quote(s) + " holds " + quoteByte(s[i]))
		}
	}
	if strings.HasSuffix(s, `\`) {
		return errors.New(what + " " + strconv.Quote(s) + " ends with a backslash")
	}
	return nil
}
