package storage

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/soltixdb/soltix/internal/sketch"
	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/planner"
	"github.com/soltixdb/soltix/query"
	"github.com/soltixdb/soltix/storage/wal"
)

// rollupWorld drives one DB through writes, late writes, overwrites,
// deletes, flushes, compactions and restarts, and checks after each step
// that random queries answer the same with rollups as from raw data.
type rollupWorld struct {
	t    *testing.T
	rng  *rand.Rand
	dir  string
	opts *Options
	db   *DB
	now  time.Time
	// used counts the queries that read at least one rollup row, checked
	// counts all of them.
	used, checked int
}

var (
	rwBase = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	rwEnd  = time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC).UnixNano()
)

var rwDevices = []struct{ id, region string }{
	{"d0", "eu"}, {"d1", "eu"}, {"d2", "us"}, {"d3", "us"}, {"d4", "ap"},
}

func (w *rollupWorld) open() {
	w.t.Helper()
	db, err := Open(w.dir, w.opts)
	if err != nil {
		w.t.Fatal(err)
	}
	w.db = db
}

func (w *rollupWorld) reopen() {
	w.t.Helper()
	if err := w.db.Close(); err != nil {
		w.t.Fatal(err)
	}
	w.open()
}

// randTime picks a time: anywhere in the span, or in a dense cluster of
// 10 s points on a few days, so both sparse and full buckets exist.
func (w *rollupWorld) randTime() int64 {
	if w.rng.IntN(3) == 0 {
		return rwBase + w.rng.Int64N(rwEnd-rwBase)
	}
	day := []int64{3, 40, 41, 400, 401, 700, 880}[w.rng.IntN(7)]
	return rwBase + day*int64(24*time.Hour) + w.rng.Int64N(8640)*int64(10*time.Second)
}

func (w *rollupWorld) write(n int, times func() int64) {
	w.t.Helper()
	pts := make([]model.Point, 0, n)
	for range n {
		d := rwDevices[w.rng.IntN(len(rwDevices))]
		fields := []model.Field{}
		if w.rng.IntN(5) > 0 {
			v := w.rng.NormFloat64()*100 + 1000
			switch w.rng.IntN(50) {
			case 0:
				v = math.Copysign(0, -1)
			case 1:
				v = 0
			}
			fields = append(fields, model.Field{Key: "v", Value: model.Float(v)})
		}
		if w.rng.IntN(3) > 0 {
			fields = append(fields, model.Field{Key: "n", Value: model.Int(w.rng.Int64N(2000) - 1000)})
		}
		if w.rng.IntN(4) == 0 {
			fields = append(fields, model.Field{Key: "ok", Value: model.Bool(w.rng.IntN(2) == 0)})
		}
		if len(fields) == 0 {
			fields = append(fields, model.Field{Key: "v", Value: model.Float(1)})
		}
		pts = append(pts, model.Point{Collection: "m", Time: times(),
			Tags:   model.Tags{{Key: "device_id", Value: d.id}, {Key: "region", Value: d.region}},
			Fields: fields})
	}
	if err := w.db.Write(context.Background(), pts); err != nil {
		w.t.Fatal(err)
	}
}

// overwrite rewrites existing points with new values.
func (w *rollupWorld) overwrite(n int) {
	w.t.Helper()
	for _, d := range rwDevices[:3] {
		tags := model.Tags{{Key: "device_id", Value: d.id}, {Key: "region", Value: d.region}}
		cols, err := w.db.Read(context.Background(), "m", tags, []string{"v"}, math.MinInt64, math.MaxInt64)
		if err != nil {
			w.t.Fatal(err)
		}
		c := cols[0]
		var pts []model.Point
		for range min(n, c.Len()) {
			i := w.rng.IntN(c.Len())
			pts = append(pts, model.Point{Collection: "m", Time: c.Times[i], Tags: tags,
				Fields: []model.Field{{Key: "v", Value: model.Float(w.rng.Float64() * 5)}}})
		}
		if len(pts) > 0 {
			if err := w.db.Write(context.Background(), pts); err != nil {
				w.t.Fatal(err)
			}
		}
	}
}

func (w *rollupWorld) deleteSome() {
	w.t.Helper()
	for range 3 {
		d := rwDevices[w.rng.IntN(len(rwDevices))]
		lo := w.randTime()
		hi := lo + w.rng.Int64N(int64(40*24*time.Hour))
		if w.rng.IntN(4) == 0 {
			hi = lo + int64(time.Hour)
		}
		tags := model.Tags{{Key: "device_id", Value: d.id}, {Key: "region", Value: d.region}}
		if err := w.db.Delete(context.Background(), "m", []model.Tags{tags}, lo, hi); err != nil {
			w.t.Fatal(err)
		}
	}
}

func (w *rollupWorld) flush() {
	w.t.Helper()
	if err := w.db.Flush(context.Background()); err != nil {
		w.t.Fatal(err)
	}
}

var rwIntervals = []string{"", "1m", "1h", "6h", "1d", "1w", "1M", "3M", "1y"}

func (w *rollupWorld) fmtTime(t int64) string {
	return "'" + time.Unix(0, t).UTC().Format(time.RFC3339Nano) + "'"
}

// randQuery builds a random aggregate query.
func (w *rollupWorld) randQuery() string {
	r := w.rng
	field := []string{"v", "n", "v", "ok"}[r.IntN(4)]
	fns := []string{"count", "sum", "avg", "min", "max", "first", "last", "spread", "stddev", "percentile"}
	if field == "ok" {
		fns = []string{"count", "first", "last"}
	}
	var items []string
	for range 1 + r.IntN(3) {
		fn := fns[r.IntN(len(fns))]
		if fn == "percentile" {
			items = append(items, fmt.Sprintf("percentile(%s, %d)", field, r.IntN(101)))
		} else {
			items = append(items, fmt.Sprintf("%s(%s)", fn, field))
		}
	}
	interval := rwIntervals[r.IntN(len(rwIntervals))]
	var conds []string
	// Time range: aligned to a level, unaligned, or open.
	var lo, hi int64
	switch r.IntN(4) {
	case 0: // open
	case 1: // unaligned
		lo = w.randTime()
		hi = lo + r.Int64N(rwEnd-lo+1)
	default: // aligned to a level
		l := model.Levels[r.IntN(len(model.Levels))]
		lo = l.Floor(w.randTime())
		hi = lo
		for range 1 + r.IntN(14) {
			hi = l.Next(hi)
		}
	}
	if interval == "1m" {
		// Keep the number of buckets reasonable.
		if lo == 0 {
			lo = w.randTime()
		}
		hi = lo + r.Int64N(int64(36*time.Hour))
	}
	if lo != 0 {
		conds = append(conds, "time >= "+w.fmtTime(lo), "time < "+w.fmtTime(hi))
	}
	switch r.IntN(4) {
	case 0:
		conds = append(conds, "device_id = '"+rwDevices[r.IntN(len(rwDevices))].id+"'")
	case 1:
		conds = append(conds, "region IN ('eu', 'ap')")
	case 2:
		conds = append(conds, "device_id != 'd2'")
	}
	q := "SELECT " + strings.Join(items, ", ") + " FROM m"
	if len(conds) > 0 {
		q += " WHERE " + strings.Join(conds, " AND ")
	}
	var group []string
	if interval != "" {
		group = append(group, interval)
	}
	switch r.IntN(4) {
	case 0:
		group = append(group, "region")
	case 1:
		group = append(group, "device_id")
	}
	if len(group) > 0 {
		q += " GROUP BY " + strings.Join(group, ", ")
	}
	return q
}

func (w *rollupWorld) check(phase string, n int) {
	w.t.Helper()
	ctx := context.Background()
	for range n {
		q := w.randQuery()
		stmt, err := query.Parse(q)
		if err != nil {
			w.t.Fatalf("%s: parse %s: %v", phase, q, err)
		}
		raw, rerr := planner.ExecuteWith(ctx, w.db, stmt, planner.Options{Now: w.now, RawOnly: true})
		got, gerr := planner.ExecuteWith(ctx, w.db, stmt, planner.Options{Now: w.now})
		if (rerr != nil) != (gerr != nil) {
			w.t.Fatalf("%s: %s: rollups err %v, raw err %v", phase, q, gerr, rerr)
		}
		if rerr != nil {
			continue
		}
		w.checked++
		if usedRollups(got) {
			w.used++
		}
		if err := sameResult(got, raw); err != nil {
			w.t.Fatalf("%s: %s: rollups differ from raw: %v", phase, q, err)
		}
	}
}

func usedRollups(r *planner.Result) bool {
	if r.Stats == nil {
		return false
	}
	for _, l := range r.Stats.Levels {
		if l.Level != "raw" && l.Rows > 0 {
			return true
		}
	}
	return false
}

// sameResult compares two results: floats within relative 1e-9 (sums,
// averages and stddev may differ by summation order), everything else
// identical.
func sameResult(got, want *planner.Result) error {
	if strings.Join(got.Columns, ",") != strings.Join(want.Columns, ",") {
		return fmt.Errorf("columns %v, want %v", got.Columns, want.Columns)
	}
	if len(got.Rows) != len(want.Rows) {
		return fmt.Errorf("%d rows, want %d", len(got.Rows), len(want.Rows))
	}
	for i := range got.Rows {
		for j := range got.Rows[i] {
			g, wv := got.Rows[i][j], want.Rows[i][j]
			if g.Equal(wv) {
				continue
			}
			col := got.Columns[j]
			exactOnly := strings.HasPrefix(col, "count(") || strings.HasPrefix(col, "min(") || strings.HasPrefix(col, "max(") ||
				strings.HasPrefix(col, "first(") || strings.HasPrefix(col, "last(") || strings.HasPrefix(col, "percentile(")
			if !exactOnly && g.Kind == model.KindFloat && wv.Kind == model.KindFloat && closeFloat(g.Float(), wv.Float()) {
				continue
			}
			if strings.HasPrefix(col, "percentile(") && sketched(got) && withinSketch(g, wv) {
				continue
			}
			return fmt.Errorf("row %d (%v) column %s: %v, want %v", i, want.Rows[i], col, g, wv)
		}
	}
	return nil
}

// sketched reports whether a result says a percentile came from rollup
// sketches.
func sketched(r *planner.Result) bool {
	return r.Stats != nil && slices.ContainsFunc(r.Stats.Notes, func(n string) bool {
		return strings.HasPrefix(n, "percentile from rollup sketches")
	})
}

// withinSketch: g within the sketch's documented bound of the exact w
// (relative sketch.Alpha, plus 0.5 for integers, which are rounded).
func withinSketch(g, w model.Value) bool {
	num := func(v model.Value) (float64, bool) {
		switch v.Kind {
		case model.KindFloat:
			return v.Float(), true
		case model.KindInt:
			return float64(v.Int()), true
		case model.KindUint:
			return float64(v.Uint()), true
		}
		return 0, false
	}
	a, ok1 := num(g)
	b, ok2 := num(w)
	if !ok1 || !ok2 || g.Kind != w.Kind {
		return false
	}
	slack := 0.0
	if w.Kind != model.KindFloat {
		slack = 0.5
	}
	return math.Abs(a-b) <= sketch.Alpha*math.Abs(b)*(1+1e-9)+slack
}

// closeFloat: relative 1e-9, with the data's scale (about 1000 here) as
// the floor for values near zero, such as a stddev of equal values.
func closeFloat(a, b float64) bool {
	if math.IsNaN(a) && math.IsNaN(b) {
		return true
	}
	return math.Abs(a-b) <= 1e-9*max(math.Abs(a), math.Abs(b), 1000)
}

// TestRollupsAnswerLikeRaw is the rollup property test: after every step
// of a random history, random queries give the same answer with rollups as
// forced onto raw data.
func TestRollupsAnswerLikeRaw(t *testing.T) {
	seeds, queries := 3, 120
	if s := os.Getenv("SOLTIX_ROLLUP_SEEDS"); s != "" {
		seeds, _ = strconv.Atoi(s)
	}
	total, used := 0, 0
	for seed := range seeds {
		t.Run(fmt.Sprint("seed_", seed), func(t *testing.T) {
			w := &rollupWorld{t: t, rng: rand.New(rand.NewPCG(uint64(seed), 4)), dir: t.TempDir(),
				opts: &Options{FlushInterval: -1, NumGroups: 2, BlockSize: 16, Logger: quiet, Sync: wal.SyncNever},
				now:  time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)}
			w.open()
			defer func() { w.db.Close() }()
			w.write(3000, w.randTime)
			w.check("memory only", queries/2)
			w.flush()
			w.check("rolled up", queries)
			// Late writes into rolled-up buckets, and overwrites.
			w.write(200, w.randTime)
			w.overwrite(50)
			w.check("late writes in memory", queries)
			w.deleteSome()
			w.check("deletes pending", queries)
			w.flush()
			w.check("caught up after late writes and deletes", queries)
			w.reopen()
			w.check("restarted", queries)
			w.write(300, w.randTime)
			w.deleteSome()
			w.reopen() // the WAL replays marks for unflushed late data
			w.check("restarted with late data in the WAL", queries)
			w.flush()
			if err := w.db.Compact(context.Background()); err != nil {
				t.Fatal(err)
			}
			w.check("compacted", queries)
			w.reopen()
			w.check("compacted and restarted", queries)
			total += w.checked
			used += w.used
		})
	}
	t.Logf("%d queries compared, %d of them read rollup rows", total, used)
	if total > 0 && used*4 < total {
		t.Errorf("only %d of %d queries read rollup rows; the test is not exercising rollups", used, total)
	}
}
