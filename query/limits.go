package query

import (
	"fmt"
	"sort"
	"strings"
)

// Limits on the size and shape of one statement. They are checked by a
// single pass over the text before it is lexed, so that an oversized or
// deeply nested statement is refused in time proportional to its length and
// never reaches the grammar. They are far above what people and dashboards
// write: a Grafana variable with 50,000 values fits.
const (
	// MaxStatementBytes is the longest statement accepted, in bytes.
	MaxStatementBytes = 2 << 20
	// MaxNesting is the deepest nesting of parentheses accepted.
	MaxNesting = 64
	// MaxTerms is the largest number of terms accepted: conditions joined
	// by AND or OR plus the items of comma-separated lists (IN values,
	// SELECT items, GROUP BY entries).
	MaxTerms = 100_000
)

// prescan checks the statement against the limits without lexing it. It
// skips strings, quoted names, regular expressions and comments the way the
// lexer does, so parentheses, commas and keywords inside them do not count.
func (p *parser) prescan() error {
	s := p.src
	if len(s) > MaxStatementBytes {
		return &Error{Pos: Pos{Line: 1, Column: 1}, Message: fmt.Sprintf(
			"statement is %d bytes, more than the limit of %d bytes (max statement size)", len(s), MaxStatementBytes)}
	}
	// operand is set after what ends an operand (a word, ')' or a quoted
	// name): a '/' there is a division, as arithToken reads it outside
	// WHERE (inside WHERE such a '/' is an error either way).
	depth, terms, operand := 0, 1, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		wasOperand := operand
		operand = false
		switch {
		case c == '(':
			if depth++; depth > MaxNesting {
				return p.errAtOffset(i, "(", "parentheses nested deeper than %d (max nesting)", MaxNesting)
			}
		case c == ')':
			depth--
			operand = true
		case c == ',':
			terms++
		case c == '/' && wasOperand:
		case c == '\'', c == '"', c == '/':
			i = skipQuoted(s, i)
			operand = c == '"'
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f':
			operand = wasOperand
		case c == '-' && i+1 < len(s) && s[i+1] == '-':
			operand = wasOperand // a comment is white space
			if j := strings.IndexByte(s[i:], '\n'); j >= 0 {
				i += j
			} else {
				i = len(s)
			}
		case isWordByte(c):
			j := i
			for j < len(s) && isWordByte(s[j]) {
				j++
			}
			if w := s[i:j]; strings.EqualFold(w, "AND") || strings.EqualFold(w, "OR") {
				terms++
			}
			i, operand = j-1, true
		}
		if terms > MaxTerms {
			return p.errAtOffset(i, "", "statement has more than %d terms (max terms: conditions joined by AND or OR and list items)", MaxTerms)
		}
	}
	return nil
}

func isWordByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
}

// skipQuoted returns the offset of the byte closing the quoted token that
// starts at s[i] (a string, quoted name or regular expression), or the last
// offset when it is not closed. In strings a doubled quote is an escaped one.
func skipQuoted(s string, i int) int {
	q := s[i]
	for j := i + 1; j < len(s); j++ {
		switch s[j] {
		case '\\':
			j++
		case q:
			if q == '\'' && j+1 < len(s) && s[j+1] == '\'' {
				j++
				continue
			}
			return j
		}
	}
	return len(s) - 1
}

// lineStarts returns the byte offsets at which the lines of the source
// start, computed once.
func (p *parser) lineStarts() []int {
	if p.lines == nil {
		p.lines = []int{0}
		for i := 0; i < len(p.src); i++ {
			if p.src[i] == '\n' {
				p.lines = append(p.lines, i+1)
			}
		}
	}
	return p.lines
}

// posAt returns the position of a byte offset, in time logarithmic in the
// number of lines.
func (p *parser) posAt(off int) Pos {
	off = max(0, min(off, len(p.src)))
	starts := p.lineStarts()
	line := sort.Search(len(starts), func(i int) bool { return starts[i] > off })
	return Pos{Offset: off, Line: line, Column: off - starts[line-1] + 1}
}

func (p *parser) errAtOffset(off int, tok, format string, args ...any) *Error {
	return &Error{Pos: p.posAt(off), Token: tok, Message: fmt.Sprintf(format, args...)}
}
