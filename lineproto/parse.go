package lineproto

import (
	"bytes"
	"fmt"
	"hash/maphash"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/soltixdb/soltix/internal/freelist"
	"github.com/soltixdb/soltix/internal/timex"
	"github.com/soltixdb/soltix/model"
)

// Byte classes. A bit set in class[c] means that c may appear unescaped in
// that kind of token, or (for the esc* bits) that a backslash before c is
// an escape in that kind of token.
const (
	cMeasurement   = 1 << iota // measurement name
	cKey                       // tag key or field key
	cTagValue                  // tag value
	cFieldValue                // unquoted field value
	cComment                   // comment text
	cTime                      // timestamp
	escMeasurement             // "\ " and "\," in a measurement
	escKey                     // "\ ", "\," and "\=" in keys and tag values
)

var class = func() (t [256]uint8) {
	for i := range t {
		c := byte(i)
		control := c < 0x20 || c == 0x7f
		if !control && c != ',' && c != ' ' {
			t[i] |= cMeasurement
		}
		if !control && c != ',' && c != ' ' && c != '=' {
			t[i] |= cKey
		}
		if c != ',' && c != ' ' && c != '=' && c != '\r' && c != '\n' {
			t[i] |= cTagValue
		}
		if c != ',' && c != ' ' && c != '\r' && c != '\n' {
			t[i] |= cFieldValue
		}
		if !control || c == '\t' {
			t[i] |= cComment
		}
		if c == '-' || (c >= '0' && c <= '9') {
			t[i] |= cTime
		}
		switch c {
		case ' ', ',':
			t[i] |= escMeasurement | escKey
		case '=':
			t[i] |= escKey
		}
	}
	return t
}()

const (
	maxInterned = 1 << 16 // distinct strings the parser keeps for reuse
	maxRecent   = 256     // token positions of the previous point remembered
	maxHeads    = 4096    // distinct measurement-and-tags sections remembered
	minSlab     = 64      // first size of the tag and field slabs
	maxSlab     = 4096    // largest size of the tag and field slabs
	quoteMax    = 48      // bytes of a token quoted in an error reason
)

// Parse decodes every line of buf.
//
// The measurement becomes Point.Collection; tags are sorted by key; fields
// keep their order in the line. A line without a timestamp gets defaultTime
// (in nanoseconds) rounded down to a multiple of prec; a timestamp is
// multiplied by prec, and a product that doesn't fit in an int64 is an
// error. A prec below 1 counts as Nanosecond. lines[i] is the 1-based line
// number on which points[i] starts.
//
// Every bad line is reported in errs, in input order, and contributes no
// point; the other lines are still decoded. Parse stops after MaxErrors
// bad lines. Blank lines and comment lines are skipped.
func Parse(buf []byte, prec Precision, defaultTime int64) (points []model.Point, lines []int, errs []*LineError) {
	return ParseWith(buf, prec, defaultTime, Checks{})
}

// Checks are rules beyond the syntax that ParseWith applies to every line,
// so that what they refuse is reported the way syntax errors are: on its
// line, at the 1-based column of the offending name, key or field, in input
// order among the syntax errors. Each function returns the reason to refuse
// the line, or "" to accept; a nil function accepts everything.
type Checks struct {
	// Collection checks a measurement name.
	Collection func(name string) string
	// Key checks a tag key (tag set) or a field key.
	Key func(key string, tag bool) string
	// Field checks the kind of each field of a line that is otherwise
	// good, in line order; it may remember the kind, to compare the
	// fields of later lines with it. It must accept again what it once
	// accepted (the same collection, key and kind): ParseWith does not
	// ask about a line whose fields, in order and with the same kinds,
	// are among those of the last line of its collection it asked about
	// in full and that passed.
	Field func(collection, key string, kind model.Kind) string
	// Time checks a timestamp written on a line (in nanoseconds); lines
	// without one are not checked.
	Time func(collection string, t int64) string
}

// ParseWith is Parse with checks beyond the syntax.
func ParseWith(buf []byte, prec Precision, defaultTime int64, checks Checks) (points []model.Point, lines []int, errs []*LineError) {
	return ParseInto(nil, buf, prec, defaultTime, checks)
}

// ParseInto is ParseWith cutting the points' tags and fields from the
// arrays of arena (when not nil): they are valid until arena.Reuse is
// called, and a caller that keeps some must copy them.
func ParseInto(arena *Arena, buf []byte, prec Precision, defaultTime int64, checks Checks) (points []model.Point, lines []int, errs []*LineError) {
	if prec < 1 {
		prec = Nanosecond
	}
	p := getParser()
	defer putParser(p)
	p.buf, p.line, p.prec, p.defaultTime, p.checks = buf, 1, int64(prec), floorMultiple(defaultTime, int64(prec)), checks
	p.arena = arena
	// Guess the number of points, without letting a pathological input
	// (such as megabytes of newlines) make us reserve much memory.
	n := min(bytes.Count(buf, []byte{'\n'})+1, len(buf)/16+1, 1<<16)
	if arena != nil && cap(arena.points) >= n && cap(arena.lines) >= n {
		points, lines = arena.points[:0], arena.lines[:0]
	} else {
		points = make([]model.Point, 0, n)
		lines = make([]int, 0, n)
	}
	if arena != nil {
		defer func() { arena.keep(points, lines) }()
	}
	for {
		more, err := p.skipBlank()
		if err == nil && !more {
			break
		}
		if err == nil {
			line := p.line
			var pt model.Point
			pt, err = p.point()
			if err == nil {
				points = append(points, pt)
				lines = append(lines, line)
				continue
			}
		}
		errs = append(errs, err)
		if len(errs) >= MaxErrors {
			break
		}
		p.recover()
	}
	return points, lines, errs
}

// floorMultiple rounds t down to a multiple of m (m >= 1), or up when
// rounding down would leave the int64 range.
func floorMultiple(t, m int64) int64 {
	if f, ok := timex.Floor(t, m, 0); ok {
		return f
	}
	f, _ := timex.Ceil(t, m, 0)
	return f
}

type tagEntry struct {
	tag model.Tag
	pos int // offset of the key in buf
}

// parser holds the state of one Parse call.
type parser struct {
	buf         []byte
	pos         int   // next byte to read
	line        int   // line number of buf[lineStart]
	lineStart   int   // offset of the first byte of the current line
	ptLine      int   // line on which the current point starts
	ptLineStart int   // offset of the first byte of that line
	prec        int64 // nanoseconds per timestamp unit
	defaultTime int64 // time of a point without a timestamp

	strs    map[string]string // interned names, keys and tag values
	recent  []string          // interned strings by position in the previous point
	tok     int               // position of the next interned string in this point
	scratch []byte            // unescaped token
	tags    []tagEntry        // tags of the current point
	fields  []model.Field     // fields of the current point
	fpos    []int             // fpos[i]: offset of the key of fields[i] in buf
	checks  Checks
	keyIdx  map[string]int // field positions, for lines with many fields
	// passed holds, per collection, the keys and kinds of the fields of
	// the last line that Checks.Field was asked about in full and passed.
	passed map[string][]fieldKind

	tagSlab   []model.Tag   // backing store handed out to points
	fieldSlab []model.Field // backing store handed out to points
	arena     *Arena        // where the slabs come from, when not nil

	// heads remembers the parse of each measurement-and-tags section
	// (the bytes before the first space of a line) seen in this call, by
	// the hash of its bytes: the points of one device share a section,
	// and reuse its collection and tags (one Tags slice, shared) instead
	// of parsing them again.
	heads map[uint64]head
	seed  maphash.Seed
}

// parsers keeps a few parsers for reuse, so that a call does not grow its
// maps and buffers afresh (putParser empties them first).
var parsers = freelist.New[*parser](4)

// maxKeptEntries bounds the entries of a map whose room a kept parser
// keeps; a larger map is dropped.
const maxKeptEntries = 1 << 14

func getParser() *parser {
	if p, ok := parsers.Get(); ok {
		return p
	}
	return &parser{seed: maphash.MakeSeed()}
}

// putParser empties p, keeping nothing of the input or of the points
// handed out (the slabs belong to them), and keeps it for reuse.
func putParser(p *parser) {
	keep := func(n int) bool { return n <= maxKeptEntries }
	if !keep(len(p.strs)) {
		p.strs = nil
	}
	if !keep(len(p.heads)) {
		p.heads = nil
	}
	if !keep(len(p.passed)) {
		p.passed = nil
	}
	clear(p.strs)
	clear(p.heads)
	clear(p.passed)
	clear(p.keyIdx)
	clear(p.recent)
	clear(p.tags[:cap(p.tags)])
	clear(p.fields[:cap(p.fields)])
	*p = parser{
		strs: p.strs, heads: p.heads, passed: p.passed, keyIdx: p.keyIdx, seed: p.seed,
		recent: p.recent[:0], scratch: p.scratch[:0], tags: p.tags[:0], fields: p.fields[:0], fpos: p.fpos[:0],
	}
	parsers.Put(p)
}

// fieldKind is a field's key and kind.
type fieldKind struct {
	key  string
	kind model.Kind
}

// fieldsPassed reports whether the fields of the current line are, in
// order and with the same kinds, among those of the last line of
// collection that passed Checks.Field (the points of one device usually
// share their fields, so this saves a check per field and line).
func (p *parser) fieldsPassed(collection string) bool {
	ok, found := p.passed[collection]
	if !found {
		return false
	}
	j := 0
	for _, f := range p.fields {
		for j < len(ok) && ok[j].key != f.Key {
			j++
		}
		if j == len(ok) || ok[j].kind != f.Value.Kind {
			return false
		}
		j++
	}
	return true
}

// fieldsPass records that the fields of the current line passed
// Checks.Field.
func (p *parser) fieldsPass(collection string) {
	if p.passed == nil {
		p.passed = map[string][]fieldKind{}
	}
	ok := p.passed[collection][:0]
	for _, f := range p.fields {
		ok = append(ok, fieldKind{f.Key, f.Value.Kind})
	}
	p.passed[collection] = ok
}

// head is the parse of a measurement-and-tags section.
type head struct {
	name       string
	tags       model.Tags
	tok        int // p.tok after the section
	start, end int // the section's offsets in buf
}

// headEnd returns the offset of the first space or line end from start,
// skipping the byte after each backslash. It need not agree with the
// grammar's escaping: a section is reused only after a full parse ended
// at the same offset.
func headEnd(buf []byte, start int) int {
	for i := start; i < len(buf); i++ {
		switch buf[i] {
		case ' ', '\n', '\r':
			return i
		case '\\':
			i++
		}
	}
	return len(buf)
}

// errAt returns an error at byte offset off of buf, which lies on or after
// the first line of the current point.
func (p *parser) errAt(off int, format string, args ...any) *LineError {
	line, start := p.ptLine, p.ptLineStart
	if off > len(p.buf) {
		off = len(p.buf)
	}
	for {
		i := bytes.IndexByte(p.buf[start:off], '\n')
		if i < 0 {
			break
		}
		start += i + 1
		line++
	}
	return &LineError{Line: line, Column: off - start + 1, Reason: fmt.Sprintf(format, args...)}
}

// recover moves past the line on which the last error was found.
func (p *parser) recover() {
	// Tokens before the error can't hold a newline, except quoted strings,
	// which p.pos has passed.
	from := min(p.pos, len(p.buf))
	end := len(p.buf)
	if i := bytes.IndexByte(p.buf[from:], '\n'); i >= 0 {
		end = from + i + 1
	}
	// Count the lines from the start of the failed point (or comment) to
	// the resume point; quoted strings may have spanned several.
	line, start := p.ptLine, p.ptLineStart
	for {
		i := bytes.IndexByte(p.buf[start:end], '\n')
		if i < 0 {
			break
		}
		start += i + 1
		line++
	}
	p.pos, p.line, p.lineStart = end, line, start
}

// skipBlank skips blank lines and comment lines. It returns false at the
// end of the input, and an error for a comment holding a control character.
func (p *parser) skipBlank() (bool, *LineError) {
	buf := p.buf
	for {
		p.ptLine, p.ptLineStart = p.line, p.lineStart
		i := p.pos
		for i < len(buf) && buf[i] == ' ' {
			i++
		}
		if i == len(buf) {
			p.pos = i
			return false, nil
		}
		switch buf[i] {
		case '\n':
			p.pos = i + 1
			p.line++
			p.lineStart = p.pos
			continue
		case '\r':
			p.pos = i
			if p.eol() {
				continue
			}
		case '#':
			i++
			for i < len(buf) && class[buf[i]]&cComment != 0 {
				i++
			}
			p.pos = i
			if i == len(buf) {
				return false, nil
			}
			if p.eol() {
				continue
			}
			return true, p.errAt(i, "comment holds control character %s", quoteByte(buf[i]))
		}
		p.pos = i
		return true, nil
	}
}

// eol consumes "\n" or "\r\n" at p.pos, or a "\r" that ends the input,
// and reports whether it did.
func (p *parser) eol() bool {
	buf, i := p.buf, p.pos
	switch {
	case i < len(buf) && buf[i] == '\n':
		i++
	case i+1 < len(buf) && buf[i] == '\r' && buf[i+1] == '\n':
		i += 2
	case i+1 == len(buf) && buf[i] == '\r':
		i++
	default:
		return false
	}
	p.pos = i
	p.line++
	p.lineStart = i
	return true
}

// scan returns the end of the token starting at start whose unescaped bytes
// are in class cls and whose escapes are those in class esc, whether it
// holds an escape, and whether it holds a byte outside ASCII.
func (p *parser) scan(start int, cls, esc uint8) (end int, escaped, nonASCII bool) {
	buf := p.buf
	i := start
	var or byte
	for i < len(buf) {
		c := buf[i]
		or |= c
		if c == '\\' {
			if i+1 < len(buf) && class[buf[i+1]]&esc != 0 {
				i += 2
				escaped = true
				continue
			}
			i++
			continue
		}
		if class[c]&cls == 0 {
			break
		}
		i++
	}
	return i, escaped, or >= utf8.RuneSelf
}

// text returns the token buf[start:end] unescaped, checking that it is
// valid UTF-8. what names the token in an error.
func (p *parser) text(start, end int, escaped, nonASCII bool, esc uint8, what string) (string, *LineError) {
	b := p.buf[start:end]
	if nonASCII {
		if bad := invalidUTF8(b); bad >= 0 {
			return "", p.errAt(start+bad, "invalid UTF-8 in %s %s", what, quoteToken(b))
		}
	}
	if escaped {
		s := p.scratch[:0]
		for i := 0; i < len(b); i++ {
			c := b[i]
			if c == '\\' && i+1 < len(b) && class[b[i+1]]&esc != 0 {
				i++
				c = b[i]
			}
			s = append(s, c)
		}
		p.scratch = s
		b = s
	}
	return p.intern(b), nil
}

// point decodes the point starting at p.pos, through the end of its line.
func (p *parser) point() (model.Point, *LineError) {
	buf := p.buf
	var pt model.Point

	p.tok = 0
	start := p.pos
	hend := headEnd(buf, start)
	hash := maphash.Bytes(p.seed, buf[start:hend])
	if h, ok := p.heads[hash]; ok && hend < len(buf) && buf[hend] == ' ' && bytes.Equal(buf[h.start:h.end], buf[start:hend]) {
		pt.Collection, pt.Tags, p.tok = h.name, h.tags, h.tok
		p.pos = hend
		return p.body(pt)
	}

	// Measurement.
	end, esc, na := p.scan(start, cMeasurement, escMeasurement)
	if end == start {
		return pt, p.errAt(start, "invalid character %s at start of measurement name", quoteByte(buf[start]))
	}
	name, err := p.text(start, end, esc, na, escMeasurement, "measurement name")
	if err != nil {
		return pt, err
	}
	pt.Collection = name
	if check := p.checks.Collection; check != nil {
		if reason := check(name); reason != "" {
			return pt, p.errAt(start, "%s", reason)
		}
	}
	p.pos = end
	if end == len(buf) {
		return pt, p.errAt(end, "expected a space and fields after measurement name %s, found end of input", quoteToken([]byte(name)))
	}
	if c := buf[end]; c != ',' && c != ' ' {
		return pt, p.errAt(end, "expected ',' or ' ' after measurement name %s, found %s", quoteToken([]byte(name)), quoteByte(c))
	}

	// Tags.
	p.tags = p.tags[:0]
	keyLen := len(pt.Collection)
	for p.pos < len(buf) && buf[p.pos] == ',' {
		if len(p.tags) == model.MaxTagsPerPoint {
			return pt, p.errAt(p.pos+1, "more than %d tags (max tags per point)", model.MaxTagsPerPoint)
		}
		if err := p.tag(); err != nil {
			return pt, err
		}
		last := p.tags[len(p.tags)-1]
		if keyLen += len(last.tag.Key) + len(last.tag.Value) + 2; keyLen > model.MaxSeriesKeyBytes {
			return pt, p.errAt(last.pos, "series key (collection name and tags) longer than %d bytes (max series key size)", model.MaxSeriesKeyBytes)
		}
	}
	if p.pos == len(buf) {
		return pt, p.errAt(p.pos, "expected a space and fields after tags, found end of input")
	}
	if err := p.sortTags(); err != nil {
		return pt, err
	}
	pt.Tags = p.takeTags()
	if p.pos == hend && len(p.heads) < maxHeads {
		if p.heads == nil {
			p.heads = make(map[uint64]head)
		}
		// A section of another hash's bytes is replaced: heads is a cache.
		p.heads[hash] = head{name: pt.Collection, tags: pt.Tags, tok: p.tok, start: start, end: hend}
	}
	return p.body(pt)
}

// body decodes the fields and timestamp of the point whose measurement
// and tags are in pt, from p.pos through the end of its line.
func (p *parser) body(pt model.Point) (model.Point, *LineError) {
	buf := p.buf

	// Fields.
	for p.pos < len(buf) && buf[p.pos] == ' ' {
		p.pos++
	}
	p.fields, p.fpos = p.fields[:0], p.fpos[:0]
	for {
		if err := p.field(); err != nil {
			return pt, err
		}
		if p.pos == len(buf) {
			break
		}
		c := buf[p.pos]
		if c == ',' {
			p.pos++
			continue
		}
		if c == ' ' || c == '\r' || c == '\n' {
			break
		}
		return pt, p.errAt(p.pos, "expected ',' or ' ' after value of field %s, found %s",
			quoteToken([]byte(p.fields[len(p.fields)-1].Key)), quoteByte(c))
	}

	// Checks of the fields, before the timestamp moves p.pos past the
	// end of the line (recover expects it on the line).
	if check := p.checks.Field; check != nil && !p.fieldsPassed(pt.Collection) {
		for i, f := range p.fields {
			if reason := check(pt.Collection, f.Key, f.Value.Kind); reason != "" {
				return pt, p.errAt(p.fpos[i], "%s", reason)
			}
		}
		p.fieldsPass(pt.Collection)
	}

	// Timestamp.
	pt.Time = p.defaultTime
	for p.pos < len(buf) && buf[p.pos] == ' ' {
		p.pos++
	}
	if p.pos < len(buf) && !p.eol() {
		start := p.pos
		end, _, _ := p.scan(start, cTime, 0)
		if end == start {
			return pt, p.errAt(start, "expected timestamp or end of line, found %s", quoteByte(buf[start]))
		}
		t, err := p.timestamp(start, end)
		if err != nil {
			return pt, err
		}
		if check := p.checks.Time; check != nil {
			if reason := check(pt.Collection, t); reason != "" {
				return pt, p.errAt(start, "%s", reason)
			}
		}
		pt.Time = t
		p.pos = end
		for p.pos < len(buf) && buf[p.pos] == ' ' {
			p.pos++
		}
		if p.pos < len(buf) && !p.eol() {
			return pt, p.errAt(p.pos, "expected end of line after timestamp, found %s", quoteByte(buf[p.pos]))
		}
	}

	pt.Fields = p.takeFields()
	return pt, nil
}

// tag decodes ",key=value" at p.pos into p.tags.
func (p *parser) tag() *LineError {
	buf := p.buf
	start := p.pos + 1
	if start == len(buf) {
		return p.errAt(start, "expected tag key after ',', found end of input")
	}
	end, esc, na := p.scan(start, cKey, escKey)
	if end == start {
		return p.errAt(start, "expected tag key after ',', found %s", quoteByte(buf[start]))
	}
	key, err := p.text(start, end, esc, na, escKey, "tag key")
	if err != nil {
		return err
	}
	if len(key) > model.MaxKeyBytes {
		return p.errAt(start, "tag key of %d bytes is longer than %d bytes (max key size)", len(key), model.MaxKeyBytes)
	}
	if check := p.checks.Key; check != nil {
		if reason := check(key, true); reason != "" {
			return p.errAt(start, "%s", reason)
		}
	}
	if end == len(buf) {
		return p.errAt(end, "expected '=' after tag key %s, found end of input", quoteToken([]byte(key)))
	}
	if buf[end] != '=' {
		return p.errAt(end, "expected '=' after tag key %s, found %s", quoteToken([]byte(key)), quoteByte(buf[end]))
	}
	vstart := end + 1
	vend, esc, na := p.scan(vstart, cTagValue, escKey)
	if vend == vstart {
		if vstart == len(buf) {
			return p.errAt(vstart, "expected value after tag key %s, found end of input", quoteToken([]byte(key)))
		}
		return p.errAt(vstart, "expected value after tag key %s, found %s", quoteToken([]byte(key)), quoteByte(buf[vstart]))
	}
	val, err := p.text(vstart, vend, esc, na, escKey, "tag value")
	if err != nil {
		return err
	}
	p.tags = append(p.tags, tagEntry{tag: model.Tag{Key: key, Value: val}, pos: start})
	p.pos = vend
	if vend < len(buf) && buf[vend] != ',' && buf[vend] != ' ' {
		return p.errAt(vend, "expected ',' or ' ' after value of tag %s, found %s", quoteToken([]byte(key)), quoteByte(buf[vend]))
	}
	return nil
}

// sortTags sorts p.tags by key and rejects a repeated key.
func (p *parser) sortTags() *LineError {
	ts := p.tags
	if len(ts) <= 16 {
		for i := 1; i < len(ts); i++ {
			for j := i; j > 0 && ts[j].tag.Key < ts[j-1].tag.Key; j-- {
				ts[j], ts[j-1] = ts[j-1], ts[j]
			}
		}
	} else {
		slices.SortFunc(ts, func(a, b tagEntry) int { return strings.Compare(a.tag.Key, b.tag.Key) })
	}
	for i := 1; i < len(ts); i++ {
		if ts[i].tag.Key == ts[i-1].tag.Key {
			pos := max(ts[i].pos, ts[i-1].pos)
			return p.errAt(pos, "tag key %s appears more than once", quoteToken([]byte(ts[i].tag.Key)))
		}
	}
	return nil
}
