package storage

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/planner"
	"github.com/soltixdb/soltix/query"
	"github.com/soltixdb/soltix/storage/wal"
)

// decodedBlocks returns how many blocks the data files of a collection
// have decoded so far.
func decodedBlocks(db *DB, coll string) int64 {
	db.mu.RLock()
	defer db.mu.RUnlock()
	seen := map[*dataFile]bool{}
	var n int64
	for _, s := range db.colls[coll].series {
		for _, sf := range s.files {
			if !seen[sf.f] {
				seen[sf.f] = true
				n += sf.f.r.Decoded()
			}
		}
	}
	return n
}

// limitOracle trims full columns (as Read returns them) to the n smallest
// or largest times of their union.
func limitOracle(cols []model.Column, n int, desc bool) []model.Column {
	var times []int64
	for _, c := range cols {
		times = append(times, c.Times...)
	}
	slices.Sort(times)
	times = slices.Compact(times)
	if len(times) <= n {
		return cols
	}
	lo, hi := int64(math.MinInt64), times[n-1]
	if desc {
		lo, hi = times[len(times)-n], math.MaxInt64
	}
	out := make([]model.Column, len(cols))
	for i := range cols {
		out[i] = cols[i].Range(lo, hi)
	}
	return out
}

func sameColumn(a, b model.Column) bool {
	if a.Len() != b.Len() || !slices.Equal(a.Times, b.Times) {
		return false
	}
	for i := range a.Len() {
		if !a.Value(i).Equal(b.Value(i)) {
			return false
		}
	}
	return true
}

// TestReadLimitAgreesWithRead builds data in overlapping files, with
// overwrites, deletes and out-of-order memory, and checks for random ranges,
// row counts and both directions that ReadLimit returns what Read trimmed
// to those rows does.
func TestReadLimitAgreesWithRead(t *testing.T) {
	for seed := range uint64(8) {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed, 5))
			db, err := Open(t.TempDir(), &Options{Logger: quiet, FlushInterval: -1, NumGroups: 1, BlockSize: 4, PartitionDuration: 100})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			ctx := context.Background()
			dev := model.Tags{{Key: "device_id", Value: "d"}}
			for round := range 5 {
				var pts []model.Point
				for range 40 {
					ts := r.Int64N(400)
					switch r.IntN(3) {
					case 0:
						pts = append(pts, pt("c", "d", ts, iv("n", r.Int64N(100))))
					case 1:
						pts = append(pts, pt("c", "d", ts, fv("f", r.NormFloat64())))
					default:
						pts = append(pts, pt("c", "d", ts, iv("n", r.Int64N(100)), fv("f", r.NormFloat64())))
					}
				}
				if err := db.Write(ctx, pts); err != nil {
					t.Fatal(err)
				}
				if round == 2 {
					lo := r.Int64N(400)
					if err := db.Delete(ctx, "c", []model.Tags{dev}, lo, lo+r.Int64N(40)); err != nil {
						t.Fatal(err)
					}
				}
				if round < 4 {
					if err := db.Flush(ctx); err != nil {
						t.Fatal(err)
					}
				}
			}
			for q := range 300 {
				min := r.Int64N(420) - 10
				max := min + r.Int64N(420)
				if q%7 == 0 {
					min, max = math.MinInt64, math.MaxInt64
				}
				n := 1 + r.IntN(30)
				desc := q%2 == 0
				fields := [][]string{{"n"}, {"f"}, {"n", "f"}, {"f", "n"}}[q%4]
				all, err := db.Read(ctx, "c", dev, fields, min, max)
				if err != nil {
					t.Fatal(err)
				}
				want := limitOracle(all, n, desc)
				got, err := db.ReadLimit(ctx, "c", dev, fields, min, max, n, desc)
				if err != nil {
					t.Fatal(err)
				}
				for i := range want {
					if !sameColumn(got[i], want[i]) || got[i].Kind != want[i].Kind {
						t.Fatalf("ReadLimit(%v, [%d, %d], %d, desc=%v) %s: times %v, want %v", fields, min, max, n, desc, fields[i], got[i].Times, want[i].Times)
					}
				}
			}
		})
	}
}

// writeSeries writes n points of fields v and w every second from t0 in
// batches, flushing every perFile points (0: once at the end).
func writeSeries(t testing.TB, db *DB, t0 int64, n, perFile int) {
	ctx := context.Background()
	const batch = 50_000
	pts := make([]model.Point, 0, batch)
	for i := range n {
		ts := t0 + int64(i)*int64(time.Second)
		pts = append(pts, pt("c", "d", ts, fv("v", float64(i%100)), iv("w", int64(i))))
		if len(pts) == batch || i == n-1 {
			if err := db.Write(ctx, pts); err != nil {
				t.Fatal(err)
			}
			pts = pts[:0]
		}
		if (perFile > 0 && (i+1)%perFile == 0) || i == n-1 {
			if err := db.Flush(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestReadLimitBlocks checks that ReadLimit decodes only the blocks its
// rows are in: for one row, one block per column, whatever the number of
// points and files.
func TestReadLimitBlocks(t *testing.T) {
	dev := model.Tags{{Key: "device_id", Value: "d"}}
	ctx := context.Background()
	for _, tc := range []struct {
		points, perFile int
		n               int
		desc            bool
		fields          []string
		blocks          int64 // blocks decoded, all columns together
	}{
		{points: 200_000, n: 1, desc: true, fields: []string{"v"}, blocks: 1},
		{points: 200_000, n: 1, desc: true, fields: []string{"v", "w"}, blocks: 2},
		{points: 200_000, n: 1, desc: false, fields: []string{"v", "w"}, blocks: 2},
		{points: 200_000, perFile: 30_000, n: 1, desc: true, fields: []string{"v", "w"}, blocks: 2},
		{points: 200_000, perFile: 30_000, n: 1, desc: false, fields: []string{"w"}, blocks: 1},
		{points: 200_000, perFile: 30_000, n: 2500, desc: true, fields: []string{"v"}, blocks: 3},
		{points: 200_000, perFile: 30_000, n: 1000, desc: false, fields: []string{"v", "w"}, blocks: 2},
	} {
		name := fmt.Sprintf("%d points/%d per file/n=%d desc=%v %v", tc.points, tc.perFile, tc.n, tc.desc, tc.fields)
		t.Run(name, func(t *testing.T) {
			db, err := Open(t.TempDir(), &Options{Logger: quiet, FlushInterval: -1, Sync: wal.SyncNever, NumGroups: 1, PartitionDuration: 1 << 62})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			writeSeries(t, db, 0, tc.points, tc.perFile)
			before := decodedBlocks(db, "c")
			got, err := db.ReadLimit(ctx, "c", dev, tc.fields, math.MinInt64, math.MaxInt64, tc.n, tc.desc)
			if err != nil {
				t.Fatal(err)
			}
			if d := decodedBlocks(db, "c") - before; d != tc.blocks {
				t.Errorf("decoded %d blocks, want %d", d, tc.blocks)
			}
			first := int64(0)
			if tc.desc {
				first = int64(tc.points - tc.n)
			}
			for _, c := range got {
				if c.Len() != tc.n || c.Times[0] != first*int64(time.Second) {
					t.Errorf("column %s: %d values from %d, want %d from %d", c.Name, c.Len(), c.Times[0], tc.n, first*int64(time.Second))
				}
			}
		})
	}
}

// endingContext is a context that ends (Canceled) once Err has been
// asked after more than live times, as if the client went away in the
// middle of a read.
type endingContext struct {
	context.Context
	live, asked int
}

func (c *endingContext) Err() error {
	if c.asked++; c.asked > c.live {
		return context.Canceled
	}
	return nil
}

// TestReadCancelInsideDecode checks that reads stop between blocks when
// their context ends in the middle of a series.
func TestReadCancelInsideDecode(t *testing.T) {
	db, err := Open(t.TempDir(), &Options{Logger: quiet, FlushInterval: -1, Sync: wal.SyncNever, NumGroups: 1, PartitionDuration: 1 << 62})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	writeSeries(t, db, 0, 100_000, 0) // 100 blocks per column
	dev := model.Tags{{Key: "device_id", Value: "d"}}
	for _, tc := range []struct {
		name string
		read func(ctx context.Context) error
	}{
		{"Read", func(ctx context.Context) error {
			_, err := db.Read(ctx, "c", dev, []string{"v"}, math.MinInt64, math.MaxInt64)
			return err
		}},
		{"ReadLimit", func(ctx context.Context) error {
			_, err := db.ReadLimit(ctx, "c", dev, []string{"v"}, math.MinInt64, math.MaxInt64, 50_000, true)
			return err
		}},
		{"ReadParts", func(ctx context.Context) error {
			_, err := db.ReadParts(ctx, "c", dev, "v", math.MinInt64, math.MaxInt64, func(lo, hi int64) bool { return false }, model.LevelRaw)
			return err
		}},
	} {
		before := decodedBlocks(db, "c")
		err := tc.read(&endingContext{Context: context.Background(), live: 5})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a context ending mid-read: %v, want context.Canceled", tc.name, err)
		}
		if d := decodedBlocks(db, "c") - before; d > 5 {
			t.Errorf("%s decoded %d of 100 blocks after its context ended, want at most 5", tc.name, d)
		}
	}
}

// BenchmarkLimitDesc10M runs SELECT v, w FROM c ORDER BY time DESC LIMIT 1
// through the planner over 10 M points of one series in files, and reports
// the blocks it decodes per column (one).
func BenchmarkLimitDesc10M(b *testing.B) {
	db, err := Open(b.TempDir(), &Options{Logger: quiet, FlushInterval: -1, Sync: wal.SyncNever, NumGroups: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	const n = 10_000_000
	writeSeries(b, db, 0, n, 1_000_000)
	stmt, err := query.Parse("SELECT v, w FROM c ORDER BY time DESC LIMIT 1")
	if err != nil {
		b.Fatal(err)
	}
	before := decodedBlocks(db, "c")
	b.ResetTimer()
	for range b.N {
		res, err := planner.ExecuteWith(context.Background(), db, stmt, planner.Options{Now: time.Now()})
		if err != nil {
			b.Fatal(err)
		}
		if len(res.Rows) != 1 || res.Rows[0][0].Int() != (n-1)*int64(time.Second) {
			b.Fatalf("rows %v", res.Rows)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(decodedBlocks(db, "c")-before)/float64(b.N)/2, "blocks/column/op")
}
