package lineproto

import (
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"
)

// Number, UTF-8 and quoting helpers of the parser.

// parseInt parses an optionally negative decimal integer. ok is false for
// bad syntax, inRange for a value outside int64.
func parseInt(b []byte) (n int64, ok, inRange bool) {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	u, ok, inRange := parseUint(b)
	if !ok || !inRange {
		return 0, ok, inRange
	}
	if neg {
		if u > 1<<63 {
			return 0, true, false
		}
		return int64(-u), true, true
	}
	if u > math.MaxInt64 {
		return 0, true, false
	}
	return int64(u), true, true
}

// parseUint parses a decimal integer without sign. ok is false for bad
// syntax, inRange for a value outside uint64.
func parseUint(b []byte) (n uint64, ok, inRange bool) {
	if len(b) == 0 {
		return 0, false, false
	}
	inRange = true
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false, false
		}
		d := uint64(c - '0')
		if n > (math.MaxUint64-d)/10 {
			inRange = false
		}
		n = n*10 + d
	}
	if !inRange {
		return 0, true, false
	}
	return n, true, true
}

// validFloat reports whether b is a decimal float: an optional '-', digits
// with at most one '.' (at least one digit in all), and an optional
// exponent.
func validFloat(b []byte) bool {
	i := 0
	if i < len(b) && b[i] == '-' {
		i++
	}
	digits := 0
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
		digits++
	}
	if i < len(b) && b[i] == '.' {
		i++
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
			digits++
		}
	}
	if digits == 0 {
		return false
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		exp := 0
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
			exp++
		}
		if exp == 0 {
			return false
		}
	}
	return i == len(b)
}

// invalidUTF8 returns the offset of the first byte of b that isn't part of
// a valid UTF-8 sequence, or -1.
func invalidUTF8(b []byte) int {
	if utf8.Valid(b) {
		return -1
	}
	for i := 0; i < len(b); {
		if b[i] < utf8.RuneSelf {
			i++
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 {
			return i
		}
		i += size
	}
	return -1
}

// quoteByte quotes one byte for an error reason.
func quoteByte(c byte) string {
	if c < utf8.RuneSelf {
		return strconv.QuoteRune(rune(c))
	}
	return fmt.Sprintf(`'\x%02x'`, c)
}

// quoteToken quotes a token for an error reason, shortening a long one.
func quoteToken(b []byte) string {
	if len(b) > quoteMax {
		return strconv.Quote(string(b[:quoteMax])) + "..."
	}
	return strconv.Quote(string(b))
}
