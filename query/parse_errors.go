package query

import (
	"errors"
	"strconv"
	"strings"

	"github.com/alecthomas/participle/v2"
	"github.com/alecthomas/participle/v2/lexer"
)

// The parser's error messages: participle's errors and bad tokens turned
// into *Error with the offending token and what was expected.

// isBad reports whether t is one of the malformed tokens.
func isBad(t lexer.Token) bool {
	switch t.Type {
	case typBadQIdent, typBadString, typBadRegex, typBadNumber, typBadChar:
		return true
	}
	return false
}

// describe names a token for an error message.
func describe(t lexer.Token) string {
	if t.EOF() {
		return "end of input"
	}
	return strconv.Quote(t.Value)
}

// expected extracts what participle expected, in our words, or "".
func expected(e *participle.UnexpectedTokenError) string {
	msg := e.Message()
	i := strings.Index(msg, " (expected ")
	if i < 0 {
		return ""
	}
	return firstExpected(strings.TrimSuffix(msg[i+len(" (expected "):], ")"))
}

// firstExpected reduces participle's EBNF of the rest of a sequence to its
// first element and names it in plain words; for an alternation it names the
// first element of each alternative.
func firstExpected(ebnf string) string {
	parts := expectedParts(ebnf)
	switch len(parts) {
	case 0:
		return ""
	case 1:
		return parts[0]
	}
	return strings.Join(parts[:len(parts)-1], ", ") + " or " + parts[len(parts)-1]
}

func expectedParts(ebnf string) []string {
	elems := splitTop(strings.TrimSpace(ebnf), ' ')
	if len(elems) == 0 {
		return nil
	}
	first := elems[0]
	if strings.HasPrefix(first, "(") && strings.HasSuffix(first, ")") {
		var parts []string
		for _, alt := range splitTop(first[1:len(first)-1], '|') {
			parts = append(parts, expectedParts(alt)...)
		}
		return parts
	}
	if name, ok := expectedNames[first]; ok {
		return []string{name}
	}
	return []string{first}
}

// splitTop splits s at sep where it is outside parentheses and quotes,
// dropping empty parts.
func splitTop(s string, sep byte) []string {
	var parts []string
	depth, start, quoted := 0, 0, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case quoted && c == '\\':
			i++
		case c == '"':
			quoted = !quoted
		case quoted:
		case c == '(':
			depth++
		case c == ')':
			depth--
		case c == sep && depth == 0:
			if part := strings.TrimSpace(s[start:i]); part != "" {
				parts = append(parts, part)
			}
			start = i + 1
		}
	}
	if part := strings.TrimSpace(s[start:]); part != "" {
		parts = append(parts, part)
	}
	return parts
}

// expectedNames names the grammar's token types and structs in messages.
var expectedNames = map[string]string{
	"<ident>":    "a name",
	"<qident>":   `a "quoted name"`,
	"<number>":   "a number",
	"<duration>": "a duration such as 1h",
	"<string>":   "a string",
	"<regex>":    "a regular expression",
	"<op>":       "a comparison operator",
	"GSelect":    `"SELECT"`,
	"GShow":      `"SHOW"`,
	"GDelete":    `"DELETE"`,
	"GItem":      "a field, * or function call",
	"GCall":      "a field name",
	"GIdent":     "a name",
	"GOr":        "a condition",
	"GAnd":       "a condition",
	"GTerm":      "a condition",
	"GCond":      "a condition",
	"GBetween":   `"BETWEEN"`,
	"GIn":        `"IN"`,
	"GCmp":       "a comparison operator",
	"GValue":     "a value",
	"GNumber":    "a number",
	"GSigned":    "a number",
	"GOffset":    `"+" or "-"`,
	"GDur":       "a duration such as 1h",
	"GGroup":     "an interval or tag",
	"GFill":      "none, null, previous, linear or a number",
	"GOrder":     "time",
	"GShowKey":   "a tag key",
	"GArith":     "a number, name or (",
	"GFactor":    "a number, name or (",
	"GOpTerm":    "an operator",
	"GHaving":    "a condition",
	"GHavingAnd": "a condition",
	"GHavingCmp": "a condition",
}

// convertError turns a participle or lexer error into *Error.
func (p *parser) convertError(err error) error {
	var ute *participle.UnexpectedTokenError
	if errors.As(err, &ute) {
		t := ute.Unexpected
		if isBad(t) {
			return p.badToken(t)
		}
		msg := "unexpected " + describe(t)
		if exp := expected(ute); exp != "" {
			msg += ", expected " + exp
		}
		tok := t.Value
		if t.EOF() {
			tok = ""
		}
		return p.errAt(t.Pos, tok, "%s", msg)
	}
	var perr participle.Error
	if errors.As(err, &perr) {
		return p.errAt(perr.Position(), "", "%s", perr.Message())
	}
	return &Error{Pos: Pos{Line: 1, Column: 1}, Message: err.Error()}
}

// badToken explains a malformed token.
func (p *parser) badToken(t lexer.Token) *Error {
	switch t.Type {
	case typBadString:
		return p.errAt(t.Pos, t.Value, "unterminated string")
	case typBadQIdent:
		return p.errAt(t.Pos, t.Value, "unterminated quoted identifier")
	case typBadRegex:
		return p.errAt(t.Pos, t.Value, "unterminated regular expression")
	case typBadNumber:
		return p.errAt(t.Pos, t.Value, "bad number or duration %q", t.Value)
	}
	return p.errAt(t.Pos, t.Value, "unexpected character %q", t.Value)
}
