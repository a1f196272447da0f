package httpapi

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/planner"
)

// This file answers InfluxQL's SHOW statements on /query from the store's
// catalog: measurements are collections, and the tag keys, tag values,
// field keys and series of each are listed the way InfluxDB 1.x lists them.

// iqlShowKind is an InfluxQL SHOW statement /query answers.
type iqlShowKind int

const (
	iqlShowMeasurements iqlShowKind = iota + 1
	iqlShowTagKeys
	iqlShowTagValues
	iqlShowFieldKeys
	iqlShowSeries
	iqlShowRetentionPolicies
)

// iqlShow is a parsed SHOW statement.
type iqlShow struct {
	kind iqlShowKind
	// from names the measurements: names, or every collection when both
	// from and fromRe are empty.
	from   []string
	fromRe []*regexp.Regexp
	// key selects the tag keys of SHOW TAG VALUES, and the measurement of
	// SHOW MEASUREMENTS WITH MEASUREMENT.
	key           nameMatch
	limit, offset int
}

// nameMatch matches names: one of names (not: none of them), or regexes.
type nameMatch struct {
	set   bool
	names []string
	re    *regexp.Regexp
	not   bool
}

func (m nameMatch) match(s string) bool {
	if !m.set {
		return true
	}
	var ok bool
	if m.re != nil {
		ok = m.re.MatchString(s)
	} else {
		ok = slices.Contains(m.names, s)
	}
	return ok != m.not
}

// iqlCursor walks a statement's tokens.
type iqlCursor struct {
	toks []iqlTok
	i    int
}

func (c *iqlCursor) done() bool { return c.i >= len(c.toks) }

func (c *iqlCursor) peek() iqlTok {
	if c.done() {
		return iqlTok{}
	}
	return c.toks[c.i]
}

// accept consumes the next token if it is the word or punctuation w.
func (c *iqlCursor) accept(w string) bool {
	if !c.done() && c.toks[c.i].is(w) {
		c.i++
		return true
	}
	return false
}

func (c *iqlCursor) expect(w string) error {
	if c.accept(w) {
		return nil
	}
	return c.unexpected("expected " + w)
}

func (c *iqlCursor) unexpected(want string) error {
	if c.done() {
		return fmt.Errorf("unexpected end of statement, %s", want)
	}
	return fmt.Errorf("unexpected %q at byte %d, %s", c.peek().text, c.peek().start+1, want)
}

// name consumes a name, or a qualified one ("db"."rp"."m"), and returns its
// last part.
func (c *iqlCursor) name() (string, error) {
	j, name, err := fromTarget(c.toks, c.i)
	if err != nil {
		return "", err
	}
	if j == c.i {
		return "", c.unexpected("expected a name")
	}
	c.i = j
	return name, nil
}

// regex consumes a /regex/ and compiles it.
func (c *iqlCursor) regex() (*regexp.Regexp, error) {
	t := c.peek()
	if t.kind != iqlRegex {
		return nil, c.unexpected("expected a /regex/")
	}
	c.i++
	re, err := regexp.Compile(t.text)
	if err != nil {
		return nil, fmt.Errorf("bad regex /%s/: %v", t.text, err)
	}
	return re, nil
}

// parseInfluxShow parses SHOW statements other than SHOW DATABASES.
func parseInfluxShow(st iqlStatement) (*iqlShow, error) {
	c := &iqlCursor{toks: st.toks}
	_ = c.accept("SHOW")
	sh := &iqlShow{}
	switch {
	case c.accept("MEASUREMENTS"):
		sh.kind = iqlShowMeasurements
	case c.accept("TAG") && c.accept("KEYS"):
		sh.kind = iqlShowTagKeys
	case c.i == 2 && c.accept("VALUES"):
		sh.kind = iqlShowTagValues
	case c.accept("FIELD") && c.accept("KEYS"):
		sh.kind = iqlShowFieldKeys
	case c.accept("SERIES"):
		sh.kind = iqlShowSeries
	case c.accept("RETENTION") && c.accept("POLICIES"):
		sh.kind = iqlShowRetentionPolicies
	default:
		return nil, influxUnsupported(fmt.Sprintf("the statement %q", st.keyword(3)))
	}
	if c.accept("ON") {
		if _, err := c.name(); err != nil {
			return nil, err
		}
	}
	if sh.kind == iqlShowRetentionPolicies {
		return sh, c.end()
	}
	if sh.kind == iqlShowMeasurements {
		if c.accept("WITH") {
			if err := c.expect("MEASUREMENT"); err != nil {
				return nil, err
			}
			if err := c.keyMatch(&sh.key); err != nil {
				return nil, err
			}
		}
	} else if c.accept("FROM") {
		if err := c.sources(sh); err != nil {
			return nil, err
		}
	}
	if sh.kind == iqlShowTagValues {
		if err := c.expect("WITH"); err != nil {
			return nil, err
		}
		if err := c.expect("KEY"); err != nil {
			return nil, err
		}
		if err := c.keyMatch(&sh.key); err != nil {
			return nil, err
		}
	}
	if c.peek().is("WHERE") {
		return nil, influxUnsupported("WHERE in SHOW " + strings.TrimPrefix(st.keyword(3), "SHOW "))
	}
	for _, w := range []string{"LIMIT", "OFFSET"} {
		if c.accept(w) {
			t := c.peek()
			n, err := strconv.Atoi(t.text)
			if t.kind != iqlWord || err != nil || n < 0 {
				return nil, c.unexpected("expected a number after " + w)
			}
			c.i++
			if w == "LIMIT" {
				sh.limit = n
			} else {
				sh.offset = n
			}
		}
	}
	return sh, c.end()
}

// end checks that nothing follows.
func (c *iqlCursor) end() error {
	if !c.done() {
		return c.unexpected("expected the end of the statement")
	}
	return nil
}

// sources reads FROM's measurements: names and /regexes/, comma-separated.
func (c *iqlCursor) sources(sh *iqlShow) error {
	for {
		if c.peek().kind == iqlRegex {
			re, err := c.regex()
			if err != nil {
				return err
			}
			sh.fromRe = append(sh.fromRe, re)
		} else {
			// fromTarget refuses lists; read one name at a time.
			j := c.i
			for j < len(c.toks) && !c.toks[j].is(",") {
				j++
			}
			sub := &iqlCursor{toks: c.toks[:j], i: c.i}
			n, err := sub.name()
			if err != nil {
				return err
			}
			c.i = sub.i
			sh.from = append(sh.from, n)
		}
		if !c.accept(",") {
			return nil
		}
	}
}

// keyMatch reads = name, != name, =~ /re/, !~ /re/ or IN (names).
func (c *iqlCursor) keyMatch(m *nameMatch) error {
	m.set = true
	switch {
	case c.accept("="), c.accept("!="), c.accept("<>"):
		m.not = !c.toks[c.i-1].is("=")
		n, err := c.name()
		if err != nil {
			return err
		}
		m.names = []string{n}
	case c.accept("=~"), c.accept("!~"):
		m.not = c.toks[c.i-1].is("!~")
		re, err := c.regex()
		if err != nil {
			return err
		}
		m.re = re
	case c.accept("IN"):
		if err := c.expect("("); err != nil {
			return err
		}
		for {
			t := c.peek()
			if !t.name() && t.kind != iqlString {
				return c.unexpected("expected a name")
			}
			c.i++
			m.names = append(m.names, t.text)
			if c.accept(")") {
				break
			}
			if err := c.expect(","); err != nil {
				return err
			}
		}
	default:
		return c.unexpected("expected =, !=, =~, !~ or IN")
	}
	return nil
}

// measurements returns the collections sh names that the request may read,
// sorted; names that do not exist are left out, as InfluxDB answers an
// unknown measurement with no series.
func (s *server) measurements(ctx context.Context, sh *iqlShow) []string {
	all := visibleCollections(ctx, s.store.Collections())
	if len(sh.from) == 0 && len(sh.fromRe) == 0 {
		return all
	}
	var out []string
	for _, c := range all {
		if slices.Contains(sh.from, c) || slices.ContainsFunc(sh.fromRe, func(re *regexp.Regexp) bool { return re.MatchString(c) }) {
			out = append(out, c)
		}
	}
	return out
}

// page applies LIMIT and OFFSET to n items: the half-open range kept.
func (sh *iqlShow) page(n int) (int, int) {
	lo := min(sh.offset, n)
	hi := n
	if sh.limit > 0 {
		hi = min(n, lo+sh.limit)
	}
	return lo, hi
}

// runShow answers a SHOW statement. max bounds the rows of the answer.
func (s *server) runShow(ctx context.Context, sh *iqlShow, max int) (influxResult, error) {
	var res influxResult
	rows := 0
	add := func(name string, cols []string, values [][]model.Value) error {
		if len(values) == 0 {
			return nil
		}
		rows += len(values)
		if rows > max {
			return showRowsError(max)
		}
		res.series = append(res.series, influxSeries{name: name, columns: cols, timeCol: -1, rows: values})
		return nil
	}
	str := model.String
	switch sh.kind {
	case iqlShowRetentionPolicies:
		return res, add("", []string{"name", "duration", "shardGroupDuration", "replicaN", "default"},
			[][]model.Value{{str("autogen"), str("0s"), str("168h0m0s"), model.Int(1), model.Bool(true)}})
	case iqlShowMeasurements:
		var vals [][]model.Value
		for _, c := range visibleCollections(ctx, s.store.Collections()) {
			if sh.key.match(c) {
				vals = append(vals, []model.Value{str(c)})
			}
		}
		lo, hi := sh.page(len(vals))
		return res, add("measurements", []string{"name"}, vals[lo:hi])
	}
	for _, m := range s.measurements(ctx, sh) {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		var vals [][]model.Value
		var cols []string
		switch sh.kind {
		case iqlShowTagKeys:
			cols = []string{"tagKey"}
			for _, k := range s.store.TagKeys(m) {
				vals = append(vals, []model.Value{str(k)})
			}
		case iqlShowTagValues:
			cols = []string{"key", "value"}
			for _, k := range s.store.TagKeys(m) {
				if !sh.key.match(k) {
					continue
				}
				for _, v := range s.store.TagValues(m, k) {
					vals = append(vals, []model.Value{str(k), str(v)})
				}
			}
		case iqlShowFieldKeys:
			cols = []string{"fieldKey", "fieldType"}
			fields, _ := s.store.Fields(m)
			keys := make([]string, 0, len(fields))
			for f := range fields {
				keys = append(keys, f)
			}
			slices.Sort(keys)
			for _, f := range keys {
				vals = append(vals, []model.Value{str(f), str(influxFieldType(fields[f]))})
			}
		case iqlShowSeries:
			cols = []string{"key"}
			var err error
			vals, err = s.seriesKeys(m, max-rows)
			if err != nil {
				return res, err
			}
		}
		lo, hi := sh.page(len(vals))
		name := m
		if sh.kind == iqlShowSeries {
			name = ""
		}
		if err := add(name, cols, vals[lo:hi]); err != nil {
			return res, err
		}
	}
	return res, nil
}

// seriesKeys lists the series keys of collection m in line protocol's
// form (m,k=v,...), at most max of them.
func (s *server) seriesKeys(m string, max int) ([][]model.Value, error) {
	n := 0
	series := s.store.Series(m, func(model.Tags) bool {
		n++
		return n <= max
	})
	if n > max {
		return nil, showRowsError(max)
	}
	vals := make([][]model.Value, 0, len(series))
	for _, tags := range series {
		var b strings.Builder
		b.WriteString(escapeLP(m, ", "))
		for _, t := range tags {
			b.WriteByte(',')
			b.WriteString(escapeLP(t.Key, ",= "))
			b.WriteByte('=')
			b.WriteString(escapeLP(t.Value, ",= "))
		}
		vals = append(vals, []model.Value{model.String(b.String())})
	}
	return vals, nil
}

// showRowsError is the error of a SHOW answer with more than max rows.
func showRowsError(max int) error {
	return &planner.LimitError{Msg: fmt.Sprintf("SHOW returns more than %d rows", max), Setting: planner.SettingMaxRows}
}

// escapeLP escapes the bytes of special with a backslash, as line protocol
// writes measurement names, tag keys and tag values.
func escapeLP(s, special string) string {
	if !strings.ContainsAny(s, special) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(special, s[i]) >= 0 {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// influxFieldType names a field kind as SHOW FIELD KEYS does.
func influxFieldType(k model.Kind) string {
	switch k {
	case model.KindFloat:
		return "float"
	case model.KindInt:
		return "integer"
	case model.KindUint:
		return "unsigned"
	case model.KindBool:
		return "boolean"
	case model.KindString:
		return "string"
	}
	return "unknown"
}
