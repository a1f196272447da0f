package query

import (
	"io"
	"strings"
	"unicode/utf8"

	"github.com/alecthomas/participle/v2/lexer"
)

// This file holds the lexer of the grammar. It is written by hand for speed
// but defined by a list of regular expressions, tried in order, the first
// that matches winning (Go regexp syntax; \b is an ASCII word boundary,
// (?i) folds case the Unicode way, so ſ matches s):
//
//	comment     --[^\n]*                                  (skipped)
//	whitespace  \s+                                       (skipped)
//	Keyword     (?i)(?:SELECT|FROM|...)\b                 (reservedWords, in order)
//	Ident       [A-Za-z_][A-Za-z0-9_]*
//	QIdent      (?s)"(?:\\.|[^"\\])*"
//	BadQIdent   (?s)"(?:\\.|[^"\\])*
//	BadString   (?s)'(?:''|\\.|[^'\\])*\\?\z
//	String      (?s)'(?:''|\\.|[^'\\])*'
//	Regex       (?s)/(?:\\.|[^/\\])*/
//	BadRegex    (?s)/(?:\\.|[^/\\])*
//	Duration    [0-9]+(?:ns|us|µs|ms|s|m|h|d|w|M|y)\b
//	Number      (?:[0-9]+(?:\.[0-9]+)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\b
//	BadNumber   \.?[0-9][0-9A-Za-z_.µ]*
//	Op          =~|!~|!=|<>|<=|>=|[=<>]
//	Punct       [(),;*+\-]
//	BadChar     (?s).
//
// An unterminated string is tried before a string: with ” as an escaped
// quote, the String rule alone could stop at a doubled quote and leave the
// rest as a second, unterminated string. lexer_test.go keeps these rules as
// a participle regexp lexer and checks that both lexers produce the same
// tokens, positions included (columns count runes, as participle does).

// Token types, numbered as participle numbers the rules of a lexer built
// from the list above: EOF is -1, then -2, -3, ... in rule order.
const (
	typComment lexer.TokenType = lexer.EOF - 1 - iota
	typWhitespace
	typKeyword
	typIdent
	typQIdent
	typBadQIdent
	typBadString
	typString
	typRegex
	typBadRegex
	typDuration
	typNumber
	typBadNumber
	typOp
	typPunct
	typBadChar
)

// lexerDef is the lexer of the grammar. It implements
// lexer.StringDefinition, the fast path participle and Parse use.
var lexerDef = &queryLexerDef{symbols: map[string]lexer.TokenType{
	"EOF":          lexer.EOF,
	ruleComment:    typComment,
	ruleWhitespace: typWhitespace,
	tokKeyword:     typKeyword,
	tokIdent:       typIdent,
	tokQIdent:      typQIdent,
	tokBadQIdent:   typBadQIdent,
	tokBadString:   typBadString,
	tokString:      typString,
	tokRegex:       typRegex,
	tokBadRegex:    typBadRegex,
	tokDuration:    typDuration,
	tokNumber:      typNumber,
	tokBadNumber:   typBadNumber,
	tokOp:          typOp,
	tokPunct:       typPunct,
	tokBadChar:     typBadChar,
}}

type queryLexerDef struct {
	symbols map[string]lexer.TokenType
}

var (
	_ lexer.Definition       = (*queryLexerDef)(nil)
	_ lexer.StringDefinition = (*queryLexerDef)(nil)
)

// Symbols returns the token types by rule name.
func (d *queryLexerDef) Symbols() map[string]lexer.TokenType { return d.symbols }

// Lex reads all of r and lexes it.
func (d *queryLexerDef) Lex(filename string, r io.Reader) (lexer.Lexer, error) {
	var b strings.Builder
	if _, err := io.Copy(&b, r); err != nil {
		return nil, err
	}
	return d.LexString(filename, b.String())
}

// LexString lexes s; it never fails, since BadChar matches anything.
func (d *queryLexerDef) LexString(filename string, s string) (lexer.Lexer, error) {
	return newQueryLexer(filename, s), nil
}

func newQueryLexer(filename, s string) *queryLexer {
	return &queryLexer{src: s, pos: lexer.Position{Filename: filename, Line: 1, Column: 1}}
}

// queryLexer returns the tokens of src one by one, skipping comments and
// white space.
type queryLexer struct {
	src string
	pos lexer.Position // of src[pos.Offset:], the rest
}

// Next returns the next token, EOF at the end; it never fails.
func (l *queryLexer) Next() (lexer.Token, error) {
	for l.pos.Offset < len(l.src) {
		rest := l.src[l.pos.Offset:]
		typ, n := match(rest)
		pos := l.pos
		l.advance(rest[:n])
		if typ == typComment || typ == typWhitespace {
			continue
		}
		return lexer.Token{Type: typ, Value: rest[:n], Pos: pos}, nil
	}
	return lexer.EOFToken(l.pos), nil
}

// advance moves the position past span the way participle does: lines
// count '\n', columns count runes (an invalid byte is one rune) and restart
// at 1 after a newline.
func (l *queryLexer) advance(span string) {
	l.pos.Offset += len(span)
	nl := strings.LastIndexByte(span, '\n')
	if nl < 0 {
		l.pos.Column += runeCount(span)
		return
	}
	l.pos.Line += strings.Count(span, "\n")
	l.pos.Column = runeCount(span[nl:])
}

func runeCount(s string) int {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return i + utf8.RuneCountInString(s[i:])
		}
	}
	return len(s)
}

// peekingLexer returns the tokens scan found as participle's input.
func (p *parser) peekingLexer() (*lexer.PeekingLexer, error) {
	return lexer.Upgrade(&tokenReplay{tokens: p.tokens, eof: p.eof})
}

// tokenReplay is a lexer.Lexer returning tokens already lexed.
type tokenReplay struct {
	tokens []lexer.Token
	eof    lexer.Token
}

// Next returns the next token, then EOF for ever.
func (r *tokenReplay) Next() (lexer.Token, error) {
	if len(r.tokens) == 0 {
		return r.eof, nil
	}
	t := r.tokens[0]
	r.tokens = r.tokens[1:]
	return t, nil
}

// match returns the rule matching at the start of s, which is not empty,
// and the length of the match.
func match(s string) (lexer.TokenType, int) {
	c := s[0]
	switch {
	case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f':
		n := 1
		for n < len(s) && isSpace(s[n]) {
			n++
		}
		return typWhitespace, n
	case isLetter(c) || c == '_':
		if n := keyword(s); n > 0 {
			return typKeyword, n
		}
		n := 1
		for n < len(s) && isWord(s[n]) {
			n++
		}
		return typIdent, n
	case isDigit(c):
		if n := duration(s); n > 0 {
			return typDuration, n
		}
		if n := number(s); n > 0 {
			return typNumber, n
		}
		return typBadNumber, badNumber(s)
	}
	switch c {
	case '-':
		if len(s) > 1 && s[1] == '-' {
			if n := strings.IndexByte(s, '\n'); n >= 0 {
				return typComment, n
			}
			return typComment, len(s)
		}
		return typPunct, 1
	case '"':
		if n, ok := quoted(s, '"'); ok {
			return typQIdent, n
		} else {
			return typBadQIdent, n
		}
	case '\'':
		if n, ok := stringLit(s); ok {
			return typString, n
		}
		return typBadString, len(s)
	case '/':
		if n, ok := quoted(s, '/'); ok {
			return typRegex, n
		} else {
			return typBadRegex, n
		}
	case '.':
		if len(s) > 1 && isDigit(s[1]) {
			if n := number(s); n > 0 {
				return typNumber, n
			}
			return typBadNumber, badNumber(s)
		}
		return typBadChar, 1
	case '=':
		if len(s) > 1 && s[1] == '~' {
			return typOp, 2
		}
		return typOp, 1
	case '!':
		if len(s) > 1 && (s[1] == '~' || s[1] == '=') {
			return typOp, 2
		}
		return typBadChar, 1
	case '<':
		if len(s) > 1 && (s[1] == '>' || s[1] == '=') {
			return typOp, 2
		}
		return typOp, 1
	case '>':
		if len(s) > 1 && s[1] == '=' {
			return typOp, 2
		}
		return typOp, 1
	case '(', ')', ',', ';', '*', '+':
		return typPunct, 1
	case longS[0]:
		if n := keyword(s); n > 0 {
			return typKeyword, n
		}
	}
	_, n := utf8.DecodeRuneInString(s)
	return typBadChar, n
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'
}

func isLetter(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// isWord reports whether c is a word character of \b.
func isWord(c byte) bool { return isLetter(c) || isDigit(c) || c == '_' }

// boundary reports whether \b holds at offset i > 0 of s.
func boundary(s string, i int) bool {
	return isWord(s[i-1]) != (i < len(s) && isWord(s[i]))
}

// longS is ſ, which (?i) folds to s.
const longS = "\u017f"

// keyword returns the length of the reserved word that starts s, in any
// case, or 0. Words are tried in order, as the alternatives of the regexp.
func keyword(s string) int {
	for _, w := range reservedWords {
		if n := foldPrefix(s, w); n > 0 && boundary(s, n) {
			return n
		}
	}
	return 0
}

// foldPrefix returns the length of the prefix of s equal to the upper-case
// ASCII word w under Unicode simple folding, or 0.
func foldPrefix(s, w string) int {
	i := 0
	for j := 0; j < len(w); j++ {
		switch {
		case i < len(s) && s[i]|0x20 == w[j]|0x20:
			i++
		case w[j] == 'S' && strings.HasPrefix(s[i:], longS):
			i += len(longS)
		default:
			return 0
		}
	}
	return i
}

// quoted matches a quoted name or regular expression, q being its quote:
// it returns the length of the token and whether it is closed. Escaped
// characters are skipped byte by byte, which is what skipping the rune
// does: the bytes that follow the first of a rune are never q or '\'.
func quoted(s string, q byte) (int, bool) {
	i := 1
	for i < len(s) {
		switch s[i] {
		case '\\':
			if i+1 == len(s) {
				return i, false // a lone backslash at the end is left out
			}
			i += 2
		case q:
			return i + 1, true
		default:
			i++
		}
	}
	return i, false
}

// stringLit matches a string that starts s: it returns its length and
// true, or false when it is not closed (BadString, which takes the rest).
func stringLit(s string) (int, bool) {
	i := 1
	for i < len(s) {
		switch s[i] {
		case '\\':
			if i+1 == len(s) {
				return 0, false
			}
			i += 2
		case '\'':
			if i+1 < len(s) && s[i+1] == '\'' {
				i += 2
				continue
			}
			return i + 1, true
		default:
			i++
		}
	}
	return 0, false
}

func digits(s string, i int) int {
	n := 0
	for i+n < len(s) && isDigit(s[i+n]) {
		n++
	}
	return n
}

var units = [...]string{"ns", "us", "µs", "ms", "s", "m", "h", "d", "w", "M", "y"}

// duration returns the length of the duration that starts s, or 0. Giving
// back digits never helps, as no unit starts with a digit.
func duration(s string) int {
	n := digits(s, 0)
	for _, u := range units {
		if strings.HasPrefix(s[n:], u) && boundary(s, n+len(u)) {
			return n + len(u)
		}
	}
	return 0
}

// number returns the length of the number that starts s, or 0, trying the
// ways of matching in the order a backtracking regexp engine would.
func number(s string) int {
	if n := digits(s, 0); n > 0 {
		for i := n; i > 0; i-- {
			if i < len(s) && s[i] == '.' {
				for f := digits(s, i+1); f > 0; f-- {
					if m := exponent(s, i+1+f); m > 0 {
						return m
					}
				}
			}
			if m := exponent(s, i); m > 0 {
				return m
			}
		}
		return 0
	}
	for f := digits(s, 1); f > 0; f-- {
		if m := exponent(s, 1+f); m > 0 {
			return m
		}
	}
	return 0
}

// exponent returns where a number whose mantissa ends at i ends, with its
// optional exponent and the final \b, or 0.
func exponent(s string, i int) int {
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		j := i + 1
		if j < len(s) && (s[j] == '+' || s[j] == '-') {
			for e := digits(s, j+1); e > 0; e-- {
				if boundary(s, j+1+e) {
					return j + 1 + e
				}
			}
		}
		for e := digits(s, j); e > 0; e-- {
			if boundary(s, j+e) {
				return j + e
			}
		}
	}
	if boundary(s, i) {
		return i
	}
	return 0
}

// badNumber returns the length of the malformed number that starts s.
func badNumber(s string) int {
	i := 0
	if s[0] == '.' {
		i = 1
	}
	i++ // the digit
	for i < len(s) {
		switch c := s[i]; {
		case isWord(c) || c == '.':
			i++
		case strings.HasPrefix(s[i:], "µ"):
			i += len("µ")
		default:
			return i
		}
	}
	return i
}
