package colfile

import (
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
			reportSizes(b, path)
		})
	}
}

func BenchmarkReadColumn(b *testing.B) {
	for _, k := range benchKinds {
		b.Run(k.name, func(b *testing.B) {
			series := []SeriesData{{Tags: tags("host", "a"), Columns: []model.Column{benchColumn(k.kind)}}}
			path := filepath.Join(b.TempDir(), "bench.col")
			if _, err := Write(path, "bench", 0, 1, series); err != nil {
				b.Fatal(err)
			}
			r, err := Open(path)
			if err != nil {
				b.Fatal(err)
			}
			defer r.Close()
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
			reportSizes(b, path)
		})
	}
}

// reportSizes reports values/s and the file's bytes per value.
func reportSizes(b *testing.B, path string) {
	b.Helper()
	st, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(benchPoints)*float64(b.N)/b.Elapsed().Seconds(), "values/s")
	b.ReportMetric(float64(st.Size())/benchPoints, "bytes/value")
}
