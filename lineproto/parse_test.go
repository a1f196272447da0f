package lineproto

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/soltixdb/soltix/model"
)

// pt builds a point for the tests; tags are given as key, value pairs in
// sorted order.
func pt(collection string, tags []string, fields []model.Field, time int64) model.Point {
	p := model.Point{Collection: collection, Fields: fields, Time: time}
	for i := 0; i+1 < len(tags); i += 2 {
		p.Tags = append(p.Tags, model.Tag{Key: tags[i], Value: tags[i+1]})
	}
	return p
}

func f(key string, v model.Value) model.Field { return model.Field{Key: key, Value: v} }

func TestParsePoints(t *testing.T) {
	const def = 1_000_000_123
	tests := []struct {
		name  string
		input string
		prec  Precision
		want  []model.Point
		lines []int
	}{
		{
			name:  "tags sorted, fields in line order",
			input: "cpu,z=1,a=2 b=1i,a=2u,c=true,d=\"x\",e=1.5 42",
			want: []model.Point{pt("cpu", []string{"a", "2", "z", "1"},
				[]model.Field{f("b", model.Int(1)), f("a", model.Uint(2)), f("c", model.Bool(true)), f("d", model.String("x")), f("e", model.Float(1.5))}, 42)},
			lines: []int{1},
		},
		{
			name:  "default time",
			input: "m v=1",
			want:  []model.Point{pt("m", nil, []model.Field{f("v", model.Float(1))}, def)},
			lines: []int{1},
		},
		{
			name:  "default time rounded down to the precision",
			input: "m v=1",
			prec:  Second,
			want:  []model.Point{pt("m", nil, []model.Field{f("v", model.Float(1))}, 1_000_000_000)},
			lines: []int{1},
		},
		{
			name:  "CRLF, blank lines, comments and spaces",
			input: "# header\r\n\r\n   \nm v=1 1\r\n  # indented comment\n m v=2 2 \r\nm v=3 3\r",
			want: []model.Point{
				pt("m", nil, []model.Field{f("v", model.Float(1))}, 1),
				pt("m", nil, []model.Field{f("v", model.Float(2))}, 2),
				pt("m", nil, []model.Field{f("v", model.Float(3))}, 3),
			},
			lines: []int{4, 6, 7},
		},
		{
			name:  "string spanning lines moves later line numbers",
			input: "m s=\"a\nb\r\nc\" 1\nm v=1 2",
			want: []model.Point{
				pt("m", nil, []model.Field{f("s", model.String("a\nb\r\nc"))}, 1),
				pt("m", nil, []model.Field{f("v", model.Float(1))}, 2),
			},
			lines: []int{1, 4},
		},
		{
			name:  "escapes",
			input: `c\ p\,u\=,t\ k\,\==v\ a\,l\=\x f\ k\,\==" \" \\ \n" 1`,
			want: []model.Point{pt(`c p,u\=`, []string{"t k,=", `v a,l=\x`},
				[]model.Field{f("f k,=", model.String(` " \ \n`))}, 1)},
			lines: []int{1},
		},
		{
			name:  "duplicate field key: last value wins at the first position",
			input: "m a=1,b=2,a=\"x\" 1",
			want:  []model.Point{pt("m", nil, []model.Field{f("a", model.String("x")), f("b", model.Float(2))}, 1)},
			lines: []int{1},
		},
		{
			name:  "negative zero reads as zero",
			input: "m a=-0,b=-0.0e5 1",
			want:  []model.Point{pt("m", nil, []model.Field{f("a", model.Float(0)), f("b", model.Float(0))}, 1)},
			lines: []int{1},
		},
		{
			name:  "number limits",
			input: "m a=-9223372036854775808i,b=9223372036854775807i,c=18446744073709551615u,d=1.7976931348623157e308,e=5e-324 -9223372036854775808",
			want: []model.Point{pt("m", nil, []model.Field{
				f("a", model.Int(math.MinInt64)), f("b", model.Int(math.MaxInt64)), f("c", model.Uint(math.MaxUint64)),
				f("d", model.Float(math.MaxFloat64)), f("e", model.Float(5e-324)),
			}, math.MinInt64)},
			lines: []int{1},
		},
		{
			name:  "booleans",
			input: "m a=t,b=T,c=true,d=True,e=TRUE,f=f,g=F,h=false,i=False,j=FALSE 1",
			want: []model.Point{pt("m", nil, []model.Field{
				f("a", model.Bool(true)), f("b", model.Bool(true)), f("c", model.Bool(true)), f("d", model.Bool(true)), f("e", model.Bool(true)),
				f("f", model.Bool(false)), f("g", model.Bool(false)), f("h", model.Bool(false)), f("i", model.Bool(false)), f("j", model.Bool(false)),
			}, 1)},
			lines: []int{1},
		},
		{
			name:  "floats",
			input: "m a=1,b=-1.5,c=.5,d=1.,e=1e3,f=1E+3,g=-2.5e-3,h=007 1",
			want: []model.Point{pt("m", nil, []model.Field{
				f("a", model.Float(1)), f("b", model.Float(-1.5)), f("c", model.Float(.5)), f("d", model.Float(1)),
				f("e", model.Float(1000)), f("f", model.Float(1000)), f("g", model.Float(-2.5e-3)), f("h", model.Float(7)),
			}, 1)},
			lines: []int{1},
		},
		{
			name:  "empty input",
			input: "",
		},
		{
			name:  "only comments and blank lines",
			input: "# a\n\n#b\r\n   ",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			prec := tc.prec
			if prec == 0 {
				prec = Nanosecond
			}
			got, lines, errs := Parse([]byte(tc.input), prec, def)
			if len(errs) > 0 {
				t.Fatalf("input %q: got errors %v, want none", tc.input, errs)
			}
			if d := diffPoints(got, tc.want); d != "" {
				t.Errorf("input %q: got %s", tc.input, d)
			}
			if fmt.Sprint(lines) != fmt.Sprint(tc.lines) && len(lines)+len(tc.lines) > 0 {
				t.Errorf("input %q: got lines %v, want %v", tc.input, lines, tc.lines)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		input string
		line  int
		col   int
		want  string // a part of the reason
	}{
		{"cpu,host=serverA,region value=1i", 1, 24, `expected '=' after tag key "region", found ' '`},
		{"cpu,host=a,region=b,host=c v=1", 1, 21, `tag key "host" appears more than once`},
		{"cpu", 1, 4, "expected a space and fields after measurement name"},
		{"cpu ", 1, 5, "expected field key, found end of input"},
		{"cpu\tv=1", 1, 4, `expected ',' or ' ' after measurement name "cpu", found '\t'`},
		{"\tcpu v=1", 1, 1, `invalid character '\t' at start of measurement name`},
		{"#cpu v=1\x01", 1, 9, `comment holds control character '\x01'`},
		{"cpu, v=1", 1, 5, `expected tag key after ',', found ' '`},
		{"cpu,", 1, 5, "expected tag key after ',', found end of input"},
		{"cpu,a v=1", 1, 6, `expected '=' after tag key "a", found ' '`},
		{"cpu,a= v=1", 1, 7, `expected value after tag key "a", found ' '`},
		{"cpu,a=b=c v=1", 1, 8, `expected ',' or ' ' after value of tag "a", found '='`},
		{"cpu,a=b", 1, 8, "expected a space and fields after tags, found end of input"},
		{"cpu,a=b ", 1, 9, "expected field key, found end of input"},
		{"cpu v", 1, 6, `expected '=' after field key "v", found end of input`},
		{"cpu v=", 1, 7, `expected value after field key "v", found end of input`},
		{"cpu v=1,", 1, 9, "expected field key, found end of input"},
		{"cpu v=1, w=2", 1, 9, "expected field key, found ' '"},
		{"cpu v=1;w=2", 1, 7, `invalid number "1;w=2" for field "v"`},
		{"cpu v=\"x\"y", 1, 10, `expected ',' or ' ' after value of field "v", found 'y'`},
		{"cpu v=abc", 1, 7, `invalid value for field "v": found 'a'`},
		{"cpu v=+1", 1, 7, `invalid value for field "v": found '+'`},
		{"cpu v=tru", 1, 7, `invalid boolean "tru" for field "v"`},
		{"cpu v=1.2.3", 1, 7, `invalid number "1.2.3"`},
		{"cpu v=1e", 1, 7, `invalid number "1e"`},
		{"cpu v=0x10", 1, 7, `invalid number "0x10"`},
		{"cpu v=1_000", 1, 7, `invalid number "1_000"`},
		{"cpu v=-inf", 1, 7, `invalid number "-inf"`},
		{"cpu v=1e400", 1, 7, `float "1e400" for field "v" is out of range`},
		{"cpu v=1.5i", 1, 7, `invalid integer "1.5i"`},
		{"cpu v=9223372036854775808i", 1, 7, `integer "9223372036854775808i" for field "v" is out of range`},
		{"cpu v=-1u", 1, 7, `invalid unsigned integer "-1u"`},
		{"cpu v=18446744073709551616u", 1, 7, "is out of range"},
		{"cpu v=\"abc", 1, 7, `missing closing '"' of string value for field "v"`},
		{"cpu v=\"a\nb\xffc\" 1", 2, 2, `invalid UTF-8 in string value for field "v"`},
		{"c\xffpu v=1", 1, 2, `invalid UTF-8 in measurement name "c\xffpu"`},
		{"cpu,k\xff=v v=1", 1, 6, "invalid UTF-8 in tag key"},
		{"cpu,k=v\xff v=1", 1, 8, "invalid UTF-8 in tag value"},
		{"cpu \xff=1", 1, 5, "invalid UTF-8 in field key"},
		{"cpu v=1 12x", 1, 11, "expected end of line after timestamp, found 'x'"},
		{"cpu v=1 1 2", 1, 11, "expected end of line after timestamp, found '2'"},
		{"cpu v=1 x", 1, 9, "expected timestamp or end of line, found 'x'"},
		{"cpu v=1 1-2", 1, 9, `invalid timestamp "1-2"`},
		{"cpu v=1 -", 1, 9, `invalid timestamp "-"`},
		{"cpu v=1 9223372036854775808", 1, 9, `timestamp "9223372036854775808" is out of range at precision ns`},
		{"cpu v=1\rx", 1, 8, `expected timestamp or end of line, found '\r'`},
		{"cpu v=1 1\r\r\n", 1, 10, `expected end of line after timestamp, found '\r'`},
		{"\r\ncpu v=1\n\rcpu v=1", 3, 1, `invalid character '\r' at start of measurement name`},
		{"cpu v=\"a\nb\" 1\n  cpu v=x", 3, 9, `invalid value for field "v"`},
	}
	for _, tc := range tests {
		got, _, errs := Parse([]byte(tc.input), Nanosecond, 0)
		if len(errs) != 1 {
			t.Errorf("input %q: got points %v and errors %v, want one error", tc.input, got, errs)
			continue
		}
		e := errs[0]
		if e.Line != tc.line || e.Column != tc.col || !strings.Contains(e.Reason, tc.want) {
			t.Errorf("input %q: got line %d, column %d, reason %q; want line %d, column %d, reason containing %q",
				tc.input, e.Line, e.Column, e.Reason, tc.line, tc.col, tc.want)
		}
	}
}

func TestParseSeveralBadLines(t *testing.T) {
	input := "m v=1 1\n" + // 1: good
		"m v=x 2\n" + // 2: bad value
		"\n" + // 3: blank
		"m,a=1,a=2 v=1 3\n" + // 4: duplicate tag
		"m v=1 4\r\n" + // 5: good
		"m s=\"two\nlines\" 5\n" + // 6-7: good
		"m v=1 6 7\n" + // 8: text after timestamp
		"# comment\n" + // 9
		"m v=1 8" // 10: good
	got, lines, errs := Parse([]byte(input), Nanosecond, 0)
	var times []int64
	for _, p := range got {
		times = append(times, p.Time)
	}
	if fmt.Sprint(times) != "[1 4 5 8]" || fmt.Sprint(lines) != "[1 5 6 10]" {
		t.Errorf("input %q: got times %v on lines %v, want times [1 4 5 8] on lines [1 5 6 10]", input, times, lines)
	}
	var pos []string
	for _, e := range errs {
		pos = append(pos, fmt.Sprintf("%d:%d", e.Line, e.Column))
	}
	if want := "[2:5 4:7 8:9]"; fmt.Sprint(pos) != want {
		t.Errorf("input %q: got errors at %v (%v), want %s", input, pos, errs, want)
	}
}

func TestParseStopsAfterMaxErrors(t *testing.T) {
	input := strings.Repeat("bad\n", MaxErrors+10) + "m v=1 1\n"
	got, _, errs := Parse([]byte(input), Nanosecond, 0)
	if len(errs) != MaxErrors || len(got) != 0 {
		t.Errorf("input of %d bad lines and a good one: got %d errors and %d points, want %d errors and 0 points",
			MaxErrors+10, len(errs), len(got), MaxErrors)
	}
	if last := errs[len(errs)-1]; last.Line != MaxErrors {
		t.Errorf("input of %d bad lines: got last error on line %d, want %d", MaxErrors+10, last.Line, MaxErrors)
	}
}

func TestParsePrecision(t *testing.T) {
	tests := []struct {
		in   string
		want Precision
	}{
		{"", Nanosecond}, {"n", Nanosecond}, {"ns", Nanosecond}, {"1ns", Nanosecond},
		{"u", Microsecond}, {"us", Microsecond}, {"µ", Microsecond}, {"µs", Microsecond},
		{"1us", Microsecond}, {"1µs", Microsecond}, {"\u03bcs", Microsecond},
		{"ms", Millisecond}, {"1ms", Millisecond},
		{"s", Second}, {"1s", Second},
		{"m", Minute}, {"h", Hour},
	}
	for _, tc := range tests {
		got, err := ParsePrecision(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("input %q: got %v, %v; want %v, nil", tc.in, got, err, tc.want)
		}
	}
	for _, in := range []string{"x", "1m", "NS", "2s", "seconds", " s"} {
		got, err := ParsePrecision(in)
		if err == nil {
			t.Errorf("input %q: got %v, nil; want an error", in, got)
			continue
		}
		if msg := err.Error(); !strings.Contains(msg, fmt.Sprintf("%q", in)) || !strings.Contains(msg, `"ms"`) {
			t.Errorf("input %q: got error %q, want one naming the value and the accepted spellings", in, msg)
		}
	}
}

func TestParseTimestampPrecision(t *testing.T) {
	tests := []struct {
		input   string
		prec    Precision
		def     int64
		want    int64
		wantErr bool
	}{
		{"m v=1 5", Nanosecond, 0, 5, false},
		{"m v=1 5", Microsecond, 0, 5_000, false},
		{"m v=1 5", Millisecond, 0, 5_000_000, false},
		{"m v=1 5", Second, 0, 5_000_000_000, false},
		{"m v=1 5", Minute, 0, 300_000_000_000, false},
		{"m v=1 5", Hour, 0, 18_000_000_000_000, false},
		{"m v=1 -5", Second, 0, -5_000_000_000, false},
		{"m v=1 9223372036", Second, 0, 9_223_372_036_000_000_000, false},
		{"m v=1 9223372037", Second, 0, 0, true},
		{"m v=1 -9223372036", Second, 0, -9_223_372_036_000_000_000, false},
		{"m v=1 -9223372037", Second, 0, 0, true},
		{"m v=1 9223372036854775807", Nanosecond, 0, math.MaxInt64, false},
		{"m v=1 9223372036854775807", Microsecond, 0, 0, true},
		{"m v=1 99999999999999999999999", Nanosecond, 0, 0, true},
		{"m v=1", Millisecond, 1_234_567_890, 1_234_000_000, false},
		{"m v=1", Second, -1, -1_000_000_000, false},
		{"m v=1", Second, math.MinInt64, math.MinInt64 + 854_775_808, false},
		{"m v=1", Precision(0), 17, 17, false},
	}
	for _, tc := range tests {
		got, _, errs := Parse([]byte(tc.input), tc.prec, tc.def)
		if tc.wantErr {
			if len(errs) == 0 {
				t.Errorf("input %q at %v: got %v, want an error", tc.input, tc.prec, got)
			}
			continue
		}
		if len(errs) > 0 || len(got) != 1 || got[0].Time != tc.want {
			t.Errorf("input %q at %v, default %d: got %v, %v; want time %d", tc.input, tc.prec, tc.def, got, errs, tc.want)
		}
	}
}

func TestLineErrorString(t *testing.T) {
	e := &LineError{Line: 3, Column: 14, Reason: `expected '=' after tag key "region"`}
	if got, want := e.Error(), `line 3, column 14: expected '=' after tag key "region"`; got != want {
		t.Errorf("LineError%+v: got %q, want %q", *e, got, want)
	}
}

func TestAppendPoint(t *testing.T) {
	tests := []struct {
		p    model.Point
		want string
	}{
		{pt("cpu", nil, []model.Field{f("v", model.Float(1))}, 0), "cpu v=1 0\n"},
		{pt("c pu,x=y", []string{"a b", "c,d=e"}, []model.Field{f("f=g", model.Int(-3))}, -1), `c\ pu\,x=y,a\ b=c\,d\=e f\=g=-3i -1` + "\n"},
		{pt("m", []string{"k", `v\x`}, []model.Field{f("s", model.String("a\"b\\c\nd"))}, 1), `m,k=v\x s="a\"b\\c` + "\nd\" 1\n"},
		{pt("m", nil, []model.Field{f("a", model.Uint(7)), f("b", model.Bool(false)), f("c", model.Float(6632243))}, 2), "m a=7u,b=false,c=6.632243e+06 2\n"},
	}
	for _, tc := range tests {
		if got := string(AppendPoint([]byte("x"), &tc.p)); got != "x"+tc.want {
			t.Errorf("point %+v: got %q, want %q", tc.p, got, "x"+tc.want)
		}
	}
}

func TestValidate(t *testing.T) {
	ok := []model.Field{f("v", model.Float(1))}
	tests := []struct {
		p    model.Point
		want string // a part of the error, or "" for valid
	}{
		{pt("cpu", []string{"a", "b"}, ok, 0), ""},
		{pt("", nil, ok, 0), "empty measurement name"},
		{pt("#cpu", nil, ok, 0), "starts with '#'"},
		{pt("c\tpu", nil, ok, 0), `holds '\t'`},
		{pt(`cpu\`, nil, ok, 0), "ends with a backslash"},
		{pt("cpu", []string{"a", ""}, ok, 0), "empty tag value"},
		{pt("cpu", []string{"a", "x\ny"}, ok, 0), `holds '\n'`},
		{pt("cpu", []string{"b", "1", "a", "2"}, ok, 0), "not sorted"},
		{pt("cpu", nil, nil, 0), "no fields"},
		{pt("cpu", nil, []model.Field{f("v", model.Float(math.NaN()))}, 0), "NaN"},
		{pt("cpu", nil, []model.Field{f("v", model.Float(math.Inf(1)))}, 0), "+Inf"},
		{pt("cpu", nil, []model.Field{f("v", model.Null)}, 0), "no value"},
		{pt("cpu", nil, []model.Field{f("v", model.Int(1)), f("v", model.Int(2))}, 0), "more than once"},
		{pt("cpu", nil, []model.Field{f("v", model.String("\xff"))}, 0), "invalid UTF-8"},
	}
	for _, tc := range tests {
		err := Validate(&tc.p)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("point %+v: got %v, want nil", tc.p, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("point %+v: got %v, want an error containing %q", tc.p, err, tc.want)
		}
	}
}

// TestRepeatedHeads checks that lines repeating an earlier line's
// measurement and tags parse exactly as when they are alone, and share the
// earlier line's tags.
func TestRepeatedHeads(t *testing.T) {
	for _, line := range []string{
		"cpu,host=a,region=b v=1i 10",
		`c\ p\,u,t\ k\,\==v\ a\,l\= f=1 10`,
		`m\ x v=1 10`,
		`m\\x,k=a\\b v=1 10`,
		`m,k=a\ b v=1 10`,
		`m,z=1,a=2 v=1 10`,
		`m v=1 10`,
	} {
		alone, _, errs := Parse([]byte(line), Nanosecond, 0)
		if len(errs) > 0 || len(alone) != 1 {
			t.Fatalf("%q: %d points, errors %v", line, len(alone), errs)
		}
		pts, _, errs := Parse([]byte(line+"\n"+line+"\n"+line), Nanosecond, 0)
		if len(errs) > 0 || len(pts) != 3 {
			t.Fatalf("%q three times: %d points, errors %v", line, len(pts), errs)
		}
		for i := range pts {
			if !samePoint(&pts[i], &alone[0]) {
				t.Errorf("%q, copy %d: got %+v, want %+v", line, i, pts[i], alone[0])
			}
		}
		if len(alone[0].Tags) > 0 && &pts[2].Tags[0] != &pts[0].Tags[0] {
			t.Errorf("%q: a repeated line got its own tags", line)
		}
	}
	// A line whose section repeats but whose rest is bad still fails.
	_, _, errs := Parse([]byte("m,k=v a=1 1\nm,k=v a=x 2\nm,k=v a=1 3"), Nanosecond, 0)
	if len(errs) != 1 || errs[0].Line != 2 {
		t.Errorf("got errors %v, want one on line 2", errs)
	}
}
