package storage

import (
	"fmt"
	"runtime"
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

// BenchmarkMemColumnHeap appends float values to series of ten fields in
// three shapes (a value per column; 18 values each a batch of its own, the
// 1 M-series load; 4,000 values ten per batch, 100 hosts' TSBS) and
// reports the live heap they hold per field series and per value, and the
// memory bound's estimate of it (memSeries.recount).
//
//	go test -run '^$' -bench MemColumnHeap -benchtime 1x ./storage
func BenchmarkMemColumnHeap(b *testing.B) {
	names := []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"}
	for _, tc := range []struct{ series, values, perBatch int }{{100_000, 1, 1}, {100_000, 18, 1}, {1000, 4000, 10}} {
		b.Run(fmt.Sprintf("series=%d/values=%d/per-batch=%d", tc.series, tc.values, tc.perBatch), func(b *testing.B) {
			for b.Loop() {
				var a slabs
				h0 := liveHeap()
				series := make([]*memSeries, tc.series)
				for i := range series {
					series[i] = newMemSeries(len(names))
				}
				for v := range tc.values {
					for _, ms := range series {
						for f, name := range names {
							mc := ms.find(name, f)
							if mc == nil {
								mc, _ = ms.add(newMemColumn(name, model.KindFloat))
							}
							mc.append(&a, int64(v), model.Float(float64(v)), uint64(v/tc.perBatch+1))
						}
					}
				}
				est := 0
				for _, ms := range series {
					est += ms.recount()
				}
				heap := float64(liveHeap() - h0)
				runtime.KeepAlive(series)
				fs := float64(tc.series * len(names))
				b.ReportMetric(heap/fs, "heap-B/fseries")
				b.ReportMetric(heap/fs/float64(tc.values), "heap-B/value")
				b.ReportMetric(float64(est)/fs, "est-B/fseries")
			}
		})
	}
}
