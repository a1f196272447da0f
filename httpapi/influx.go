package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// InfluxCompatVersion is the InfluxDB version Soltix answers as in the
// X-Influxdb-Version header of GET /ping and /query: the 1.x API whose
// write endpoint and database statements it serves.
const InfluxCompatVersion = "1.8.10"

// InfluxDatabase is the one database SHOW DATABASES lists. Soltix has one
// namespace: every database name a client gives (db=, CREATE DATABASE)
// refers to it.
const InfluxDatabase = "soltix"

// maxInfluxStatements bounds the statements of one /query request; the
// database statements are tiny, so anything longer is not a client's start-up.
const maxInfluxStatements = 100

// influxHeaders sets the headers InfluxDB 1.x sends with every answer.
func (s *server) influxHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("X-Influxdb-Build", "OSS")
	h.Set("X-Influxdb-Version", InfluxCompatVersion)
	if s.opts.Version != "" {
		h.Set("X-Soltix-Version", s.opts.Version)
	}
}

// ping serves GET and HEAD /ping as InfluxDB 1.x does: 204 with the
// version headers, or 200 and {"version": ...} with verbose=true.
func (s *server) ping(w http.ResponseWriter, r *http.Request) {
	s.influxHeaders(w)
	if v, _ := strconv.ParseBool(r.URL.Query().Get("verbose")); v && r.Method == http.MethodGet {
		b := append([]byte(`{"version":`), appendJSONString(nil, InfluxCompatVersion)...)
		writeJSON(w, http.StatusOK, append(b, "}\n"...))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// influxStmtKind is a database statement /query understands.
type influxStmtKind int

const (
	influxShowDatabases influxStmtKind = iota
	influxCreateDatabase
	influxDropDatabase
)

// influxStmt is one parsed statement of a /query request.
type influxStmt struct {
	kind influxStmtKind
	name string // database name of CREATE and DROP
}

// influxQuery serves GET and POST /query, InfluxDB 1.x's query endpoint,
// for the statements clients send on start: SHOW DATABASES (lists
// InfluxDatabase), CREATE DATABASE (accepted; nothing to create, since
// every name is the one namespace) and DROP DATABASE (refused: it would
// name every collection). Anything else answers 400 pointing at
// /api/v1/query. Every statement is checked before any is answered.
func (s *server) influxQuery(w http.ResponseWriter, r *http.Request) {
	s.influxHeaders(w)
	if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(w, r.Body, s.limit)
	}
	if err := r.ParseForm(); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body too large: limit is %d bytes", s.limit))
			return
		}
		writeError(w, http.StatusBadRequest, "bad form: "+err.Error())
		return
	}
	q := r.Form.Get("q")
	if strings.TrimSpace(q) == "" {
		writeError(w, http.StatusBadRequest, `missing required parameter "q"`)
		return
	}
	stmts, err := parseInfluxStatements(q)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	for _, st := range stmts {
		if st.kind == influxDropDatabase {
			writeError(w, http.StatusBadRequest, fmt.Sprintf(
				"drop database %q refused: soltix has one namespace, which every database name refers to; "+
					"delete data with DELETE FROM <collection> on /api/v1/query", st.name))
			return
		}
	}
	b := []byte(`{"results":[`)
	for i, st := range stmts {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"statement_id":`...)
		b = strconv.AppendInt(b, int64(i), 10)
		if st.kind == influxShowDatabases {
			b = append(b, `,"series":[{"name":"databases","columns":["name"],"values":[[`...)
			b = appendJSONString(b, InfluxDatabase)
			b = append(b, "]]}]"...)
		}
		b = append(b, '}')
	}
	b = append(b, "]}\n"...)
	writeJSON(w, http.StatusOK, b)
}

// errInfluxUnsupported is the answer to any statement but the database
// ones.
const errInfluxUnsupported = "/query answers only SHOW DATABASES, CREATE DATABASE and DROP DATABASE; " +
	"the InfluxQL endpoint is not there yet (issue 16): send queries to /api/v1/query (docs/query.md)"

// maxInfluxStatementTokens bounds the tokens of one statement: the longest
// database statement (CREATE DATABASE with every WITH clause) has 14.
const maxInfluxStatementTokens = 32

// parseInfluxStatements parses the ;-separated statements of q. It reads
// tokens one statement at a time and stops at the first error, so what it
// holds is bounded by maxInfluxStatements and maxInfluxStatementTokens,
// not by the length of q.
func parseInfluxStatements(q string) ([]influxStmt, error) {
	tz := influxTokenizer{q: q}
	var stmts []influxStmt
	st := make([]influxToken, 0, 8)
	for {
		tok, ok, err := tz.next()
		if err != nil {
			return nil, err
		}
		if ok && tok.text != ";" || ok && tok.quoted != 0 {
			if len(st) == maxInfluxStatementTokens {
				if _, err := parseInfluxStatement(st); err != nil && err.Error() == errInfluxUnsupported {
					return nil, err
				}
				return nil, fmt.Errorf("statement %d is too long: more than %d words", len(stmts)+1, maxInfluxStatementTokens)
			}
			st = append(st, tok)
			continue
		}
		if len(st) > 0 {
			if len(stmts) == maxInfluxStatements {
				return nil, fmt.Errorf("more than %d statements in one request", maxInfluxStatements)
			}
			s, err := parseInfluxStatement(st)
			if err != nil {
				return nil, err
			}
			stmts = append(stmts, s)
			st = st[:0]
		}
		if !ok {
			break
		}
	}
	if len(stmts) == 0 {
		return nil, errors.New(`missing required parameter "q"`)
	}
	return stmts, nil
}

// parseInfluxStatement parses one statement's tokens.
func parseInfluxStatement(st []influxToken) (influxStmt, error) {
	kw := func(i int, want string) bool {
		return i < len(st) && st[i].quoted == 0 && strings.EqualFold(st[i].text, want)
	}
	switch {
	case kw(0, "SHOW") && kw(1, "DATABASES") && len(st) == 2:
		return influxStmt{kind: influxShowDatabases}, nil
	case kw(0, "CREATE") && kw(1, "DATABASE"), kw(0, "DROP") && kw(1, "DATABASE"):
		kind := influxCreateDatabase
		if kw(0, "DROP") {
			kind = influxDropDatabase
		}
		i := 2
		if kw(2, "IF") && kw(3, "NOT") && kw(4, "EXISTS") && kind == influxCreateDatabase {
			i = 5 // InfluxDB 0.x syntax, still sent by old clients
		}
		if i >= len(st) || !st[i].ident() {
			return influxStmt{}, fmt.Errorf("%s DATABASE needs a database name", strings.ToUpper(st[0].text))
		}
		name := st[i].text
		i++
		// CREATE DATABASE x WITH DURATION ... REPLICATION ...: retention
		// is set per collection in Soltix (docs/operations.md), so the
		// clause is accepted and ignored.
		if i < len(st) && !(kind == influxCreateDatabase && kw(i, "WITH")) {
			return influxStmt{}, fmt.Errorf("unexpected %q after the database name", st[i].text)
		}
		return influxStmt{kind: kind, name: name}, nil
	}
	return influxStmt{}, errors.New(errInfluxUnsupported)
}

// influxToken is a word, a quoted identifier or string, or punctuation.
type influxToken struct {
	text   string
	quoted byte // '"' or '\'' for quoted tokens, 0 otherwise
}

// ident reports whether t can name a database: a word or a "quoted" name.
func (t influxToken) ident() bool {
	if t.quoted == '"' {
		return true
	}
	if t.quoted != 0 || t.text == "" {
		return false
	}
	c := t.text[0]
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// influxTokenizer splits q into tokens, one at a time. Quoted tokens end
// at the next unescaped quote; \\ escapes the next byte inside them.
type influxTokenizer struct {
	q string
	i int
}

// next returns the next token, or ok false at the end of q.
func (tz *influxTokenizer) next() (tok influxToken, ok bool, err error) {
	q := tz.q
	for tz.i < len(q) {
		i := tz.i
		c := q[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			tz.i++
		case c == '"' || c == '\'':
			var sb strings.Builder
			j := i + 1
			for ; j < len(q) && q[j] != c; j++ {
				if q[j] == '\\' && j+1 < len(q) {
					j++
				}
				sb.WriteByte(q[j])
			}
			if j >= len(q) {
				return influxToken{}, false, fmt.Errorf("unterminated quoted name at byte %d", i+1)
			}
			tz.i = j + 1
			return influxToken{text: sb.String(), quoted: c}, true, nil
		case isInfluxWordByte(c):
			j := i
			for j < len(q) && isInfluxWordByte(q[j]) {
				j++
			}
			tz.i = j
			return influxToken{text: q[i:j]}, true, nil
		default:
			tz.i++
			return influxToken{text: q[i : i+1]}, true, nil
		}
	}
	return influxToken{}, false, nil
}

func isInfluxWordByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
}
