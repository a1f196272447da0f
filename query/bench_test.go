package query

import (
	"fmt"
	"strings"
	"testing"
)

// benchStatements are the statements BenchmarkParse parses: a short one,
// a long one like those of the bench suite, and one with a large IN list.
var benchStatements = []struct{ name, in string }{
	{"short", `SELECT mean(value) FROM cpu WHERE host = 'a' AND time > now() - 1h GROUP BY 5m`},
	{"long", `SELECT max(usage_user), max(usage_system), max(usage_idle), max(usage_nice), max(usage_iowait), ` +
		`max(usage_irq), max(usage_softirq), max(usage_steal), max(usage_guest), max(usage_guest_nice) FROM cpu ` +
		`WHERE hostname IN ('host_1','host_9','host_17','host_33','host_45','host_58','host_71','host_88') ` +
		`AND time >= '2025-01-01T05:00:00Z' AND time < '2025-01-01T13:00:00Z' GROUP BY 1h`},
	{"in1000", func() string {
		hosts := make([]string, 1000)
		for i := range hosts {
			hosts[i] = fmt.Sprintf("'host_%d'", i)
		}
		return `SELECT count(usage_user) FROM cpu WHERE hostname IN (` + strings.Join(hosts, ", ") +
			`) AND time >= '2025-01-01T00:00:00Z' AND time < '2025-01-02T00:00:00Z' GROUP BY 1h, region`
	}()},
}

func BenchmarkParse(b *testing.B) {
	for _, bs := range benchStatements {
		b.Run(bs.name, func(b *testing.B) {
			if _, err := Parse(bs.in); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.SetBytes(int64(len(bs.in)))
			for b.Loop() {
				if _, err := Parse(bs.in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
