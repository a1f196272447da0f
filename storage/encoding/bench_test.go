package encoding

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// TestBytesPerValue logs the compressed size of the cpu and IoT sets (see
// datasets_test.go) in blocks of 1,000 and 4,000 values, times included.
// DESIGN §8 targets, whole files: cpu ≤ 0.48 bytes/value, IoT ≤ 1.0.
//
//	go test -run BytesPerValue -v ./storage/encoding
func TestBytesPerValue(t *testing.T) {
	hosts, trucks, points := 100, 100, 8640
	if testing.Short() {
		hosts, trucks, points = 10, 10, 2000
	}
	sets := []struct {
		name   string
		cols   []column
		fields []string
	}{
		{fmt.Sprintf("cpu %d hosts × %d points × 10 fields", hosts, points), cpuSet(hosts, points), cpuFields},
		{fmt.Sprintf("iot %d trucks × %d slots × 5 fields, 10%% jitter", trucks, points), iotSet(trucks, points),
			[]string{"latitude", "longitude", "velocity", "fuel", "temperature"}},
		{fmt.Sprintf("iot %d trucks × %d slots × 5 fields, no jitter", trucks, points), iotSetJitter(trucks, points, 0), nil},
		{fmt.Sprintf("iot %d trucks × %d slots × 5 fields, all jittered", trucks, points), iotSetJitter(trucks, points, 1), nil},
	}
	for _, set := range sets {
		for _, block := range []int{1000, 4000} {
			s := encodeSet(set.cols, block, "")
			t.Logf("%s, blocks of %d: %.3f bytes/value (times %.3f + values %.3f), %d values",
				set.name, block, s.perValue(), s.timesPerValue(), s.valsPerValue(), s.values)
			if block != 1000 {
				continue
			}
			for _, f := range set.fields {
				fs := encodeSet(set.cols, block, f)
				t.Logf("    %-16s %.3f bytes/value (values alone %.3f)", f, fs.perValue(), fs.valsPerValue())
			}
		}
	}
}

// benchCase is one block to encode and decode repeatedly.
type benchCase struct {
	name   string
	times  []int64
	ints   []int64
	uints  []uint64
	floats []float64
	bools  []bool
	strs   []string
}

func benchCases() []benchCase {
	const n = 1000
	cpu := cpuSet(1, n)[0]
	iot := iotSet(1, n+50)
	r := rand.New(rand.NewPCG(3, 3))
	walk := make([]float64, n)
	x := 100.0
	for i := range walk {
		x += r.NormFloat64()
		walk[i] = x
	}
	// The TSBS cpu-only values: a random walk with unit normal steps,
	// rounded (a Huffman code before colfile version 6, rANS since).
	iwalk := make([]int64, n)
	for i, v := range walk {
		iwalk[i] = int64(math.Round(v))
	}
	counter := make([]uint64, n)
	c := uint64(1 << 40)
	for i := range counter {
		c += uint64(r.IntN(5000))
		counter[i] = c
	}
	bools := make([]bool, n)
	for i := range bools {
		bools[i] = i/50%3 == 0
	}
	strs := make([]string, n)
	for i := range strs {
		strs[i] = []string{"ok", "ok", "ok", "warn", "error"}[r.IntN(5)]
	}
	return []benchCase{
		{name: "times/regular", times: cpu.ts},
		{name: "times/iot", times: iot[0].ts[:n]},
		{name: "ints/cpu", ints: cpu.ints},
		{name: "ints/walk", ints: iwalk},
		{name: "uints/counter", uints: counter},
		{name: "floats/iot-latitude", floats: iot[0].floats[:n]},
		{name: "floats/iot-temperature", floats: iot[4].floats[:n]},
		{name: "floats/gorilla-walk", floats: walk},
		{name: "bools/runs", bools: bools},
		{name: "strings/dict", strs: strs},
	}
}

func (c *benchCase) n() int {
	return max(len(c.times), len(c.ints), len(c.uints), len(c.floats), len(c.bools), len(c.strs))
}

func (c *benchCase) encode(dst []byte) []byte {
	switch {
	case c.times != nil:
		return AppendTimes(dst, c.times)
	case c.ints != nil:
		return AppendInts(dst, c.ints)
	case c.uints != nil:
		return AppendUints(dst, c.uints)
	case c.floats != nil:
		return AppendFloats(dst, c.floats)
	case c.bools != nil:
		return AppendBools(dst, c.bools)
	default:
		return AppendStrings(dst, c.strs)
	}
}

// decoder returns a function decoding b into reused buffers.
func (c *benchCase) decoder(b []byte) func() error {
	var is []int64
	var us []uint64
	var fs []float64
	var bs []bool
	var ss []string
	var err error
	switch {
	case c.times != nil:
		return func() error { is, err = DecodeTimes(is[:0], b); return err }
	case c.ints != nil:
		return func() error { is, err = DecodeInts(is[:0], b); return err }
	case c.uints != nil:
		return func() error { us, err = DecodeUints(us[:0], b); return err }
	case c.floats != nil:
		return func() error { fs, err = DecodeFloats(fs[:0], b); return err }
	case c.bools != nil:
		return func() error { bs, err = DecodeBools(bs[:0], b); return err }
	default:
		return func() error { ss, err = DecodeStrings(ss[:0], b); return err }
	}
}

func report(b *testing.B, c *benchCase, size int, elapsed time.Duration) {
	n := float64(c.n())
	b.ReportMetric(float64(size)/n, "bytes/value")
	b.ReportMetric(n*float64(b.N)/elapsed.Seconds(), "values/s")
	b.ReportMetric(float64(elapsed.Nanoseconds())/float64(b.N)/n, "ns/value")
}

// BenchmarkEncode encodes 1,000-value blocks of each kind.
//
//	go test -run '^$' -bench 'Encode|Decode' -benchmem -count 6 ./storage/encoding
func BenchmarkEncode(b *testing.B) {
	for _, c := range benchCases() {
		b.Run(c.name, func(b *testing.B) {
			var buf []byte
			start := time.Now()
			for b.Loop() {
				buf = c.encode(buf[:0])
			}
			report(b, &c, len(buf), time.Since(start))
		})
	}
}

// BenchmarkDecode decodes the blocks of BenchmarkEncode into reused slices.
func BenchmarkDecode(b *testing.B) {
	for _, c := range benchCases() {
		b.Run(c.name, func(b *testing.B) {
			buf := c.encode(nil)
			dec := c.decoder(buf)
			start := time.Now()
			for b.Loop() {
				if err := dec(); err != nil {
					b.Fatal(err)
				}
			}
			report(b, &c, len(buf), time.Since(start))
		})
	}
}
