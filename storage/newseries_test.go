package storage

import (
	"context"
	"slices"
	"testing"

	"github.com/soltixdb/soltix/model"
)

// TestNewSeriesInterleaved checks NewSeries on a batch shaped as the line
// protocol parser hands it out: devices interleaved, each device's points
// sharing one Tags slice, known and unknown devices mixed, a Tags slice
// equal to a known device's but not the same slice, points without tags
// and an unknown collection.
func TestNewSeriesInterleaved(t *testing.T) {
	db := openTest(t, t.TempDir())
	defer db.Close()
	ctx := context.Background()
	if err := db.Write(ctx, []model.Point{pt("c", "d1", 1, fv("v", 1)), pt("c", "d2", 1, fv("v", 1)), pt("c", "", 1, fv("v", 1))}); err != nil {
		t.Fatal(err)
	}
	d1 := model.Tags{{Key: "device_id", Value: "d1"}}
	d2 := model.Tags{{Key: "device_id", Value: "d2"}}
	d3 := model.Tags{{Key: "device_id", Value: "d3"}}
	d1Copy := slices.Clone(d1)
	p := func(coll string, tags model.Tags) model.Point {
		return model.Point{Collection: coll, Tags: tags, Time: 2, Fields: []model.Field{fv("v", 2)}}
	}
	points := []model.Point{
		p("c", d1), p("c", d3), p("c", d2), p("c", d3), p("c", d1), p("c", d3),
		p("c", d1Copy), p("c", nil), p("other", d1), p("c", d3), p("other", d1),
	}
	want := []bool{false, true, false, true, false, true, false, false, true, true, true}
	if got := db.NewSeries(points); !slices.Equal(got, want) {
		t.Errorf("NewSeries = %v, want %v", got, want)
	}
}

// BenchmarkNewSeries asks about a batch shaped as TSBS's: 1,000 lines, the
// 100 hosts' lines of one time after another, ten tags each, every host's
// points sharing one Tags slice, all hosts known.
//
//	go test -run '^$' -bench NewSeries ./storage
func BenchmarkNewSeries(b *testing.B) {
	db, err := Open(b.TempDir(), &Options{Logger: quiet, FlushInterval: -1, NumGroups: 4})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	hosts := make([]model.Tags, 100)
	for h := range hosts {
		for _, k := range []string{"arch", "datacenter", "hostname", "os", "rack", "region", "service", "service_environment", "service_version", "team"} {
			hosts[h] = append(hosts[h], model.Tag{Key: k, Value: k + "_" + itoa(h)})
		}
	}
	var points []model.Point
	for k := range 10 {
		for h := range hosts {
			points = append(points, model.Point{Collection: "cpu", Tags: hosts[h], Time: int64(k), Fields: []model.Field{iv("usage_user", 1)}})
		}
	}
	if err := db.Write(context.Background(), points); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		db.NewSeries(points)
	}
}
