package lineproto

import (
	"fmt"
	"strings"
	"testing"

	"github.com/soltixdb/soltix/model"
)

// TestParseWithChecks checks that what Checks refuse is reported like a
// syntax error: on its line, at the column of the name, key or field, in
// input order with the syntax errors, and that the next line is read.
func TestParseWithChecks(t *testing.T) {
	kinds := map[string]model.Kind{}
	checks := Checks{
		Collection: func(name string) string {
			if name == "bad" {
				return "bad collection"
			}
			return ""
		},
		Key: func(key string, tag bool) string {
			if key == "time" {
				return fmt.Sprintf("time key (tag %v)", tag)
			}
			return ""
		},
		Field: func(c, key string, kind model.Kind) string {
			if have, ok := kinds[c+"."+key]; ok && have != kind {
				return "clash " + key
			}
			kinds[c+"."+key] = kind
			return ""
		},
		Time: func(c string, t int64) string {
			if t == 13 {
				return "too old"
			}
			return ""
		},
	}
	body := strings.Join([]string{
		"m v=1 1",              // 1 good
		"m v= 2",               // 2 syntax error at column 5
		"m,h=a x=1i,v=\"s\" 3", // 3 clash of v at column 12
		"m v=true 4",           // 4 clash of v at column 3
		"bad v=1 5",            // 5 collection at column 1
		"m,a=1,time=2 v=1 6",   // 6 tag key at column 7
		"m v=1,time=1i 7",      // 7 field key at column 7
		"m v=2,v=\"s\",x=2i 8", // 8 the last v counts: column 7
		"m x=\"s\"",            // 9 clash of x (int before) at column 3
		"m v=3 10",             // 10 good
		"m y=1,y=\"s\" 2x",     // 11 the y of the last value is recorded, then a bad timestamp
		"m y=\"t\" 12",         // 12 good: y is a string now
		"m v=1 13",             // 13 refused by Time at column 7
		"m v=1",                // 14 no timestamp: not checked
	}, "\n")
	points, lines, errs := ParseWith([]byte(body), Nanosecond, 0, checks)
	want := []string{
		"line 2, column 5",
		"line 3, column 12: clash v",
		"line 4, column 3: clash v",
		"line 5, column 1: bad collection",
		"line 6, column 7: time key (tag true)",
		"line 7, column 7: time key (tag false)",
		"line 8, column 7: clash v",
		"line 9, column 3: clash x",
		"line 11, column 14",
		"line 13, column 7: too old",
	}
	if len(errs) != len(want) {
		t.Fatalf("errors %v, want %d", errs, len(want))
	}
	for i, w := range want {
		if !strings.HasPrefix(errs[i].Error(), w) {
			t.Errorf("error %d: %v, want %s...", i, errs[i], w)
		}
	}
	if fmt.Sprint(lines) != "[1 10 12 14]" || len(points) != 4 {
		t.Errorf("points on lines %v, want 1, 10, 12 and 14", lines)
	}
}

// TestFieldChecksPerShape checks that Checks.Field is asked about the
// fields of a line only when they are not among those of the last line of
// the same collection that passed, and that what it would refuse is still
// refused.
func TestFieldChecksPerShape(t *testing.T) {
	for _, tc := range []struct {
		name  string
		lines []string
		calls int      // calls of Checks.Field
		errs  []string // "line: reason"
	}{
		{"1000 lines of one shape", repeatLines(1000, "cpu,host=h%d a=1i,b=2i,c=3i %d"), 3, nil},
		{"subsets in order", []string{"m a=1i,b=2i,c=3i 1", "m a=1i,c=3i 2", "m b=2i 3", "m a=1i,b=2i,c=3i 4"}, 3, nil},
		{"another order", []string{"m a=1i,b=2i 1", "m b=2i,a=1i 2", "m a=1i,b=2i 3"}, 6, nil},
		{"two collections in turn", []string{"m a=1i 1", "n a=1 2", "m a=1i 3", "n a=1 4"}, 2, nil},
		{"a new field", []string{"m a=1i 1", "m a=1i,b=1i 2", "m a=1i 3"}, 3, nil},
		{"a clash after a shape passed", []string{"m a=1i,b=2i 1", "m a=1i,b=2i 2", "m a=1,b=2i 3", "m a=1i,b=2i 4"}, 3, []string{"3: clash a"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kinds := map[string]model.Kind{}
			calls := 0
			checks := Checks{Field: func(c, key string, kind model.Kind) string {
				calls++
				if have, ok := kinds[c+"."+key]; ok && have != kind {
					return "clash " + key
				}
				kinds[c+"."+key] = kind
				return ""
			}}
			_, _, errs := ParseWith([]byte(strings.Join(tc.lines, "\n")), Nanosecond, 0, checks)
			var got []string
			for _, e := range errs {
				got = append(got, fmt.Sprintf("%d: %s", e.Line, e.Reason))
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.errs) {
				t.Errorf("errors %q, want %q", got, tc.errs)
			}
			if calls != tc.calls {
				t.Errorf("Checks.Field called %d times, want %d", calls, tc.calls)
			}
		})
	}
}

// repeatLines returns n lines of format, given the line's index twice.
func repeatLines(n int, format string) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf(format, i%10, i+1)
	}
	return out
}
