package planner

import (
	"errors"
	"testing"
)

// TestSemanticErrorPositions checks that errors found after parsing carry
// the 1-based line:column of what they name, as syntax errors do.
func TestSemanticErrorPositions(t *testing.T) {
	src := testData()
	for _, tc := range []struct {
		q, pos string
	}{
		{"SELECT sum(s) FROM m", "1:8"},
		{"SELECT zz FROM m", "1:8"},
		{"SELECT v FROM m\nGROUP BY 1h", "2:10"},
		{"SELECT count(v) FROM m GROUP BY host, v", "1:39"},
		{"SELECT count(v) FROM m GROUP BY \"time\"", "1:33"},
		{"SELECT v FROM m WHERE host > 3", "1:23"},
		{"SELECT v FROM m WHERE host = 'a' OR\n  v = 'x'", "2:3"},
		{"SELECT v FROM m WHERE time > 'yesterday'", "1:23"},
		{"DELETE FROM m WHERE v > 1", "1:21"},
	} {
		t.Run(tc.q, func(t *testing.T) {
			_, err := execute(src, tc.q)
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("error %v, want *Error", err)
			}
			if got := pe.Pos.String(); got != tc.pos {
				t.Errorf("error %q at %s, want %s", pe.Msg, got, tc.pos)
			}
		})
	}
}
