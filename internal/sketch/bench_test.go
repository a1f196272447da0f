package sketch

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/soltixdb/soltix/internal/cputime"
)

// benchSketches are sketches of the shapes rollups encode: the 1d row of a
// TSBS cpu-only field (a day at 10 s of a random walk of integers
// clamped to 0–100), of an IoT-like float reading (a day at 10 s of a
// slow wave with noise), and of the 3 minutes at 10 s that
// storage/BenchmarkSeriesMemory writes (18 integers 0–99).
func benchSketches() []struct {
	name string
	sk   *Sketch
} {
	r := rand.New(rand.NewPCG(3, 4))
	cpu := &Sketch{}
	v := 50.0
	for range 8640 {
		v = math.Min(100, math.Max(0, v+r.NormFloat64()))
		cpu.Add(math.Round(v))
	}
	iot := &Sketch{}
	for i := range 8640 {
		iot.Add(20 + 5*math.Sin(float64(i)/1375) + 0.3*r.NormFloat64())
	}
	small := &Sketch{}
	for k := range 18 {
		small.Add(float64((7*123 + 13*4 + k*3) % 100))
	}
	return []struct {
		name string
		sk   *Sketch
	}{{"cpu-day", cpu}, {"iot-day", iot}, {"3min", small}}
}

// BenchmarkAppendCompact encodes the sketches rollup rows store.
//
//	go test -run '^$' -bench AppendCompact ./internal/sketch
func BenchmarkAppendCompact(b *testing.B) {
	for _, bs := range benchSketches() {
		b.Run(bs.name, func(b *testing.B) {
			var buf []byte
			b.ReportAllocs()
			c0 := cputime.Process()
			for range b.N {
				buf = bs.sk.AppendCompact(buf[:0])
			}
			b.ReportMetric(float64(cputime.Process()-c0)/float64(b.N), "cpu-ns/op")
			b.ReportMetric(float64(len(buf)), "bytes")
		})
	}
}
