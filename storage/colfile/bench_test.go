package colfile

import (
	"fmt"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"testing"

	"github.com/soltixdb/soltix/model"
)

const benchPoints = 100_000

// benchColumn returns a random-walk column of benchPoints values at a 10 s
// interval, of kind float or int.
func benchColumn(kind model.Kind) model.Column {
	rng := rand.New(rand.NewSource(42))
	col := model.Column{Name: "value", Kind: kind, Times: times(benchPoints, 1_700_000_000_000_000_000, 10_000_000_000)}
	f, i := 100.0, int64(1_000_000)
	for range benchPoints {
		switch kind {
		case model.KindFloat:
			f += rng.NormFloat64()
			col.Floats = append(col.Floats, f)
		case model.KindInt:
			i += rng.Int63n(201) - 100
			col.Ints = append(col.Ints, i)
		}
	}
	return col
}

var benchKinds = []struct {
	name string
	kind model.Kind
}{{"float", model.KindFloat}, {"int", model.KindInt}}

func BenchmarkWrite(b *testing.B) {
	for _, k := range benchKinds {
		b.Run(k.name, func(b *testing.B) {
			series := []SeriesData{{Tags: tags("host", "a"), Columns: []model.Column{benchColumn(k.kind)}}}
			path := filepath.Join(b.TempDir(), "bench.col")
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Write(path, "bench", 0, 1, series); err != nil {
					b.Fatal(err)
				}
			}
			reportSizes(b, path, benchPoints)
		})
	}
}

func BenchmarkReadColumn(b *testing.B) {
	for _, k := range benchKinds {
		b.Run(k.name, func(b *testing.B) {
			r, path := openBench(b, k.kind)
			b.ReportAllocs()
			for b.Loop() {
				col, err := r.ReadColumn(0, 0)
				if err != nil {
					b.Fatal(err)
				}
				if col.Len() != benchPoints {
					b.Fatalf("got %d points, want %d", col.Len(), benchPoints)
				}
			}
			reportSizes(b, path, benchPoints)
		})
	}
}

// BenchmarkReadRange reads 1% of a column from its middle.
func BenchmarkReadRange(b *testing.B) {
	for _, k := range benchKinds {
		b.Run(k.name, func(b *testing.B) {
			r, _ := openBench(b, k.kind)
			info := r.SeriesAt(0).Columns[0]
			span := info.MaxTime - info.MinTime
			lo := info.MinTime + span/2
			hi := lo + span/100
			all, err := r.ReadColumn(0, 0)
			if err != nil {
				b.Fatal(err)
			}
			part := all.Range(lo, hi)
			want := part.Len()
			b.ReportAllocs()
			for b.Loop() {
				col, err := r.ReadRange(0, 0, lo, hi)
				if err != nil {
					b.Fatal(err)
				}
				if col.Len() != want {
					b.Fatalf("got %d points, want %d", col.Len(), want)
				}
			}
		})
	}
}

// openBench writes benchColumn(kind) to a file and opens it.
func openBench(b *testing.B, kind model.Kind) (*Reader, string) {
	b.Helper()
	series := []SeriesData{{Tags: tags("host", "a"), Columns: []model.Column{benchColumn(kind)}}}
	path := filepath.Join(b.TempDir(), "bench.col")
	if _, err := Write(path, "bench", 0, 1, series); err != nil {
		b.Fatal(err)
	}
	r, err := Open(path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = r.Close() })
	return r, path
}

// reportSizes reports values/s and the file's bytes per value.
func reportSizes(b *testing.B, path string, values int) {
	b.Helper()
	st, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(values)*float64(b.N)/b.Elapsed().Seconds(), "values/s")
	b.ReportMetric(float64(st.Size())/float64(values), "bytes/value")
}

// tsbsStart is TSBS's default start time, 2016-01-01T00:00:00Z.
const tsbsStart = 1_451_606_400_000_000_000

// cpuDataset returns a TSBS-like cpu-only day: 100 hosts with TSBS's ten
// tags, each with ten integer usage fields doing a clamped random walk in
// 0..100 (a float state moved by N(0, 1) steps, truncated, as TSBS
// generates them), one point per 10 s: 8,640 points and 86,400 values per
// host, 8.64 M values in all.
func cpuDataset() ([]SeriesData, int) {
	rng := rand.New(rand.NewSource(1))
	regions := []string{"us-east-1", "us-west-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-1", "ap-southeast-2", "ap-northeast-1", "sa-east-1"}
	oses := []string{"Ubuntu16.10", "Ubuntu16.04LTS", "Ubuntu15.10"}
	arches := []string{"x64", "x86"}
	teams := []string{"SF", "NYC", "LON", "CHI"}
	envs := []string{"production", "staging", "test"}
	fields := []string{"usage_user", "usage_system", "usage_idle", "usage_nice", "usage_iowait", "usage_irq", "usage_softirq", "usage_steal", "usage_guest", "usage_guest_nice"}
	const hosts, points = 100, 8640
	ts := times(points, tsbsStart, 10_000_000_000)
	var out []SeriesData
	for h := range hosts {
		region := regions[rng.Intn(len(regions))]
		s := SeriesData{Tags: tags(
			"hostname", fmt.Sprintf("host_%d", h),
			"region", region,
			"datacenter", fmt.Sprintf("%s%c", region, 'a'+rng.Intn(3)),
			"rack", fmt.Sprint(rng.Intn(100)),
			"os", oses[rng.Intn(len(oses))],
			"arch", arches[rng.Intn(len(arches))],
			"team", teams[rng.Intn(len(teams))],
			"service", fmt.Sprint(rng.Intn(20)),
			"service_version", fmt.Sprint(rng.Intn(2)),
			"service_environment", envs[rng.Intn(len(envs))],
		)}
		for _, f := range fields {
			state := rng.Float64() * 100
			vs := make([]int64, points)
			for i := range vs {
				state = min(100, max(0, state+rng.NormFloat64()))
				vs[i] = int64(state)
			}
			s.Columns = append(s.Columns, model.Column{Name: f, Kind: model.KindInt, Times: ts, Ints: vs})
		}
		out = append(out, s)
	}
	return out, hosts * points * len(fields)
}

// iotDataset returns an IoT-like day of 100 trucks reporting latitude and
// longitude (5 decimals, moving a few metres per reading), fuel (1
// decimal, slowly draining, refuelled when low) and temperature (2
// decimals, a mean-reverting walk). Readings are 10 s apart, each shifted
// by a uniform integer jitter in [-jitterMs, +jitterMs] milliseconds (0
// for an exact grid), and about 2% of them (whole readings, all four
// fields) are missing. The four fields of a truck share one times slice.
func iotDataset(jitterMs int) ([]SeriesData, int) {
	rng := rand.New(rand.NewSource(2))
	const trucks, slots = 100, 8640
	round := func(v float64, decimals int) float64 {
		p := math.Pow(10, float64(decimals))
		return math.Round(v*p) / p
	}
	values := 0
	var out []SeriesData
	for tr := range trucks {
		var ts []int64
		for i := range slots {
			if rng.Float64() < 0.02 {
				continue
			}
			jitter := int64(rng.Intn(2*jitterMs+1)-jitterMs) * 1_000_000
			ts = append(ts, tsbsStart+int64(i)*10_000_000_000+jitter)
		}
		lat, lon := rng.Float64()*90-45, rng.Float64()*180-90
		fuel, temp := 20+rng.Float64()*80, 15+rng.Float64()*10
		cols := []model.Column{
			{Name: "latitude", Kind: model.KindFloat, Times: ts},
			{Name: "longitude", Kind: model.KindFloat, Times: ts},
			{Name: "fuel", Kind: model.KindFloat, Times: ts},
			{Name: "temperature", Kind: model.KindFloat, Times: ts},
		}
		for range ts {
			lat += rng.NormFloat64() * 0.0002
			lon += rng.NormFloat64() * 0.0002
			fuel -= rng.Float64() * 0.01
			if fuel < 5 {
				fuel = 95
			}
			temp += rng.NormFloat64()*0.05 - (temp-20)*0.001
			cols[0].Floats = append(cols[0].Floats, round(lat, 5))
			cols[1].Floats = append(cols[1].Floats, round(lon, 5))
			cols[2].Floats = append(cols[2].Floats, round(fuel, 1))
			cols[3].Floats = append(cols[3].Floats, round(temp, 2))
		}
		values += 4 * len(ts)
		out = append(out, SeriesData{Tags: tags("name", fmt.Sprintf("truck_%d", tr), "fleet", []string{"East", "West", "North", "South"}[tr%4],
			"driver", fmt.Sprintf("driver_%d", rng.Intn(50)), "model", []string{"F-150", "G-2000", "H-2"}[rng.Intn(3)]), Columns: cols})
	}
	return out, values
}

// gappyDataset returns a day of 100 trucks reporting seven float fields
// like the IoT benchmark's (position to 5 decimals, elevation, velocity,
// grade and fuel to 1, heading in whole degrees) every 10 s with up to a
// second of jitter; 1% of readings are missing and 3% of the values of
// every field but the first, so six columns of each truck hold subsets of
// the first one's times. It returns the series and the number of values.
func gappyDataset() ([]SeriesData, int) { return gappyDatasetWith(false) }

// gappyDatasetWith is gappyDataset, where with independent set the first
// field misses 3% of its values too, each on its own, as every field of
// TSBS's IoT readings may: no column holds every time of its truck, so
// the writer stores their union once (union blocks).
func gappyDatasetWith(independent bool) ([]SeriesData, int) {
	rng := rand.New(rand.NewSource(3))
	const trucks, slots = 100, 8640
	scale := []float64{1e5, 1e5, 10, 10, 1, 10, 10}
	step := []float64{0.0002, 0.0002, 0.5, 1, 2, 0.2, 0.5}
	names := []string{"latitude", "longitude", "elevation", "velocity", "heading", "grade", "fuel_consumption"}
	values := 0
	var out []SeriesData
	for tr := range trucks {
		cols := make([]model.Column, len(names))
		state := make([]float64, len(names))
		for f := range cols {
			cols[f] = model.Column{Name: names[f], Kind: model.KindFloat}
			state[f] = rng.Float64() * 100
		}
		for i := range slots {
			if rng.Intn(100) == 0 {
				continue
			}
			t := tsbsStart + int64(i)*10_000_000_000 + rng.Int63n(1000)*1_000_000
			for f := range cols {
				state[f] += rng.NormFloat64() * step[f]
				if (f > 0 || independent) && rng.Intn(100) < 3 {
					continue
				}
				cols[f].Append(t, model.Float(math.Round(state[f]*scale[f])/scale[f]))
				values++
			}
		}
		out = append(out, SeriesData{Tags: tags("name", fmt.Sprintf("truck_%d", tr)), Columns: cols})
	}
	return out, values
}

// BenchmarkReadSubset reads columns that hold subsets of another column's
// times (gappyDataset), so every block decodes a selection and the times
// of the block it selects from.
func BenchmarkReadSubset(b *testing.B) {
	for _, independent := range []bool{false, true} {
		name := "gappy"
		if independent {
			name = "independent" // union blocks
		}
		b.Run(name, func(b *testing.B) {
			series, _ := gappyDatasetWith(independent)
			series = series[:10]
			path := filepath.Join(b.TempDir(), "subset.col")
			if _, err := Write(path, "iot", 0, 1, series); err != nil {
				b.Fatal(err)
			}
			r, err := Open(path)
			if err != nil {
				b.Fatal(err)
			}
			defer r.Close()
			values := 0
			b.ReportAllocs()
			for b.Loop() {
				for i, s := range r.AllSeries() {
					for j := range s.Columns {
						col, err := r.ReadColumn(i, j)
						if err != nil {
							b.Fatal(err)
						}
						values += col.Len()
					}
				}
			}
			b.ReportMetric(float64(values)/b.Elapsed().Seconds(), "values/s")
		})
	}
}

// BenchmarkOpen opens a file of gappyDataset: reading and checking the
// index, whose float statistics dominate it.
func BenchmarkOpen(b *testing.B) {
	series, _ := gappyDataset()
	path := filepath.Join(b.TempDir(), "iot.col")
	if _, err := Write(path, "iot", 0, 1, series); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		r, err := Open(path)
		if err != nil {
			b.Fatal(err)
		}
		_ = r.Close()
	}
}

// BenchmarkFileBytesPerValue writes whole files of realistic data sets
// with the default block size and reports the file size per value
// (bytes/value), the part of it the index and footer take
// (index-bytes/value) and the fraction of blocks that share the times of
// an earlier column instead of storing them (shared-blocks). "cpu" is
// TSBS-like cpu-only data, "iot" has every reading jittered by up to
// ±50 ms, "iot-regular" is the same fleet on an exact 10 s grid,
// "iot-gappy" has seven fields of which 3% of values are missing
// (gappyDataset), "iot-independent" the same with the first field missing
// values too (union blocks).
//
//	go test -run '^$' -bench FileBytesPerValue -benchtime 1x ./storage/colfile
func BenchmarkFileBytesPerValue(b *testing.B) {
	sets := []struct {
		name string
		gen  func() ([]SeriesData, int)
	}{
		{"cpu", cpuDataset},
		{"iot", func() ([]SeriesData, int) { return iotDataset(50) }},
		{"iot-regular", func() ([]SeriesData, int) { return iotDataset(0) }},
		{"iot-gappy", gappyDataset},
		{"iot-independent", func() ([]SeriesData, int) { return gappyDatasetWith(true) }},
	}
	for _, set := range sets {
		b.Run(set.name, func(b *testing.B) {
			series, values := set.gen()
			path := filepath.Join(b.TempDir(), set.name+".col")
			for b.Loop() {
				if _, err := Write(path, set.name, 0, 1, series); err != nil {
					b.Fatal(err)
				}
			}
			reportSizes(b, path, values)
			r, err := Open(path)
			if err != nil {
				b.Fatal(err)
			}
			defer r.Close()
			var data int64
			var blocks, shared int
			for _, s := range r.blockRefs() {
				for _, c := range s {
					for _, ref := range c {
						data += ref.length + blockTrailerSize
						blocks++
						if ref.timesFrom > 0 {
							shared++
						}
					}
				}
			}
			st, err := os.Stat(path)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(st.Size()-HeaderSize-data)/float64(values), "index-bytes/value")
			b.ReportMetric(float64(shared)/float64(blocks), "shared-blocks")
		})
	}
}

// BenchmarkReadCompressible decodes 2 M one-second points of a constant
// float, which store in a few bytes per block, and reports the bytes
// of the result (result-B) beside the bytes allocated (B/op): under three
// times the result is the bound TestReadAllocatesResultSize checks.
func BenchmarkReadCompressible(b *testing.B) {
	const n = 2_000_000
	path := filepath.Join(b.TempDir(), "const.col")
	series := []SeriesData{{Tags: tags("device_id", "d1"), Columns: []model.Column{compressibleColumn(model.KindFloat, n)}}}
	if _, err := Write(path, "c", 0, 1, series); err != nil {
		b.Fatal(err)
	}
	r, err := Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	b.ReportAllocs()
	var result uint64
	for b.Loop() {
		col, err := r.ReadColumn(0, 0)
		if err != nil {
			b.Fatal(err)
		}
		result = resultBytes(&col)
	}
	b.ReportMetric(float64(result), "result-B")
}
