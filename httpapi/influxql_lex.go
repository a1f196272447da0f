package httpapi

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// This file reads InfluxQL text for /query: it splits a request into
// statements and rewrites the InfluxQL spellings of a SELECT that Soltix's
// language writes differently (docs/influxql.md), leaving the rest of the
// text as it is for query.Parse.

// iqlKind is the kind of an InfluxQL token.
type iqlKind byte

const (
	iqlWord   iqlKind = 'w'  // keyword, name, number or duration
	iqlIdent  iqlKind = '"'  // "quoted name"
	iqlString iqlKind = '\'' // 'string'
	iqlRegex  iqlKind = '/'  // /regex/
	iqlPunct  iqlKind = 'p'  // operator or punctuation
)

// iqlTok is one token: its kind, where it stands in the statement, and its
// text (unquoted for names and strings, without the slashes for regexes).
type iqlTok struct {
	kind       iqlKind
	start, end int
	text       string
}

// is reports whether t is the word w (case-insensitive) or the punctuation w.
func (t iqlTok) is(w string) bool {
	return (t.kind == iqlWord || t.kind == iqlPunct) && strings.EqualFold(t.text, w)
}

// name reports whether t can be a name: a word or a "quoted name".
func (t iqlTok) name() bool { return t.kind == iqlWord || t.kind == iqlIdent }

// maxInfluxTokens bounds the tokens of one statement, so that what a
// request holds is bounded by this and maxInfluxStatements whatever the
// length of its text (the body limit bounds that).
const maxInfluxTokens = 4096

// iqlOps are the operators of more than one byte.
var iqlOps = []string{"::", ">=", "<=", "!=", "<>", "=~", "!~"}

// lexInfluxQL splits q into statements of tokens at the semicolons outside
// quotes; each statement keeps its text. Empty statements are dropped.
func lexInfluxQL(q string) ([]iqlStatement, error) {
	var out []iqlStatement
	var toks []iqlTok
	flush := func(end int) error {
		if len(toks) > 0 {
			if len(out) == maxInfluxStatements {
				return fmt.Errorf("more than %d statements in one request", maxInfluxStatements)
			}
			begin := toks[0].start
			text := q[begin:end]
			for i := range toks {
				toks[i].start -= begin
				toks[i].end -= begin
			}
			out = append(out, iqlStatement{text: text, toks: toks})
		}
		toks = nil
		return nil
	}
	for i := 0; i < len(q); {
		c := q[i]
		var t iqlTok
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
			continue
		case c == '-' && i+1 < len(q) && q[i+1] == '-':
			for i < len(q) && q[i] != '\n' {
				i++
			}
			continue
		case c == ';':
			if err := flush(i); err != nil {
				return nil, err
			}
			i++
			continue
		case c == '"' || c == '\'' || c == '/' && regexAllowed(toks):
			j, text, err := scanQuoted(q, i)
			if err != nil {
				return nil, err
			}
			t = iqlTok{kind: iqlKind(c), start: i, end: j, text: text}
		case isInfluxWordByte(c) || c == '.':
			j := i
			for j < len(q) && (isInfluxWordByte(q[j]) || q[j] == '.') {
				j++
			}
			t = iqlTok{kind: iqlWord, start: i, end: j, text: q[i:j]}
		default:
			n := 1
			for _, op := range iqlOps {
				if strings.HasPrefix(q[i:], op) {
					n = len(op)
					break
				}
			}
			t = iqlTok{kind: iqlPunct, start: i, end: i + n, text: q[i : i+n]}
		}
		if len(toks) == maxInfluxTokens {
			return nil, fmt.Errorf("statement %d is too long: more than %d tokens", len(out)+1, maxInfluxTokens)
		}
		toks = append(toks, t)
		i = t.end
	}
	if err := flush(len(q)); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, errors.New(`missing required parameter "q"`)
	}
	return out, nil
}

// regexAllowed reports whether a slash after toks starts a regex: after a
// regex operator, FROM, or the = of WITH MEASUREMENT =~; elsewhere it
// divides.
func regexAllowed(toks []iqlTok) bool {
	if len(toks) == 0 {
		return false
	}
	p := toks[len(toks)-1]
	return p.is("=~") || p.is("!~") || p.is("FROM") || p.is(",") && fromList(toks)
}

// fromList reports whether the statement's last FROM is not yet followed by
// a clause keyword: FROM a, /b/ lists measurements.
func fromList(toks []iqlTok) bool {
	for i := len(toks) - 1; i >= 0; i-- {
		switch {
		case toks[i].is("FROM"):
			return true
		case toks[i].is("WHERE"), toks[i].is("GROUP"), toks[i].is("SELECT"), toks[i].is("("):
			return false
		}
	}
	return false
}

// scanQuoted reads the quoted token starting at q[i] and returns where it
// ends and its text. Inside it a backslash escapes the quote and itself; a
// regex keeps its escapes (the regex engine reads them) but for \/.
func scanQuoted(q string, i int) (int, string, error) {
	quote := q[i]
	var sb strings.Builder
	for j := i + 1; j < len(q); j++ {
		c := q[j]
		switch {
		case c == quote:
			return j + 1, sb.String(), nil
		case c == '\\' && j+1 < len(q):
			n := q[j+1]
			if quote == '/' && n != '/' {
				sb.WriteByte(c)
			}
			sb.WriteByte(n)
			j++
		default:
			sb.WriteByte(c)
		}
	}
	what := map[byte]string{'"': "name", '\'': "string", '/': "regex"}[quote]
	return 0, "", fmt.Errorf("unterminated quoted %s at byte %d", what, i+1)
}

// iqlStatement is one statement of a /query request.
type iqlStatement struct {
	text string
	toks []iqlTok
}

// keyword returns the statement's first words, upper-cased and joined by
// spaces, up to n of them: "SHOW TAG VALUES".
func (st iqlStatement) keyword(n int) string {
	var words []string
	for _, t := range st.toks {
		if len(words) == n || t.kind != iqlWord {
			break
		}
		words = append(words, strings.ToUpper(t.text))
	}
	return strings.Join(words, " ")
}

// influxUnsupported is the error of an InfluxQL feature Soltix does not
// have: it names the feature and where the supported ones are listed.
func influxUnsupported(feature string) error {
	return fmt.Errorf("%s is not supported by soltix's InfluxQL endpoint (docs/influxql.md lists what is)", feature)
}

// rewriteSelect turns an InfluxQL SELECT into the text Soltix's parser
// reads: "db"."rp"."m" in FROM becomes "m", ::tag and ::field casts go,
// and a time compared with an integer carrying a unit (Grafana's
// time >= 1700000000000ms) becomes integer nanoseconds. INTO, SLIMIT,
// SOFFSET and FROM with a regex or several measurements are refused by
// name.
func rewriteSelect(st iqlStatement) (string, error) {
	var b strings.Builder
	toks := st.toks
	last := 0
	emit := func(from, to int, with string) {
		b.WriteString(st.text[last:from])
		b.WriteString(with)
		last = to
	}
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		switch {
		case t.is("INTO"), t.is("SLIMIT"), t.is("SOFFSET"):
			return "", influxUnsupported(strings.ToUpper(t.text))
		case t.is("::") && i+1 < len(toks) && toks[i+1].kind == iqlWord:
			emit(t.start, toks[i+1].end, "")
			i++
		case t.is("FROM"):
			j, name, err := fromTarget(toks, i+1)
			if err != nil {
				return "", err
			}
			if j > i+1 {
				emit(toks[i+1].start, toks[j-1].end, quoteName(name))
				i = j - 1
			}
		case t.kind == iqlWord && i >= 2 && isCompare(toks[i-1]) && toks[i-2].is("time"):
			if ns, ok, err := unitEpoch(t.text); err != nil {
				return "", err
			} else if ok {
				emit(t.start, t.end, strconv.FormatInt(ns, 10))
			}
		}
	}
	b.WriteString(st.text[last:])
	return b.String(), nil
}

// fromTarget reads the measurement of FROM starting at toks[i]: a name
// optionally qualified by database and retention policy ("db"."rp"."m",
// "rp"."m", db..m). It returns the index after it and the bare name; a
// subquery (a parenthesis) is left alone (j == i).
func fromTarget(toks []iqlTok, i int) (int, string, error) {
	if i >= len(toks) {
		return i, "", nil
	}
	if toks[i].kind == iqlRegex {
		return 0, "", influxUnsupported("FROM with a regular expression")
	}
	if !toks[i].name() {
		return i, "", nil
	}
	var parts []string
	j := i
	for j < len(toks) {
		t := toks[j]
		switch {
		case t.kind == iqlIdent:
			parts = append(parts, t.text)
		case t.kind == iqlWord && !isClauseWord(t):
			// Unquoted words keep their dots: db.rp.m.
			parts = append(parts, strings.Split(t.text, ".")...)
		default:
			goto done
		}
		j++
		// The name goes on only through a dot: "rp"."m".
		dot := t.kind == iqlWord && strings.HasSuffix(t.text, ".") ||
			j < len(toks) && toks[j].kind == iqlWord && strings.HasPrefix(toks[j].text, ".")
		if !dot {
			break
		}
	}
done:
	name := ""
	for k := len(parts) - 1; k >= 0; k-- {
		if parts[k] != "" {
			name = parts[k]
			break
		}
	}
	if name == "" {
		return i, "", nil
	}
	if j < len(toks) && toks[j].is(",") {
		return 0, "", influxUnsupported("FROM with more than one measurement")
	}
	return j, name, nil
}

// isClauseWord reports whether t is a word that starts the clause after FROM.
func isClauseWord(t iqlTok) bool {
	for _, w := range []string{"WHERE", "GROUP", "ORDER", "LIMIT", "OFFSET", "FILL", "TZ", "SLIMIT", "SOFFSET"} {
		if t.is(w) {
			return true
		}
	}
	return false
}

// isCompare reports whether t is a comparison operator.
func isCompare(t iqlTok) bool {
	if t.kind != iqlPunct {
		return false
	}
	switch t.text {
	case "=", "!=", "<>", "<", "<=", ">", ">=":
		return true
	}
	return false
}

// influxUnits are InfluxQL's duration units in nanoseconds.
var influxUnits = map[string]int64{
	"ns": 1, "u": 1e3, "µ": 1e3, "us": 1e3, "µs": 1e3, "ms": 1e6,
	"s": 1e9, "m": 60e9, "h": 3600e9, "d": 86400e9, "w": 7 * 86400e9,
}

// unitEpoch reads an integer with a duration unit (1700000000000ms) as
// nanoseconds since the epoch; ok is false for any other word.
func unitEpoch(w string) (ns int64, ok bool, err error) {
	i := 0
	for i < len(w) && w[i] >= '0' && w[i] <= '9' {
		i++
	}
	if i == 0 || i == len(w) {
		return 0, false, nil
	}
	unit, ok := influxUnits[w[i:]]
	if !ok {
		return 0, false, nil
	}
	n, err := strconv.ParseInt(w[:i], 10, 64)
	if err != nil || n > math.MaxInt64/unit {
		return 0, false, fmt.Errorf("time %s is out of range", w)
	}
	return n * unit, true, nil
}

// quoteName writes name as a quoted name of Soltix's language.
func quoteName(name string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
	return `"` + r.Replace(name) + `"`
}
