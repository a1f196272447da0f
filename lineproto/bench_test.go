package lineproto

import (
	"fmt"
	"strings"
	"testing"
)

// tsbsCPU returns n lines shaped like the TSBS cpu-only data set: ten tags
// and ten integer fields per line, 100 hosts, one reading per host every
// ten seconds.
func tsbsCPU(n int) []byte {
	var b strings.Builder
	regions := []string{"eu-west-1", "us-east-1", "us-west-2", "ap-southeast-1"}
	for i := 0; i < n; i++ {
		h := i % 100
		fmt.Fprintf(&b, "cpu,hostname=host_%d,region=%s,datacenter=%s%c,rack=%d,os=Ubuntu16.04LTS,arch=x64,team=SF,service=%d,service_version=%d,service_environment=production ",
			h, regions[h%4], regions[h%4], 'a'+byte(h%3), h%97, h%19, h%2)
		for j := 0; j < 10; j++ {
			if j > 0 {
				b.WriteByte(',')
			}
			name := []string{"usage_user", "usage_system", "usage_idle", "usage_nice", "usage_iowait",
				"usage_irq", "usage_softirq", "usage_steal", "usage_guest", "usage_guest_nice"}[j]
			fmt.Fprintf(&b, "%s=%di", name, (i*7+j*13)%100)
		}
		fmt.Fprintf(&b, " %d\n", 1451606400000000000+int64(i/100)*10_000_000_000)
	}
	return []byte(b.String())
}

func BenchmarkParse(b *testing.B) {
	const lines = 10_000
	buf := tsbsCPU(lines)
	if _, _, errs := Parse(buf, Nanosecond, 0); len(errs) > 0 {
		b.Fatalf("benchmark input: %v", errs[0])
	}
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		points, _, _ := Parse(buf, Nanosecond, 0)
		if len(points) != lines {
			b.Fatalf("got %d points, want %d", len(points), lines)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*lines), "ns/line")
}

func BenchmarkAppendPoint(b *testing.B) {
	const lines = 10_000
	buf := tsbsCPU(lines)
	points, _, _ := Parse(buf, Nanosecond, 0)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	var out []byte
	for b.Loop() {
		out = out[:0]
		for i := range points {
			out = AppendPoint(out, &points[i])
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*lines), "ns/line")
}

// BenchmarkParseManyTags parses a line with 100,000 tags, which is refused
// after model.MaxTagsPerPoint of them (issue 11, item 13).
func BenchmarkParseManyTags(b *testing.B) {
	var line strings.Builder
	line.WriteString("m")
	for i := range 100_000 {
		fmt.Fprintf(&line, ",k%d=v", i)
	}
	line.WriteString(" f=1 1\n")
	buf := []byte(line.String())
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		Parse(buf, Nanosecond, 0)
	}
}
