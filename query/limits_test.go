package query

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// chain returns n conditions joined by op, as in host = 'h0' OR host = 'h1'.
func chain(n int, op string) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteString(" " + op + " ")
		}
		fmt.Fprintf(&b, "host = 'h%d'", i)
	}
	return b.String()
}

func TestParseLimits(t *testing.T) {
	const sel = "SELECT * FROM c WHERE "
	inList := func(n int) string {
		var b strings.Builder
		b.WriteString("host IN (")
		for i := 0; i < n; i++ {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, "'%d'", i)
		}
		return b.String() + ")"
	}
	tests := []struct {
		name, in string
		pos, msg string // msg "" means the statement is accepted
	}{
		{"nesting at the limit", sel + strings.Repeat("(", MaxNesting) + "a = 1" + strings.Repeat(")", MaxNesting), "", ""},
		{"nesting over the limit", sel + strings.Repeat("(", MaxNesting+1) + "a = 1" + strings.Repeat(")", MaxNesting+1), "1:87", "nested deeper than 64 (max nesting)"},
		{"1M unclosed parentheses", sel + strings.Repeat("(", 1_000_000), "1:87", "nested deeper than 64 (max nesting)"},
		{"nesting on a later line", sel + "\n  " + strings.Repeat("(", 100), "2:67", "nested deeper than 64"},
		{"parentheses in strings do not count", sel + "a = '" + strings.Repeat("(", 100) + "' AND b = 'it''s(' AND c =~ /" + strings.Repeat("(", 100) + "x" + strings.Repeat(")", 100) + "/", "", ""},
		{"parentheses in quoted names do not count", sel + `"` + strings.Repeat("(", 100) + `" = 1`, "", ""},
		{"parentheses in comments do not count", sel + "a = 1 -- " + strings.Repeat("(", 100) + "\n", "", ""},
		{"statement over the size limit", sel + "a = '" + strings.Repeat("x", MaxStatementBytes) + "'", "1:1", "more than the limit of 2097152 bytes (max statement size)"},
		{"OR chain at the term limit", sel + chain(MaxTerms, "OR"), "", ""},
		{"AND chain over the term limit", sel + chain(MaxTerms+1, "AND"), "", "more than 100000 terms (max terms"},
		{"IN list over the term limit", sel + inList(MaxTerms+1), "", "more than 100000 terms (max terms"},
		{"SELECT list over the term limit", "SELECT " + strings.Repeat("a,", MaxTerms) + "a FROM c", "", "more than 100000 terms (max terms"},
		{"keywords in strings do not count", sel + "a = '" + strings.Repeat(" or", MaxTerms) + "'", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, err := Parse(tt.in)
			if tt.msg == "" {
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				if st == nil {
					t.Fatal("Parse returned no statement")
				}
				return
			}
			var perr *Error
			if !errors.As(err, &perr) {
				t.Fatalf("Parse error %v (%T), want *Error containing %q", err, err, tt.msg)
			}
			if !strings.Contains(perr.Message, tt.msg) || (tt.pos != "" && perr.Pos.String() != tt.pos) {
				t.Errorf("Parse error %s: %s, want %s: ...%s...", perr.Pos, perr.Message, tt.pos, tt.msg)
			}
		})
	}
}

// TestParseLongChainIsLinear parses chains of 100,000 conditions. Positions
// used to be computed by counting the lines before each condition, which
// made the parse quadratic: 38 s for one chain, so 77 s for the two. The
// deadline is generous; a linear parse takes about a second each.
func TestParseLongChainIsLinear(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		for _, op := range []string{"OR", "AND"} {
			st, err := Parse("SELECT * FROM c WHERE " + chain(MaxTerms, op))
			if err != nil {
				done <- err
				return
			}
			if got := len(Operands(st.Select.Where, op)); got != MaxTerms {
				done <- fmt.Errorf("%s chain has %d operands, want %d", op, got, MaxTerms)
				return
			}
			// Printing does not recurse once per condition either.
			if s := st.String(); !strings.HasSuffix(s, fmt.Sprintf("host = 'h%d'", MaxTerms-1)) {
				done <- fmt.Errorf("printed %q...", s[:100])
				return
			}
		}
		done <- nil
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-ctx.Done():
		t.Fatal("parsing two chains of 100000 conditions did not finish within 60s")
	}
}
