package lineproto

// A line's fields and timestamp: "key=value" pairs, the value types of
// docs/influx.md (floats, integers, unsigned, booleans, strings), and the
// timestamp in the request's precision.

import (
	"strconv"

	"github.com/soltixdb/soltix/internal/timex"
	"github.com/soltixdb/soltix/model"
)

// field decodes "key=value" at p.pos into p.fields.
func (p *parser) field() *LineError {
	buf := p.buf
	start := p.pos
	if start == len(buf) {
		return p.errAt(start, "expected field key, found end of input")
	}
	end, esc, na := p.scan(start, cKey, escKey)
	if end == start {
		return p.errAt(start, "expected field key, found %s", quoteByte(buf[start]))
	}
	key, err := p.text(start, end, esc, na, escKey, "field key")
	if err != nil {
		return err
	}
	if len(key) > model.MaxKeyBytes {
		return p.errAt(start, "field key of %d bytes is longer than %d bytes (max key size)", len(key), model.MaxKeyBytes)
	}
	if check := p.checks.Key; check != nil {
		if reason := check(key, false); reason != "" {
			return p.errAt(start, "%s", reason)
		}
	}
	if end == len(buf) {
		return p.errAt(end, "expected '=' after field key %s, found end of input", quoteToken([]byte(key)))
	}
	if buf[end] != '=' {
		return p.errAt(end, "expected '=' after field key %s, found %s", quoteToken([]byte(key)), quoteByte(buf[end]))
	}
	p.pos = end + 1
	v, err := p.value(key)
	if err != nil {
		return err
	}
	p.addField(key, v, start)
	if len(p.fields) > model.MaxFieldsPerPoint {
		return p.errAt(start, "more than %d fields (max fields per point)", model.MaxFieldsPerPoint)
	}
	return nil
}

// addField appends a field, or replaces the value of an earlier field with
// the same key.
func (p *parser) addField(key string, v model.Value, pos int) {
	fs := p.fields
	if len(fs) <= 32 {
		for i := range fs {
			if fs[i].Key == key {
				fs[i].Value, p.fpos[i] = v, pos
				return
			}
		}
		p.fields, p.fpos = append(fs, model.Field{Key: key, Value: v}), append(p.fpos, pos)
		return
	}
	if len(fs) == 33 || p.keyIdx == nil {
		if p.keyIdx == nil {
			p.keyIdx = make(map[string]int, 64)
		}
		clear(p.keyIdx)
		for i := range fs {
			p.keyIdx[fs[i].Key] = i
		}
	}
	if i, ok := p.keyIdx[key]; ok && i < len(fs) && fs[i].Key == key {
		fs[i].Value, p.fpos[i] = v, pos
		return
	}
	p.keyIdx[key] = len(fs)
	p.fields, p.fpos = append(fs, model.Field{Key: key, Value: v}), append(p.fpos, pos)
}

// value decodes the field value at p.pos.
func (p *parser) value(key string) (model.Value, *LineError) {
	buf := p.buf
	start := p.pos
	if start == len(buf) {
		return model.Value{}, p.errAt(start, "expected value after field key %s, found end of input", quoteToken([]byte(key)))
	}
	c := buf[start]
	switch {
	case c == '"':
		return p.stringValue(key)
	case c == 't' || c == 'T' || c == 'f' || c == 'F':
		end, _, _ := p.scan(start, cFieldValue, 0)
		p.pos = end
		switch string(buf[start:end]) {
		case "t", "T", "true", "True", "TRUE":
			return model.Bool(true), nil
		case "f", "F", "false", "False", "FALSE":
			return model.Bool(false), nil
		}
		return model.Value{}, p.errAt(start, "invalid boolean %s for field %s; want t, T, true, True, TRUE, f, F, false, False or FALSE",
			quoteToken(buf[start:end]), quoteToken([]byte(key)))
	case c == '-' || c == '.' || (c >= '0' && c <= '9'):
		end, _, _ := p.scan(start, cFieldValue, 0)
		p.pos = end
		tok := buf[start:end]
		switch tok[len(tok)-1] {
		case 'i':
			n, ok, inRange := parseInt(tok[:len(tok)-1])
			if !ok {
				return model.Value{}, p.errAt(start, "invalid integer %s for field %s", quoteToken(tok), quoteToken([]byte(key)))
			}
			if !inRange {
				return model.Value{}, p.errAt(start, "integer %s for field %s is out of range", quoteToken(tok), quoteToken([]byte(key)))
			}
			return model.Int(n), nil
		case 'u':
			n, ok, inRange := parseUint(tok[:len(tok)-1])
			if !ok {
				return model.Value{}, p.errAt(start, "invalid unsigned integer %s for field %s", quoteToken(tok), quoteToken([]byte(key)))
			}
			if !inRange {
				return model.Value{}, p.errAt(start, "unsigned integer %s for field %s is out of range", quoteToken(tok), quoteToken([]byte(key)))
			}
			return model.Uint(n), nil
		}
		if !validFloat(tok) {
			return model.Value{}, p.errAt(start, "invalid number %s for field %s", quoteToken(tok), quoteToken([]byte(key)))
		}
		f, err := strconv.ParseFloat(string(tok), 64)
		if err != nil {
			return model.Value{}, p.errAt(start, "float %s for field %s is out of range", quoteToken(tok), quoteToken([]byte(key)))
		}
		if f == 0 {
			f = 0 // the reference reads "-0" as +0
		}
		return model.Float(f), nil
	}
	return model.Value{}, p.errAt(start, "invalid value for field %s: found %s, want a number, a boolean or a double-quoted string",
		quoteToken([]byte(key)), quoteByte(c))
}

// stringValue decodes the quoted string at p.pos.
func (p *parser) stringValue(key string) (model.Value, *LineError) {
	buf := p.buf
	open := p.pos
	i := open + 1
	escaped := false
	line, lineStart := p.line, p.lineStart
	for i < len(buf) {
		c := buf[i]
		if c == '"' {
			break
		}
		if c == '\\' && i+1 < len(buf) && (buf[i+1] == '"' || buf[i+1] == '\\') {
			i += 2
			escaped = true
			continue
		}
		if c == '\n' {
			line++
			lineStart = i + 1
		}
		i++
	}
	if i == len(buf) {
		p.pos = i
		return model.Value{}, p.errAt(open, "missing closing '\"' of string value for field %s", quoteToken([]byte(key)))
	}
	b := buf[open+1 : i]
	p.pos = i + 1
	if bad := invalidUTF8(b); bad >= 0 {
		return model.Value{}, p.errAt(open+1+bad, "invalid UTF-8 in string value for field %s", quoteToken([]byte(key)))
	}
	p.line, p.lineStart = line, lineStart
	if !escaped {
		return model.String(string(b)), nil
	}
	s := make([]byte, 0, len(b))
	for j := 0; j < len(b); j++ {
		c := b[j]
		if c == '\\' && j+1 < len(b) && (b[j+1] == '"' || b[j+1] == '\\') {
			j++
			c = b[j]
		}
		s = append(s, c)
	}
	return model.String(string(s)), nil
}

// timestamp decodes the timestamp buf[start:end] into nanoseconds.
func (p *parser) timestamp(start, end int) (int64, *LineError) {
	tok := p.buf[start:end]
	t, ok, inRange := parseInt(tok)
	if !ok {
		return 0, p.errAt(start, "invalid timestamp %s", quoteToken(tok))
	}
	ns, fits := timex.FromUnit(t, p.prec)
	if !inRange || !fits {
		return 0, p.errAt(start, "timestamp %s is out of range at precision %s", quoteToken(tok), Precision(p.prec))
	}
	return ns, nil
}
