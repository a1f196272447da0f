package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/storage/wal"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func openTest(t *testing.T, dir string) *DB {
	t.Helper()
	db, err := Open(dir, &Options{Logger: quiet, FlushInterval: -1, Sync: wal.SyncNever, NumGroups: 4})
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	return db
}

func pt(coll, dev string, t int64, fields ...model.Field) model.Point {
	var tags model.Tags
	if dev != "" {
		tags = model.Tags{{Key: "device_id", Value: dev}}
	}
	return model.Point{Collection: coll, Tags: tags, Time: t, Fields: fields}
}

func fv(k string, v float64) model.Field { return model.Field{Key: k, Value: model.Float(v)} }
func iv(k string, v int64) model.Field   { return model.Field{Key: k, Value: model.Int(v)} }

// readAll returns field -> time -> value for one series over all time.
func readAll(t *testing.T, db *DB, coll string, tags model.Tags, fields ...string) map[string]map[int64]model.Value {
	t.Helper()
	cols, err := db.Read(context.Background(), coll, tags, fields, math.MinInt64, math.MaxInt64)
	if err != nil {
		t.Fatalf("Read(%s, %v): %v", coll, tags, err)
	}
	out := make(map[string]map[int64]model.Value)
	for _, c := range cols {
		m := make(map[int64]model.Value)
		for i := 0; i < c.Len(); i++ {
			if i > 0 && c.Times[i] <= c.Times[i-1] {
				t.Fatalf("column %s not strictly sorted at %d: %v", c.Name, i, c.Times)
			}
			m[c.Times[i]] = c.Value(i)
		}
		out[c.Name] = m
	}
	return out
}

func TestWriteReadFlushRestart(t *testing.T) {
	dir := t.TempDir()
	db := openTest(t, dir)
	ctx := context.Background()
	dev := model.Tags{{Key: "device_id", Value: "d1"}}
	// Overwrites in the same batch, across batches, across flushes.
	steps := []struct {
		points []model.Point
		flush  bool
	}{
		{points: []model.Point{pt("c", "d1", 10, fv("v", 1)), pt("c", "d1", 20, fv("v", 2)), pt("c", "d1", 10, fv("v", 3))}},
		{points: []model.Point{pt("c", "d1", 5, fv("v", 4), iv("n", 7))}, flush: true},
		{points: []model.Point{pt("c", "d1", 20, fv("v", 5)), pt("c", "d1", 30, fv("v", 6))}},
		{points: []model.Point{pt("c", "d1", 30, fv("v", 7)), pt("c", "d1", 5, iv("n", 8))}, flush: true},
		{points: []model.Point{pt("c", "d1", 10, fv("v", 9))}},
	}
	want := map[string]map[int64]model.Value{"v": {}, "n": {}}
	check := func(stage string) {
		t.Helper()
		got := readAll(t, db, "c", dev, "v", "n")
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: got %v, want %v", stage, got, want)
		}
	}
	for i, st := range steps {
		if err := db.Write(ctx, st.points); err != nil {
			t.Fatalf("step %d: Write: %v", i, err)
		}
		for _, p := range st.points {
			for _, f := range p.Fields {
				want[f.Key][p.Time] = f.Value
			}
		}
		check(fmt.Sprintf("step %d before flush", i))
		if st.flush {
			if err := db.Flush(ctx); err != nil {
				t.Fatalf("step %d: Flush: %v", i, err)
			}
			check(fmt.Sprintf("step %d after flush", i))
		}
	}
	if err := db.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	db = openTest(t, dir)
	defer db.Close()
	check("after restart")
	if got := db.Collections(); !reflect.DeepEqual(got, []string{"c"}) {
		t.Errorf("Collections() = %v, want [c]", got)
	}
	fields, ok := db.Fields("c")
	if !ok || fields["v"] != model.KindFloat || fields["n"] != model.KindInt {
		t.Errorf("Fields(c) = %v, %v; want v float, n integer", fields, ok)
	}
}

func TestReplayWithoutFlush(t *testing.T) {
	dir := t.TempDir()
	db := openTest(t, dir)
	ctx := context.Background()
	if err := db.Write(ctx, []model.Point{pt("c", "d1", 1, fv("v", 1)), pt("c", "d2", 2, fv("v", 2))}); err != nil {
		t.Fatal(err)
	}
	// Simulate a crash: close the WAL without flushing memory.
	db.mu.Lock()
	db.closed = true
	db.mu.Unlock()
	close(db.stop)
	<-db.done
	if err := db.wal.Close(); err != nil {
		t.Fatal(err)
	}
	db.closeFiles()
	db.lock.unlock() // the kernel does this when a process dies

	db = openTest(t, dir)
	defer db.Close()
	for _, d := range []string{"d1", "d2"} {
		got := readAll(t, db, "c", model.Tags{{Key: "device_id", Value: d}}, "v")
		if len(got["v"]) != 1 {
			t.Errorf("device %s after replay: got %v, want one value", d, got)
		}
	}
	if files, _ := filepath.Glob(filepath.Join(dir, "c", "*", "*.col")); len(files) != 0 {
		t.Errorf("found files %v, want none (nothing was flushed)", files)
	}
}

func TestKindConflicts(t *testing.T) {
	db := openTest(t, t.TempDir())
	defer db.Close()
	ctx := context.Background()
	if err := db.Write(ctx, []model.Point{pt("c", "d1", 1, fv("v", 1))}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		batch  []model.Point
		points []int // points named in the conflict
	}{
		{"against schema", []model.Point{pt("c", "d1", 2, fv("w", 1)), pt("c", "d1", 3, iv("v", 1))}, []int{1}},
		{"within batch", []model.Point{pt("c", "d1", 2, iv("x", 1)), pt("c", "d1", 3, fv("x", 1))}, []int{1}},
		{"several", []model.Point{pt("c", "d1", 2, iv("v", 1)), pt("c", "d2", 3, iv("v", 1))}, []int{0, 1}},
		// Runs of points with the same fields (checked once a run):
		// a clash after a clean run, a run after a clash, a kind changing
		// in the middle of a layout that repeats.
		{"runs", []model.Point{
			pt("c", "d1", 2, fv("v", 1), iv("y", 1)), pt("c", "d2", 2, fv("v", 2), iv("y", 2)),
			pt("c", "d3", 2, iv("v", 1), iv("y", 3)), pt("c", "d4", 2, iv("v", 1), iv("y", 4)),
			pt("c", "d5", 2, fv("v", 1), iv("y", 5)), pt("c", "d6", 2, fv("v", 1), fv("y", 6)),
			pt("c", "d7", 2, fv("v", 1), iv("y", 7)),
		}, []int{2, 3, 5}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := db.Write(ctx, tc.batch)
			var ce *ConflictError
			if !errors.As(err, &ce) {
				t.Fatalf("Write(%v) = %v, want *ConflictError", tc.batch, err)
			}
			var got []int
			for _, c := range ce.Conflicts {
				got = append(got, c.Point)
			}
			if !reflect.DeepEqual(got, tc.points) {
				t.Errorf("conflicting points = %v, want %v (%v)", got, tc.points, err)
			}
		})
	}
	// Nothing of the refused batches was written, and their new fields
	// were not kept in the schema.
	fields, _ := db.Fields("c")
	if len(fields) != 1 || fields["v"] != model.KindFloat {
		t.Errorf("Fields(c) = %v, want only v float", fields)
	}
	if got := readAll(t, db, "c", model.Tags{{Key: "device_id", Value: "d1"}}, "v"); len(got["v"]) != 1 {
		t.Errorf("values of v = %v, want only the first write", got["v"])
	}
	if got := db.Series("c", nil); len(got) != 1 {
		t.Errorf("Series(c) = %v, want one series", got)
	}
}

func TestConcurrentWritesAndFlushes(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(dir, &Options{Logger: quiet, FlushInterval: -1, NumGroups: 4}) // fsync on
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const writers, batches, per = 4, 30, 20
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range batches {
				pts := make([]model.Point, per)
				for i := range pts {
					ts := int64(b*per + i)
					pts[i] = pt("c", fmt.Sprintf("d%d", w), ts, iv("n", ts))
				}
				if err := db.Write(ctx, pts); err != nil {
					t.Errorf("writer %d batch %d: %v", w, b, err)
					return
				}
			}
		}()
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 5 {
			if err := db.Flush(ctx); err != nil {
				t.Errorf("Flush: %v", err)
			}
		}
	}()
	wg.Wait()
	<-done
	check := func(stage string) {
		for w := range writers {
			got := readAll(t, db, "c", model.Tags{{Key: "device_id", Value: fmt.Sprintf("d%d", w)}}, "n")
			if len(got["n"]) != batches*per {
				t.Fatalf("%s: device d%d has %d values, want %d", stage, w, len(got["n"]), batches*per)
			}
			for ts, v := range got["n"] {
				if v.Int() != ts {
					t.Fatalf("%s: device d%d at %d = %v", stage, w, ts, v)
				}
			}
		}
	}
	check("live")
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = openTest(t, dir)
	defer db.Close()
	check("after restart")
}

func TestIndexAndExplain(t *testing.T) {
	db := openTest(t, t.TempDir())
	defer db.Close()
	ctx := context.Background()
	pts := []model.Point{
		{Collection: "c", Tags: model.Tags{{Key: "device_id", Value: "a"}, {Key: "region", Value: "eu"}}, Time: 1, Fields: []model.Field{fv("v", 1)}},
		{Collection: "c", Tags: model.Tags{{Key: "device_id", Value: "b"}, {Key: "region", Value: "us"}}, Time: 2, Fields: []model.Field{fv("v", 1)}},
		{Collection: "c", Tags: model.Tags{{Key: "device_id", Value: "c"}}, Time: 3, Fields: []model.Field{fv("v", 1)}},
		{Collection: "other", Time: 3, Fields: []model.Field{{Key: "s", Value: model.String("x")}}},
	}
	if err := db.Write(ctx, pts); err != nil {
		t.Fatal(err)
	}
	if got := db.TagKeys("c"); !reflect.DeepEqual(got, []string{"device_id", "region"}) {
		t.Errorf("TagKeys = %v", got)
	}
	if got := db.TagValues("c", "region"); !reflect.DeepEqual(got, []string{"eu", "us"}) {
		t.Errorf("TagValues(region) = %v", got)
	}
	eu := db.Series("c", func(t model.Tags) bool { return t.Get("region") == "eu" })
	if len(eu) != 1 || eu[0].Get("device_id") != "a" {
		t.Errorf("Series(region=eu) = %v", eu)
	}
	all := db.Series("c", nil)
	var keys []string
	for _, tags := range all {
		keys = append(keys, model.SeriesKey("c", tags))
	}
	if !sort.StringsAreSorted(keys) || len(keys) != 3 {
		t.Errorf("Series(c) keys = %v, want 3 sorted", keys)
	}
	plan := db.Explain("c", all, 0, 10, model.LevelRaw)
	if plan.MemoryPoints != 3 || plan.Files != 0 || len(plan.Groups) == 0 {
		t.Errorf("Explain before flush = %+v", plan)
	}
	if err := db.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	plan = db.Explain("c", all, 0, 10, model.LevelRaw)
	if plan.MemoryPoints != 0 || plan.Files == 0 {
		t.Errorf("Explain after flush = %+v", plan)
	}
	if _, err := db.Read(ctx, "nope", nil, []string{"v"}, 0, 1); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("Read(unknown collection) = %v, want ErrNotFound", err)
	}
	if _, ok := db.Fields("nope"); ok {
		t.Error("Fields(nope) reports a collection")
	}
}

func TestWriteAfterClose(t *testing.T) {
	db := openTest(t, t.TempDir())
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.Write(context.Background(), []model.Point{pt("c", "d", 1, fv("v", 1))}); !errors.Is(err, ErrClosed) {
		t.Errorf("Write after Close = %v, want ErrClosed", err)
	}
	if err := db.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
}

// TestFlushFailureKeepsData makes the group directory unwritable by putting
// a file where it must go: the flush fails, nothing is lost, and a later
// flush succeeds once the obstacle is gone.
func TestFlushFailureKeepsData(t *testing.T) {
	dir := t.TempDir()
	db := openTest(t, dir)
	ctx := context.Background()
	if err := db.Write(ctx, []model.Point{pt("c", "d1", 1, fv("v", 1))}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, collectionsDir, "c"), []byte("in the way"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := db.Flush(ctx); err == nil {
		t.Fatal("Flush succeeded with its directory blocked")
	}
	if err := db.Write(ctx, []model.Point{pt("c", "d1", 1, fv("v", 2)), pt("c", "d1", 2, fv("v", 3))}); err != nil {
		t.Fatal(err)
	}
	want := map[int64]model.Value{1: model.Float(2), 2: model.Float(3)}
	dev := model.Tags{{Key: "device_id", Value: "d1"}}
	if got := readAll(t, db, "c", dev, "v")["v"]; !reflect.DeepEqual(got, want) {
		t.Fatalf("after failed flush: got %v, want %v", got, want)
	}
	os.Remove(filepath.Join(dir, collectionsDir, "c"))
	if err := db.Flush(ctx); err != nil {
		t.Fatalf("second Flush: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = openTest(t, dir)
	defer db.Close()
	if got := readAll(t, db, "c", dev, "v")["v"]; !reflect.DeepEqual(got, want) {
		t.Fatalf("after restart: got %v, want %v", got, want)
	}
}

func TestRecordRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var reused batchEncoder
	for i := range 200 {
		pts := make([]model.Point, r.IntN(5)+1)
		for j := range pts {
			p := model.Point{Collection: fmt.Sprint("c", r.IntN(3)), Time: r.Int64() - math.MaxInt64/2}
			for k := range r.IntN(3) {
				p.Tags = append(p.Tags, model.Tag{Key: fmt.Sprint("t", k), Value: fmt.Sprint(r.IntN(100))})
			}
			kinds := []model.Value{model.Float(r.NormFloat64()), model.Int(r.Int64()), model.Uint(r.Uint64()), model.Bool(r.IntN(2) == 0), model.String(fmt.Sprint(r.Int()))}
			for k := range r.IntN(4) + 1 {
				p.Fields = append(p.Fields, model.Field{Key: fmt.Sprint("f", k), Value: kinds[r.IntN(len(kinds))]})
			}
			pts[j] = p
		}
		// Some points share another's Tags slice, as parsed lines do.
		for j := 1; j < len(pts); j++ {
			if r.IntN(2) == 0 && pts[j-1].Collection == pts[j].Collection {
				pts[j].Tags = pts[j-1].Tags
			}
		}
		seq := r.Uint64()
		for _, enc := range []struct {
			name string
			rec  []byte
		}{
			{"fresh encoder", appendBatch(nil, seq, pts)},
			{"reused encoder", reused.encode(nil, seq, pts)},
			{"version 1", appendBatchV1(nil, seq, pts)},
		} {
			gotSeq, got, err := decodeBatch(enc.rec)
			if err != nil || gotSeq != seq || !reflect.DeepEqual(got, pts) {
				t.Fatalf("case %d, %s: decode(encode(%v)) = %d %v %v", i, enc.name, pts, gotSeq, got, err)
			}
		}
	}
}

// TestRecordSize checks that a batch of device readings is logged in a
// fraction of its first-version size: each series and field key is named
// once per record, and times are differences.
func TestRecordSize(t *testing.T) {
	var pts []model.Point
	tags := make([]model.Tags, 100)
	for h := range tags {
		tags[h] = model.Tags{{Key: "hostname", Value: fmt.Sprint("host_", h)}, {Key: "region", Value: "eu-west-1"},
			{Key: "service_environment", Value: "production"}}
	}
	for i := range 10_000 {
		p := model.Point{Collection: "cpu", Tags: tags[i%100], Time: 1_700_000_000e9 + int64(i/100)*10e9}
		for _, f := range []string{"usage_user", "usage_system", "usage_idle", "usage_nice", "usage_iowait"} {
			p.Fields = append(p.Fields, model.Field{Key: f, Value: model.Int(int64(i % 100))})
		}
		pts = append(pts, p)
	}
	v1, v3 := len(appendBatchV1(nil, 1, pts)), len(appendBatch(nil, 1, pts))
	t.Logf("10,000 points: %d bytes, %d in version 1", v3, v1)
	if v3*4 > v1 {
		t.Errorf("record of %d bytes, more than a quarter of version 1's %d", v3, v1)
	}
}

func FuzzDecodeBatch(f *testing.F) {
	f.Add(appendBatch(nil, 7, []model.Point{pt("c", "d1", 1, fv("v", 1), iv("n", -3))}))
	f.Add(appendBatch(nil, 1, []model.Point{{Collection: "x", Fields: []model.Field{{Key: "s", Value: model.String("hello")}, {Key: "b", Value: model.Bool(true)}, {Key: "u", Value: model.Uint(9)}}}}))
	f.Add([]byte{1, 0, 200})
	f.Add(appendBatchV1(nil, 7, []model.Point{pt("c", "d1", 1, fv("v", 1), iv("n", -3)), pt("c", "d2", 2, fv("v", 2))}))
	f.Add([]byte{3, 1, 1, 1, 'c', 1, 0, 0, 1, 0, 2, 0, 1, 0, 2, 4})
	// An applied record wrapping a batch is not a batch.
	f.Add(appendBatch(appendPositionHead(nil, &position{group: 1, applied: 2}, 7), 7, []model.Point{pt("c", "d1", 1, fv("v", 1))}))
	f.Fuzz(func(t *testing.T, b []byte) {
		seq, pts, err := decodeBatch(b)
		if err != nil {
			if !errors.Is(err, errRecord) {
				t.Fatalf("error %v is not errRecord", err)
			}
			return
		}
		// What decodes must encode back to the same bytes.
		if re := appendBatch(nil, seq, pts); string(re) != string(b) {
			// Varints have non-canonical encodings; accept equal decodes.
			seq2, pts2, err := decodeBatch(re)
			if err != nil || seq2 != seq || !reflect.DeepEqual(pts2, pts) {
				t.Fatalf("re-encode mismatch for %x", b)
			}
		}
	})
}

func TestMergeColumns(t *testing.T) {
	col := func(ts []int64, vs []float64) model.Column {
		c := model.Column{Name: "v", Kind: model.KindFloat}
		for i := range ts {
			c.Append(ts[i], model.Float(vs[i]))
		}
		return c
	}
	tests := []struct {
		name string
		srcs []model.Column
		want model.Column
	}{
		{"none", nil, model.Column{Name: "v", Kind: model.KindFloat}},
		{"one", []model.Column{col([]int64{1, 2}, []float64{1, 2})}, col([]int64{1, 2}, []float64{1, 2})},
		{"later wins", []model.Column{col([]int64{1, 2, 3}, []float64{1, 2, 3}), col([]int64{2, 4}, []float64{20, 40})}, col([]int64{1, 2, 3, 4}, []float64{1, 20, 3, 40})},
		{"three", []model.Column{col([]int64{5}, []float64{1}), col([]int64{5}, []float64{2}), col([]int64{1, 5}, []float64{0, 3})}, col([]int64{1, 5}, []float64{0, 3})},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := mergeColumns("v", model.KindFloat, tc.srcs)
			if !reflect.DeepEqual(got.Times, tc.want.Times) || !reflect.DeepEqual(got.Floats, tc.want.Floats) {
				t.Errorf("merge(%v) = %v %v, want %v %v", tc.srcs, got.Times, got.Floats, tc.want.Times, tc.want.Floats)
			}
		})
	}
}

func TestWriteRefusesInvalidPoints(t *testing.T) {
	db := openTest(t, t.TempDir())
	defer db.Close()
	long := string(make([]byte, MaxCollectionLen+1))
	for _, batch := range [][]model.Point{
		{pt("ok", "d", 1, fv("v", 1)), pt(long, "d", 1, fv("v", 1))},
		{pt("ok", "d", 1, fv("v", 1)), pt("", "d", 1, fv("v", 1))},
		{pt("ok", "d", 1, fv("v", 1)), pt("ok", "d", 1)},
	} {
		if err := db.Write(context.Background(), batch); err == nil {
			t.Errorf("Write(%v) succeeded", batch)
		}
	}
	if got := db.Collections(); len(got) != 0 {
		t.Errorf("Collections() = %v after refused batches, want none", got)
	}
}

// TestMemoryIsBoundedBySize: with a small MaxMemoryPoints the background
// flusher moves memory into files on its own, long before FlushInterval.
func TestMemoryIsBoundedBySize(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(dir, &Options{Logger: quiet, FlushInterval: time.Hour, MaxMemoryPoints: 500, Sync: wal.SyncNever, CompactFiles: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for b := range 10 {
		var pts []model.Point
		for i := range 100 {
			pts = append(pts, pt("c", "d1", int64(b*100+i), fv("v", 1)))
		}
		if err := db.Write(context.Background(), pts); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		db.mu.RLock()
		n := db.memPoints
		db.mu.RUnlock()
		if n < 500 && len(colFiles(t, dir)) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("memory still holds %d values (limit 500) and %d files exist after 20 s", n, len(colFiles(t, dir)))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := len(readAll(t, db, "c", model.Tags{{Key: "device_id", Value: "d1"}}, "v")["v"]); got != 1000 {
		t.Errorf("%d values after the size-triggered flush, want 1000", got)
	}
}

// TestMergeColumnsRandomised compares mergeColumns with a naive map-based
// merge (later source wins) on disjoint, overlapping and tied sources.
func TestMergeColumnsRandomised(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for c := range 300 {
		k := 1 + r.IntN(6)
		span := int64(1 + r.IntN(40))
		srcs := make([]model.Column, k)
		want := map[int64]int64{}
		for i := range srcs {
			col := model.Column{Name: "n", Kind: model.KindInt}
			base := int64(0)
			if c%2 == 0 {
				base = int64(i) * 1000 // disjoint sources
			}
			for ts := base; ts < base+span; ts++ {
				if r.IntN(3) == 0 {
					v := r.Int64N(1000)
					col.Append(ts, model.Int(v))
					want[ts] = v
				}
			}
			srcs[i] = col
		}
		got := mergeColumns("n", model.KindInt, srcs)
		if got.Len() != len(want) {
			t.Fatalf("case %d: %d values, want %d", c, got.Len(), len(want))
		}
		for i, ts := range got.Times {
			if i > 0 && ts <= got.Times[i-1] {
				t.Fatalf("case %d: times not increasing at %d", c, i)
			}
			if got.Ints[i] != want[ts] {
				t.Fatalf("case %d: at %d got %d, want %d", c, ts, got.Ints[i], want[ts])
			}
		}
	}
}

func TestDataDirIsLocked(t *testing.T) {
	dir := t.TempDir()
	db := openTest(t, dir)
	if _, err := Open(dir, &Options{Logger: quiet, FlushInterval: -1}); err == nil || !strings.Contains(err.Error(), "in use by another process") {
		t.Fatalf("second Open of %s = %v, want an in-use error", dir, err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = openTest(t, dir) // free again after Close
	db.Close()
}

// TestCollectionsNamedLikeDataDirEntries: collections whose names are the
// data directory's own entries still flush, and survive a restart.
func TestCollectionsNamedLikeDataDirEntries(t *testing.T) {
	dir := t.TempDir()
	db := openTest(t, dir)
	names := []string{"LOCK", "meta.json", "meta.json.tmp", "wal", "~x", "..", "a/b"}
	for i, n := range names {
		if err := db.Write(context.Background(), []model.Point{{Collection: n, Time: int64(i), Fields: []model.Field{fv("v", 1)}}}); err != nil {
			t.Fatalf("Write(%q): %v", n, err)
		}
	}
	if err := db.Flush(context.Background()); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = openTest(t, dir)
	defer db.Close()
	for _, n := range names {
		if got := readAll(t, db, n, nil, "v")["v"]; len(got) != 1 {
			t.Errorf("collection %q after restart: %v, want one value", n, got)
		}
	}
}
