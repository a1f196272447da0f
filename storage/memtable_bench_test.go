package storage

import (
	"testing"

	"github.com/soltixdb/soltix/model"
)

// BenchmarkMemColumnAppend appends to 1,000 columns in step, one value
// each per batch as a fleet's writes do, for 18 batches (the 1 M-series
// shape) and for 1,000 (a long-lived column).
//
//	go test -run '^$' -bench MemColumnAppend -count 6 ./storage
func BenchmarkMemColumnAppend(b *testing.B) {
	for _, batches := range []int{18, 1000} {
		b.Run("batches="+itoa(batches), func(b *testing.B) {
			for b.Loop() {
				cols := make([]memColumn, 1000)
				for i := range cols {
					cols[i] = newMemColumn("v", model.KindInt)
				}
				for k := range batches {
					for i := range cols {
						cols[i].append(nil, int64(k), model.Int(int64(k)), uint64(k+1))
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*1000*batches), "ns/value")
		})
	}
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var buf [20]byte
	i := len(buf)
	for ; n > 0; n /= 10 {
		i--
		buf[i] = byte('0' + n%10)
	}
	return string(buf[i:])
}
