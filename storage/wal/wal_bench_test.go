package wal

import (
	"testing"
)

// benchmarkAppend appends 1 KiB records from 8*GOMAXPROCS b.RunParallel
// goroutines, enough concurrent writers for group commit to matter even on a
// small machine, and reports records/s and records/batch; MB/s comes from
// b.SetBytes.
func benchmarkAppend(b *testing.B, sync SyncMode) {
	w, err := Open(b.TempDir(), testOptions(nil, sync))
	if err != nil {
		b.Fatal(err)
	}
	if err := w.Replay(func(uint64, []byte) error { return nil }); err != nil {
		b.Fatal(err)
	}
	rec := make([]byte, 1024)
	for i := range rec {
		rec[i] = byte(i)
	}
	b.SetBytes(int64(len(rec)))
	b.SetParallelism(8)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := w.Append(rec); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	st := w.Stats()
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
	if st.Batches > 0 {
		b.ReportMetric(float64(st.Records)/float64(st.Batches), "records/batch")
	}
}

func BenchmarkAppend(b *testing.B) { benchmarkAppend(b, SyncAlways) }

func BenchmarkAppendNoSync(b *testing.B) { benchmarkAppend(b, SyncNever) }
