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
	"sync/atomic"
	"testing"
	"time"

	"github.com/soltixdb/soltix/internal/timex"
	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/planner"
	"github.com/soltixdb/soltix/query"
)

// TestRollupCleanInvariantRandom checks the clean-bucket invariant
// (docs/architecture.md, "Rollups") over random histories: writes, late
// writes, overwrites, deletes, flushes, retention, rollups turned off and
// on, raw and 1h retention made shorter and longer, the clock moving on,
// and crashes (the DB abandoned without Close and
// the directory opened again) between any two steps, for retention
// settings of every ordering. After every step:
//
//   - where raw data is kept, aggregates with rollups equal levels=raw
//     and the test's model of the data;
//   - where only rollups are left, each level answers, at its own
//     buckets, what the model says the data was.
//
// The model is the data written minus the data deleted, minus what
// retention dropped while no rollup held it (rollups off, or turned on and
// not rebuilt yet). Deletes that reach time whose raw data has expired
// cover whole days, so that dropping whole rows (docs/query.md, "DELETE")
// is exact; partial ones are TestDeleteAfterRawExpiredStaysDeleted's.
// Seeded and bounded: rounds × settings, a few seconds. SOLTIX_RANDOM_SEED
// picks other histories (the seed of each ordering is it plus its index).
func TestRollupCleanInvariantRandom(t *testing.T) {
	const rounds = 45
	inf := time.Duration(0)
	// change: raw and 1h retention change at random too (where 1d and 1M
	// keep everything, so that a month always has whole days under it).
	orders := []struct {
		name               string
		raw, h1, d1, month time.Duration
		change             bool
	}{
		{"raw<1h", days(5), days(15), inf, inf, true},
		{"raw>1h", days(15), days(5), inf, inf, true},
		{"raw=1h", days(6), days(6), inf, inf, true},
		{"raw>1h,1d,1M", inf, days(4), days(12), days(40), false},
		{"raw<1h=forever", days(8), inf, inf, inf, true},
		{"1h<raw<1d,1M short", days(10), days(3), inf, days(35), false},
		{"forever", inf, inf, inf, inf, true},
	}
	seed := uint64(1000)
	if v := os.Getenv("SOLTIX_RANDOM_SEED"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("SOLTIX_RANDOM_SEED=%q: %v", v, err)
		}
		seed = n
	}
	var rollupChecks atomic.Int64
	t.Cleanup(func() {
		if rollupChecks.Load() == 0 {
			t.Errorf("no check over time only rollups hold")
		}
		t.Logf("%d checks over time only rollups hold", rollupChecks.Load())
	})
	for i, o := range orders {
		t.Run(o.name, func(t *testing.T) {
			t.Parallel() // mostly waiting for fsync
			var s CollectionSettings
			s.Retention[model.LevelRaw] = o.raw
			s.Retention[model.Level1h] = o.h1
			s.Retention[model.Level1d] = o.d1
			s.Retention[model.Level1M] = o.month
			r := newRandWorld(t, seed+uint64(i), s)
			r.change = o.change
			for round := range rounds {
				r.step(round)
				r.check(round)
			}
			rollupChecks.Add(int64(r.rollupChecks))
			t.Logf("%s", strings.Join(r.log, " "))
		})
	}
}

var randDevices = []string{"d0", "d1", "d2", "d3"}

// randWorld is one random history and its model.
type randWorld struct {
	*cleanDB
	rng *rand.Rand
	s   CollectionSettings
	// model: device → time → value.
	model map[string]map[int64]int64
	// on: rollups on; built: on and rebuilt since (rollups hold every
	// flushed point), so retention drops only raw copies.
	on, built bool
	// gone marks the points of the model whose raw copy retention has
	// dropped: only rollups hold them.
	gone         map[string]map[int64]bool
	change       bool // retention may change
	log          []string
	rollupChecks int
}

var randDay0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func newRandWorld(t *testing.T, seed uint64, s CollectionSettings) *randWorld {
	r := &randWorld{cleanDB: newCleanDB(t, randDay0.Add(days(2))), rng: rand.New(rand.NewPCG(seed, seed*7+1)), s: s,
		model: make(map[string]map[int64]int64), gone: make(map[string]map[int64]bool), on: true, built: true}
	r.settings(s)
	r.write()
	return r
}

// rawFrom is the start of the raw data kept (the horizon).
func (r *randWorld) rawFrom() int64 { return r.from(model.LevelRaw) }

// from is the horizon of level l.
func (r *randWorld) from(l model.Level) int64 {
	r.db.mu.RLock()
	defer r.db.mu.RUnlock()
	c := r.db.colls["c"]
	if c == nil {
		c = &collection{name: "c", settings: r.s}
	}
	return r.db.horizon(c, l)
}

// writable is the start of the raw data kept, or of the test's data.
func (r *randWorld) writable() int64 { return max(r.rawFrom(), randDay0.UnixNano()) }

func (r *randWorld) randTime(lo int64) int64 {
	hi := r.clk.t.UnixNano()
	if lo >= hi {
		return hi
	}
	// Whole minutes, so that overwrites happen.
	return lo + r.rng.Int64N((hi-lo)/int64(time.Minute)+1)*int64(time.Minute)
}

func (r *randWorld) write() {
	var pts []model.Point
	lo := r.writable()
	if d := r.s.Retention[model.LevelRaw]; d != 0 {
		// The oldest time a write may have.
		lo = max(lo, r.clk.t.Add(-d+time.Minute).UnixNano())
	}
	n := 1 + r.rng.IntN(40)
	for range n {
		dev := randDevices[r.rng.IntN(len(randDevices))]
		ts := r.randTime(lo)
		v := r.rng.Int64N(2000) - 1000
		pts = append(pts, pt("c", dev, ts, iv("v", v)))
	}
	r.must(r.db.Write(context.Background(), pts))
	for _, p := range pts {
		dev := p.Tags[0].Value
		if r.model[dev] == nil {
			r.model[dev] = make(map[int64]int64)
		}
		r.model[dev][p.Time] = p.Fields[0].Value.Int()
		delete(r.gone[dev], p.Time)
	}
}

func (r *randWorld) delete() {
	dev := randDevices[r.rng.IntN(len(randDevices))]
	lo := r.randTime(randDay0.UnixNano() - int64(days(1)))
	hi := lo + r.rng.Int64N(int64(days(3)))
	if lo < r.rawFrom() {
		// Reaches time only rollups hold: whole days.
		day := int64(days(1))
		lo = timex.FloorDiv(lo, day) * day
		hi = (timex.FloorDiv(hi, day)+1)*day - 1
	}
	r.del(dev, time.Unix(0, lo), time.Unix(0, hi))
	for ts := range r.model[dev] {
		if ts >= lo && ts <= hi {
			delete(r.model[dev], ts)
			delete(r.gone[dev], ts)
		}
	}
	r.log = append(r.log, fmt.Sprintf("del(%s,%s..%s)", dev, fmtT(lo), fmtT(hi)))
}

// dropped returns the raw horizon retention last enforced.
func (r *randWorld) dropped() int64 {
	r.db.mu.RLock()
	defer r.db.mu.RUnlock()
	if h, ok := r.db.rawDropped["c"]; ok {
		return h
	}
	return math.MinInt64
}

// expire applies what retention drops to the model: raw data before the
// horizon, where no rollup holds it. prev is dropped() before retention
// ran: with rollups on, retention first rolls up what waits to be rolled
// up when it drops more raw data (DB.rollUpBeforeExpiry).
func (r *randWorld) expire(prev int64) {
	from := r.rawFrom()
	if r.on && from > prev {
		r.built = true
	}
	for dev, m := range r.model {
		for ts := range m {
			switch {
			case ts >= from:
			case r.built:
				if r.gone[dev] == nil {
					r.gone[dev] = make(map[int64]bool)
				}
				r.gone[dev][ts] = true
			default:
				delete(m, ts)
			}
		}
	}
}

// flushIfOff flushes when rollups are off, before retention runs: it
// drops raw data a file at a time, and the model does not follow which
// points are still in memory. (With rollups on, DB.rollUpBeforeExpiry
// flushes what matters.)
func (r *randWorld) flushIfOff() {
	if !r.on {
		r.flush()
	}
}

// rollupsOff forgets the points only rollups held.
func (r *randWorld) rollupsOff() {
	for dev, m := range r.gone {
		for ts := range m {
			delete(r.model[dev], ts)
		}
	}
	clear(r.gone)
}

func (r *randWorld) flush() {
	r.cleanDB.flush()
	if r.on {
		r.built = true
	}
}

func (r *randWorld) step(round int) {
	var name string
	switch k := r.rng.IntN(21); {
	case k < 6:
		name = "write"
		r.write()
	case k < 8:
		r.delete()
		return
	case k < 11:
		name = "flush"
		r.flush()
	case k < 14:
		name = "crash"
		r.crash()
	case k == 14:
		name = "reopen"
		r.must(r.db.Close())
		r.open()
		if r.on {
			r.built = true // Close flushes
		}
	case k < 17:
		name = "advance"
		r.flush()
		r.clk.t = r.clk.t.Add(time.Duration(24+r.rng.IntN(5*24)) * time.Hour)
	case k < 19 || k == 19 && !r.change:
		name = "retention"
		r.flushIfOff()
		prev := r.dropped()
		r.must(r.db.EnforceRetention(context.Background()))
		r.expire(prev)
	case k == 19 && r.change:
		r.flushIfOff()
		prev := r.dropped()
		s := r.s
		pick := []time.Duration{days(2), days(4), days(8), days(15), days(30), 0}
		l := []model.Level{model.LevelRaw, model.Level1h}[r.rng.IntN(2)]
		s.Retention[l] = pick[r.rng.IntN(len(pick))]
		name = fmt.Sprintf("retention(%s=%s)", l, FormatRetention(s.Retention[l]))
		r.s = s
		s.NoRollups = !r.on
		r.settings(s)
		r.expire(prev) // SetSettings enforces retention
	default:
		r.flushIfOff()
		prev := r.dropped()
		s := r.s
		s.NoRollups = r.on
		name = fmt.Sprintf("rollups=%v", !s.NoRollups)
		r.settings(s)
		r.on = !s.NoRollups
		r.built = false
		if !r.on {
			r.rollupsOff()
		}
		r.expire(prev) // SetSettings enforces retention
	}
	r.log = append(r.log, name)
}

// bucketRows are the model's rows: bucket start, count, sum, min, max.
func (r *randWorld) bucketRows(devs []string, lo, hi int64, l model.Level) string {
	type agg struct{ n, sum, min, max int64 }
	by := make(map[int64]*agg)
	for _, dev := range devs {
		for ts, v := range r.model[dev] {
			if ts < lo || ts >= hi {
				continue
			}
			b := lo
			if l != model.LevelRaw {
				b = l.Floor(ts)
			}
			a := by[b]
			if a == nil {
				a = &agg{min: v, max: v}
				by[b] = a
			}
			a.n++
			a.sum += v
			a.min, a.max = min(a.min, v), max(a.max, v)
		}
	}
	var keys []int64
	for b := range by {
		keys = append(keys, b)
	}
	slices.Sort(keys)
	var rows []string
	for _, b := range keys {
		a := by[b]
		rows = append(rows, fmt.Sprintf("[%d %d %d %d %d]", b, a.n, a.sum, a.min, a.max))
	}
	return "[" + strings.Join(rows, " ") + "]"
}

func fmtT(ts int64) string { return time.Unix(0, ts).UTC().Format("2006-01-02T15:04:05Z") }

// result renders a query's rows as the model does.
func (r *randWorld) result(q string, rawOnly bool) (string, *planner.Result) {
	r.t.Helper()
	stmt, err := query.Parse(q)
	if err != nil {
		r.t.Fatal(err)
	}
	res, err := planner.ExecuteWith(context.Background(), r.db, stmt, planner.Options{Now: r.clk.t, RawOnly: rawOnly})
	if err != nil && strings.Contains(err.Error(), "not found") {
		return "[]", &planner.Result{Stats: &planner.Stats{}} // everything deleted or expired
	}
	if err != nil {
		r.t.Fatalf("%s: %v", q, err)
	}
	var rows []string
	for _, row := range res.Rows {
		var f []string
		for _, v := range row {
			f = append(f, v.String())
		}
		rows = append(rows, "["+strings.Join(f, " ")+"]")
	}
	return "[" + strings.Join(rows, " ") + "]", res
}

func (r *randWorld) check(round int) {
	r.t.Helper()
	end := r.clk.t.Add(days(40)).UnixNano()
	rawFrom := r.writable()
	dev := randDevices[r.rng.IntN(len(randDevices))]
	type q struct {
		where string
		devs  []string
		lo    int64
		l     model.Level
	}
	var qs []q
	for _, sel := range []struct {
		where string
		devs  []string
	}{{"", randDevices}, {fmt.Sprintf("device_id = '%s' AND ", dev), []string{dev}}} {
		// Raw data kept: rollups equal raw equal the model.
		for _, l := range []model.Level{model.LevelRaw, model.Level1h, model.Level1d, model.Level1M} {
			qs = append(qs, q{sel.where, sel.devs, rawFrom, l})
		}
		// Time only rollups hold: each level over what it claims.
		if !r.on {
			continue
		}
		for _, l := range []model.Level{model.Level1h, model.Level1d, model.Level1M} {
			if lo := max(r.from(l), randDay0.UnixNano()); lo < rawFrom {
				qs = append(qs, q{sel.where, sel.devs, lo, l})
			}
		}
	}
	for _, c := range qs {
		text := fmt.Sprintf("SELECT count(v), sum(v), min(v), max(v) FROM c WHERE %stime >= %d AND time < %d", c.where, c.lo, end)
		hi := end
		if c.l != model.LevelRaw {
			text += " GROUP BY " + c.l.String() + " FILL(none)"
		}
		if c.lo < rawFrom {
			// Rollups only: up to the raw horizon, at this level's
			// buckets.
			hi = rawFrom
			text = strings.Replace(text, fmt.Sprintf("time < %d", end), fmt.Sprintf("time < %d", hi), 1)
			r.rollupChecks++
		}
		want := r.bucketRows(c.devs, c.lo, hi, c.l)
		got, res := r.result(text, false)
		if got != want {
			r.t.Fatalf("round %d after %s:\n%s\ngot   %s\nmodel %s\nnotes %v\nhistory %s", round, r.log[len(r.log)-1], text, got, want,
				res.Stats.Notes, strings.Join(r.log, " "))
		}
		if c.lo >= rawFrom {
			if raw, _ := r.result(text, true); raw != got {
				r.t.Fatalf("round %d after %s:\n%s\ngot %s\nraw %s\nhistory %s", round, r.log[len(r.log)-1], text, got, raw, strings.Join(r.log, " "))
			}
		}
	}
	// Everything at once: the coarsest levels, from every source.
	got, _ := r.result("SELECT count(v), sum(v), min(v), max(v) FROM c WHERE time >= '2026-01-01T00:00:00Z' AND time < '2027-01-01T00:00:00Z'", false)
	want := r.bucketRows(randDevices, randDay0.UnixNano(), randDay0.AddDate(1, 0, 0).UnixNano(), model.LevelRaw)
	if got != want && r.on {
		r.t.Fatalf("round %d after %s: the year: got %s, model %s\nhistory %s", round, r.log[len(r.log)-1], got, want, strings.Join(r.log, " "))
	}
}
