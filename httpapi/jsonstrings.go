package httpapi

import (
	"bytes"
	"fmt"
	"unicode/utf16"

	"github.com/valyala/fastjson"
)

// parseJSON parses a JSON request body with p and checks every string in
// it (keys too) with checkJSONStrings. fastjson decodes escapes "best
// effort": an escape it cannot decode, such as a lone UTF-16 surrogate
// "\ud800", an unknown "\x" or a short "\u12", is kept as its literal text,
// and a high surrogate followed by a non-surrogate escape becomes U+FFFD.
// Soltix refuses such strings instead of storing something the client did
// not send. The error, when not nil, points into the body text.
func parseJSON(p *fastjson.Parser, body []byte) (*fastjson.Value, *badLine) {
	v, err := p.ParseBytes(body)
	if err != nil {
		return nil, jsonSyntaxError(body, err)
	}
	if bad := checkJSONStrings(body); bad != nil {
		return nil, bad
	}
	return v, nil
}

// checkJSONStrings scans the strings of a body that parsed as JSON and
// reports the first one that is not valid JSON text for a Unicode string:
// an unknown or short escape, a UTF-16 surrogate escape that is not half
// of a pair (RFC 8259 section 8.2 leaves those to the receiver), or a
// control character not escaped. Raw bytes that are not UTF-8 are left to
// the per-point check, which names the object.
func checkJSONStrings(body []byte) *badLine {
	in := false
	for i := 0; i < len(body); i++ {
		c := body[i]
		if !in {
			in = c == '"'
			continue
		}
		switch {
		case c == '"':
			in = false
		case c < 0x20:
			return jsonStringError(body, i, fmt.Sprintf("control character %#02x in a string must be escaped", c))
		case c == '\\':
			if i+1 >= len(body) {
				return jsonStringError(body, i, `string ends in "\"`)
			}
			switch body[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i++
			case 'u':
				r, ok := hex4(body, i+2)
				if !ok {
					return jsonStringError(body, i, fmt.Sprintf("bad escape %q: want \\u and 4 hex digits", escapeText(body, i, 6)))
				}
				switch {
				case r >= 0xdc00 && r <= 0xdfff:
					return jsonStringError(body, i, fmt.Sprintf("lone UTF-16 low surrogate %s is not a character", escapeText(body, i, 6)))
				case r >= 0xd800 && r <= 0xdbff:
					lo, ok := rune(0), i+7 < len(body) && body[i+6] == '\\' && body[i+7] == 'u'
					if ok {
						lo, ok = hex4(body, i+8)
					}
					if !ok || utf16.DecodeRune(r, lo) == '\uFFFD' {
						return jsonStringError(body, i, fmt.Sprintf("lone UTF-16 high surrogate %s is not a character: want it followed by a low surrogate \\udc00-\\udfff", escapeText(body, i, 6)))
					}
					i += 6
				}
				i += 5
			default:
				return jsonStringError(body, i, fmt.Sprintf("unknown escape %q", escapeText(body, i, 2)))
			}
		}
	}
	return nil
}

// hex4 decodes the 4 hex digits at body[i:].
func hex4(body []byte, i int) (rune, bool) {
	if i+4 > len(body) {
		return 0, false
	}
	var r rune
	for _, c := range body[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// escapeText returns up to n bytes of body from i, for error messages.
func escapeText(body []byte, i, n int) string {
	return string(body[i:min(len(body), i+n)])
}

// jsonStringError reports a bad string at byte off of body with its
// 1-based line and column.
func jsonStringError(body []byte, off int, reason string) *badLine {
	line := 1 + bytes.Count(body[:off], []byte{'\n'})
	col := off - bytes.LastIndexByte(body[:off], '\n')
	return &badLine{Line: line, Column: col, Reason: reason}
}
