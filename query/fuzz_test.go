package query

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// FuzzParse checks that Parse never panics, that its errors are *Error with
// a position inside the input, and that every statement it accepts prints
// as text that parses back to an equal tree and prints the same again.
func FuzzParse(f *testing.F) {
	for _, tt := range parseTests {
		f.Add(tt.in)
	}
	for _, tt := range errorTests {
		f.Add(tt.in)
	}
	for _, tt := range fnParseTests {
		f.Add(tt.in)
	}
	for _, tt := range fnErrorTests {
		f.Add(tt.in)
	}
	for _, tt := range exprParseTests {
		f.Add(tt.in)
	}
	for _, tt := range exprErrorTests {
		f.Add(tt.in)
	}
	for _, tt := range analyticsParseTests {
		f.Add(tt.in)
	}
	for _, tt := range analyticsErrorTests {
		f.Add(tt.in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		first, err := Parse(in)
		if err != nil {
			var perr *Error
			if !errors.As(err, &perr) {
				t.Fatalf("Parse(%q) error %v is a %T, want *Error", in, err, err)
			}
			p := perr.Pos
			if p.Offset < 0 || p.Offset > len(in) || p.Line < 1 || p.Column < 1 {
				t.Fatalf("Parse(%q) error %v has position %+v outside the input", in, err, p)
			}
			if want := lineColumn(in, p.Offset); want != p {
				t.Fatalf("Parse(%q) error %v has position %+v, want %+v", in, err, p, want)
			}
			if !strings.HasPrefix(in[p.Offset:], perr.Token) {
				t.Fatalf("Parse(%q) error %v: token %q is not at offset %d", in, err, perr.Token, p.Offset)
			}
			return
		}
		text := first.String()
		second, err := Parse(text)
		if err != nil {
			t.Fatalf("Parse(%q) printed as %q, which does not parse: %v", in, text, err)
		}
		if again := second.String(); again != text {
			t.Fatalf("Parse(%q) printed as %q, then as %q", in, text, again)
		}
		stripPos(t, first)
		stripPos(t, second)
		if !reflect.DeepEqual(first, second) {
			t.Fatalf("Parse(%q) printed as %q, which parses differently\n got: %#v\nwant: %#v", in, text, tree(second), tree(first))
		}
	})
}

// lineColumn computes the position of a byte offset in s.
func lineColumn(s string, off int) Pos {
	line, col := 1, 1
	for i := 0; i < off; i++ {
		if s[i] == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return Pos{Offset: off, Line: line, Column: col}
}
