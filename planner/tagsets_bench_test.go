package planner

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/soltixdb/soltix/query"
)

// BenchmarkWhereORChain runs SELECT count(v) with an OR of n tag
// equalities over n series: the cost of series selection grows with n, not
// n² (issue 11, item 13).
func BenchmarkWhereORChain(b *testing.B) {
	for _, n := range []int{2000, 8000, 32000} {
		src := newManySeries(n)
		var w strings.Builder
		for i := range n {
			if i > 0 {
				w.WriteString(" OR ")
			}
			fmt.Fprintf(&w, "host = 'h%d'", i)
		}
		stmt, err := query.Parse("SELECT count(v) FROM c WHERE " + w.String())
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("terms=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Execute(context.Background(), src, stmt, testNow); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
