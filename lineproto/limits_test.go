package lineproto

import (
	"fmt"
	"strings"
	"testing"

	"github.com/soltixdb/soltix/model"
)

// tagsLine returns "m,k0=v,k1=v,... f=1 1" with n tags whose values have
// vlen bytes.
func tagsLine(n, vlen int) string {
	var b strings.Builder
	b.WriteString("m")
	for i := range n {
		fmt.Fprintf(&b, ",k%d=%s", i, strings.Repeat("v", vlen))
	}
	b.WriteString(" f=1 1")
	return b.String()
}

// fieldsLine returns "m f0=1,f1=1,... 1" with n fields, keys taken mod
// distinct.
func fieldsLine(n, distinct int) string {
	var b strings.Builder
	b.WriteString("m ")
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "f%d=1", i%distinct)
	}
	b.WriteString(" 1")
	return b.String()
}

// keyCol returns the 1-based column of the key that follows the separator
// sep (",key=") in line.
func keyCol(line, sep string) int { return strings.Index(line, sep) + 2 }

func TestParseShapeLimits(t *testing.T) {
	long := strings.Repeat("k", model.MaxKeyBytes+1)
	tests := []struct {
		name, line string
		col        int    // column of the error; 0 when the line is accepted
		reason     string // part of the reason
	}{
		{"tags at the limit", tagsLine(model.MaxTagsPerPoint, 1), 0, ""},
		{"one tag too many", tagsLine(model.MaxTagsPerPoint+1, 1), keyCol(tagsLine(model.MaxTagsPerPoint+1, 1), ",k256="), "more than 256 tags (max tags per point)"},
		{"100,000 tags", tagsLine(100_000, 1), keyCol(tagsLine(300, 1), ",k256="), "more than 256 tags"},
		{"tag key too long", "m," + long + "=v f=1", 3, "tag key of 4097 bytes is longer than 4096 bytes (max key size)"},
		{"tag key at the limit", "m," + long[1:] + "=v f=1", 0, ""},
		{"field key too long", "m " + long + "=1", 3, "field key of 4097 bytes is longer than 4096 bytes (max key size)"},
		// 1 + 10×4,004 + 6×4,005 bytes fit; k16 brings 4,005 more.
		{"series key too long", tagsLine(20, 4000), keyCol(tagsLine(20, 4000), ",k16="), "longer than 65536 bytes (max series key size)"},
		{"series key at the limit", "m,k=" + strings.Repeat("v", model.MaxSeriesKeyBytes-4) + " f=1", 0, ""},
		{"series key one over", "m,k=" + strings.Repeat("v", model.MaxSeriesKeyBytes-3) + " f=1", 3, "max series key size"},
		{"fields at the limit", fieldsLine(model.MaxFieldsPerPoint, model.MaxFieldsPerPoint), 0, ""},
		{"repeated fields count once", fieldsLine(5000, model.MaxFieldsPerPoint), 0, ""},
		{"one field too many", fieldsLine(model.MaxFieldsPerPoint+1, model.MaxFieldsPerPoint+1), keyCol(fieldsLine(model.MaxFieldsPerPoint+1, model.MaxFieldsPerPoint+1), ",f1024="), "more than 1024 fields (max fields per point)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The bad line is reported and the next line still read.
			points, lines, errs := Parse([]byte(tt.line+"\nok v=1 2\n"), Nanosecond, 0)
			if tt.col == 0 {
				if len(errs) != 0 || len(points) != 2 {
					t.Fatalf("errors %v, %d points; want none and 2", errs, len(points))
				}
				return
			}
			if len(errs) != 1 || errs[0].Line != 1 || !strings.Contains(errs[0].Reason, tt.reason) {
				t.Fatalf("errors %v, want one on line 1 containing %q", errs, tt.reason)
			}
			if errs[0].Column != tt.col {
				t.Errorf("column %d, want %d (%s)", errs[0].Column, tt.col, errs[0].Reason)
			}
			if len(points) != 1 || lines[0] != 2 {
				t.Errorf("points %v on lines %v, want the one on line 2", points, lines)
			}
		})
	}
}

// TestArena checks that an Arena's arrays serve the next parse
// once Reuse is called, and that it keeps no more than its bound.
func TestArena(t *testing.T) {
	var b strings.Builder
	for i := range 3000 {
		fmt.Fprintf(&b, "m,h=%d a=%d,b=2i,c=\"s%d\"\n", i, i, i)
	}
	input := []byte(b.String())
	want, _, errs := Parse(input, Nanosecond, 0)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	var a Arena
	first, _, _ := ParseInto(&a, input, Nanosecond, 0, Checks{})
	firstField, firstTag := &first[0].Fields[0], &first[0].Tags[0]
	for i := range want {
		if !samePoint(&want[i], &first[i]) {
			t.Fatalf("point %d is %+v, want %+v", i, first[i], want[i])
		}
	}
	a.Reuse()
	again, _, _ := ParseInto(&a, []byte("m x=1\n"+b.String()), Nanosecond, 0, Checks{})
	if &again[0].Fields[0] != firstField {
		t.Error("the second parse did not reuse the first array")
	}
	for i := range want {
		if !samePoint(&want[i], &again[i+1]) {
			t.Fatalf("after Reuse: point %d is %+v, want %+v", i, again[i+1], want[i])
		}
	}
	if &again[1].Tags[0] != firstTag {
		t.Error("the second parse did not reuse the first tags array")
	}
	if r := a.fields.room; r == 0 || r > maxArenaItems {
		t.Errorf("arena keeps room for %d fields, want some and at most %d", r, maxArenaItems)
	}
	// The slice of points serves the next parse of as many lines or
	// fewer, and Reuse leaves nothing in it the points referred to.
	a.Reuse()
	for i, p := range a.points[:cap(a.points)] {
		if p.Collection != "" || p.Tags != nil || p.Fields != nil {
			t.Fatalf("after Reuse the arena's point %d still refers to %+v", i, p)
		}
	}
	third, thirdLines, _ := ParseInto(&a, input, Nanosecond, 0, Checks{})
	if &third[0] != &again[0] || len(thirdLines) != len(want) || thirdLines[5] != 6 {
		t.Errorf("the third parse did not reuse the points of the second (lines %d, line of point 5: %d)", len(thirdLines), thirdLines[5])
	}
	for i := range want {
		if !samePoint(&want[i], &third[i]) {
			t.Fatalf("third parse: point %d is %+v, want %+v", i, third[i], want[i])
		}
	}

	// A batch larger than the bound gets arrays beyond it, not kept.
	var big Arena
	var lb strings.Builder
	lb.WriteString("m f0=1")
	for i := 1; i < 200; i++ {
		fmt.Fprintf(&lb, ",f%d=1", i)
	}
	lb.WriteString("\n")
	line := lb.String()
	n := 2*maxArenaItems/200 + 1
	pts, _, errs := ParseInto(&big, []byte(strings.Repeat(line, n)), Nanosecond, 0, Checks{})
	if len(errs) > 0 || len(pts) != n {
		t.Fatalf("got %d points and %v, want %d points", len(pts), errs, n)
	}
	if r := big.fields.room; r > maxArenaItems {
		t.Errorf("arena keeps room for %d fields, want at most %d", r, maxArenaItems)
	}
}
