package storage

import (
	"context"
	"fmt"
	"testing"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/storage/wal"
)

// BenchmarkApplyTSBS writes batches shaped as TSBS cpu-only's 1,000-line
// ones (every host's line of one time, then the next time's; ten tags and
// ten integer fields; each host's points sharing a Tags slice, as the
// parser hands them) and reports the apply's time per value (the write's
// phase under the DB's lock, timed around apply) besides the write's.
//
//	go test -run '^$' -bench ApplyTSBS -count 6 ./storage
func BenchmarkApplyTSBS(b *testing.B) {
	db, err := Open(b.TempDir(), &Options{Logger: quiet, FlushInterval: -1, Sync: wal.SyncNever, MaxMemoryPoints: 1 << 30, MaxMemoryBytes: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	fields := []string{"usage_user", "usage_system", "usage_idle", "usage_nice", "usage_iowait", "usage_irq", "usage_softirq", "usage_steal", "usage_guest", "usage_guest_nice"}
	hosts := make([]model.Tags, 100)
	for h := range hosts {
		for _, k := range []string{"arch", "datacenter", "hostname", "os", "rack", "region", "service", "service_environment", "service_version", "team"} {
			hosts[h] = append(hosts[h], model.Tag{Key: k, Value: fmt.Sprintf("%s_%d", k, h)})
		}
	}
	pts := make([]model.Point, 1000)
	for k := range 10 {
		for h := range 100 {
			p := &pts[k*100+h]
			p.Collection, p.Tags = "cpu", hosts[h]
			for _, f := range fields {
				p.Fields = append(p.Fields, model.Field{Key: f})
			}
		}
	}
	ctx := context.Background()
	batch := 0
	for b.Loop() {
		for k := range 10 {
			for h := range 100 {
				p := &pts[k*100+h]
				p.Time = int64(batch*10+k) * 10e9
				for j := range p.Fields {
					p.Fields[j].Value = model.Int(int64((batch*7 + k*3 + h + j*13) % 100))
				}
			}
		}
		if err := db.Write(ctx, pts); err != nil {
			b.Fatal(err)
		}
		batch++
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*10000), "ns/value")
}

// TestApplyKeepsBatchOrderPerSeries writes a batch whose series are
// interleaved, one of them through two distinct but equal Tags slices,
// with times repeated: apply stores the batch series by series, and
// within a series the batch's last value of a time must still win, and
// every series get its own values.
func TestApplyKeepsBatchOrderPerSeries(t *testing.T) {
	db := openTest(t, t.TempDir())
	defer db.Close()
	x := model.Tags{{Key: "device_id", Value: "a"}}
	y := model.Tags{{Key: "device_id", Value: "a"}} // equal to x, another slice
	b := model.Tags{{Key: "device_id", Value: "b"}}
	p := func(tags model.Tags, tm int64, v float64) model.Point {
		return model.Point{Collection: "c", Tags: tags, Time: tm, Fields: []model.Field{fv("v", v)}}
	}
	batch := []model.Point{
		p(x, 5, 1), p(b, 5, 10), p(y, 5, 2), p(x, 6, 3), p(b, 5, 11), p(nil, 5, 20),
		p(x, 5, 4), p(b, 6, 12), p(nil, 5, 21), p(y, 6, 5),
	}
	if err := db.Write(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	check := func(tags model.Tags, want map[int64]float64) {
		t.Helper()
		got := readAll(t, db, "c", tags, "v")["v"]
		if len(got) != len(want) {
			t.Fatalf("%v: %v, want %v", tags, got, want)
		}
		for tm, v := range want {
			if got[tm] != model.Float(v) {
				t.Fatalf("%v at %d: %v, want %v", tags, tm, got[tm], v)
			}
		}
	}
	check(x, map[int64]float64{5: 4, 6: 5})
	check(b, map[int64]float64{5: 11, 6: 12})
	check(nil, map[int64]float64{5: 21})
	// The scratch forgets the batch's series.
	db.mu.RLock()
	defer db.mu.RUnlock()
	if len(db.applying.series) != 0 || len(db.applying.of) != 0 {
		t.Errorf("apply's scratch keeps %d series after the batch", len(db.applying.series))
	}
}
