package planner

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/soltixdb/soltix/model"
)

// zoneIntervals are GROUP BY intervals with offsets and zones, written as
// [interval, TZ clause].
var zoneIntervals = [][2]string{
	{"1d", "TZ('Europe/Paris')"},
	{"1d", "TZ('America/New_York')"},
	{"1w", "TZ('Europe/Paris')"},
	{"1M", "TZ('Europe/Paris')"},
	{"3M", "TZ('Asia/Kolkata')"},
	{"1d", "TZ('Asia/Kolkata')"},
	{"1d", "TZ('Asia/Kathmandu')"},
	{"time(1d, 6h)", "TZ('America/New_York')"},
	{"time(1d, 30m)", "TZ('Asia/Kolkata')"},
	{"time(1h, 15m)", ""},
	{"time(1h, -30m)", ""},
	{"time(2h, 1h)", ""},
	{"time(1y, 3M)", ""},
	{"time(1M, 6h)", ""},
	{"1h", "TZ('Asia/Kolkata')"},
}

// TestZoneRollupsDifferential runs queries with offsets and zones over
// rollups and over raw data only (levels=raw): the answers must be equal,
// and rollup rows must have been used.
func TestZoneRollupsDifferential(t *testing.T) {
	items := []string{
		"count(f), sum(i), min(f), max(u), first(f), last(i)",
		"count(i), avg(i), spread(u), stddev(f)",
	}
	ranges := []string{
		" WHERE time >= '2025-01-01T00:00:00Z' AND time < '2026-01-01T00:00:00Z'",
		" WHERE time >= '2025-03-20T07:13:00Z' AND time < '2025-11-05T22:00:00Z'",
		" WHERE time > '2024-10-20T00:00:00Z' AND time <= '2025-04-02T12:00:00Z'",
		"",
	}
	rng := rand.New(rand.NewPCG(5, 6))
	var rows [model.Level1y + 1]int64
	for seed := range uint64(2) {
		data, meanAbs := rollupData(seed)
		src := newRollupSource(data, 1+rng.IntN(8), math.MinInt64)
		for _, iv := range zoneIntervals {
			q := "SELECT " + items[rng.IntN(len(items))] + " FROM r" + ranges[rng.IntN(len(ranges))] + " GROUP BY " + iv[0]
			if rng.IntN(3) == 0 {
				q += ", host"
			}
			if rng.IntN(2) == 0 {
				q += " FILL(none)"
			}
			q += " " + iv[1]
			want, err := executeWith(src, q, Options{RawOnly: true})
			if err != nil {
				t.Fatalf("%s (raw): %v", q, err)
			}
			got, err := executeWith(src, q, Options{})
			if err != nil {
				t.Fatalf("%s: %v", q, err)
			}
			if msg := diffRollup(got, want, meanAbs); msg != "" {
				t.Errorf("seed %d: %s:\n%s", seed, q, msg)
			}
			for _, ls := range got.Stats.Levels {
				l, _ := model.ParseLevel(ls.Level)
				rows[l] += ls.Rows
			}
		}
	}
	for _, l := range []model.Level{model.Level1h, model.Level1M} {
		if rows[l] == 0 {
			t.Errorf("no rollup row of level %s was used", l)
		}
	}
}

// dstData makes collection d: one series with v = 1 every 10 minutes
// around the 2025 DST changes of Europe and the United States.
func dstData() *memSource {
	m := newMemSource()
	for _, days := range [][2]string{{"2025-03-07", "2025-03-12"}, {"2025-03-27", "2025-04-02"}, {"2025-10-24", "2025-11-04"}} {
		for t := ns(days[0]); t < ns(days[1]); t += 10 * min_ {
			m.write("d", "host=a", t, "v", int64(1))
		}
	}
	return m
}

// TestZoneCountsReference checks count per local day (and month) against
// plain loops over the points with time.Date in the zone, both over
// rollups and raw data.
func TestZoneCountsReference(t *testing.T) {
	data := dstData()
	src := newRollupSource(data, 4, math.MinInt64)
	times := data.colls["d"].series[0].cols["v"].Times
	for _, c := range []struct {
		zone  string
		unit  string
		group string
	}{
		{"Europe/Paris", "d", "1d"},
		{"America/New_York", "d", "1d"},
		{"Asia/Kolkata", "d", "1d"},
		{"Asia/Kathmandu", "d", "1d"},
		{"Europe/Paris", "M", "1M"},
		{"America/New_York", "w", "1w"},
	} {
		loc, err := time.LoadLocation(c.zone)
		if err != nil {
			t.Fatal(err)
		}
		want := map[int64]int64{}
		for _, tn := range times {
			lt := time.Unix(0, tn).In(loc)
			var start time.Time
			switch c.unit {
			case "d":
				start = time.Date(lt.Year(), lt.Month(), lt.Day(), 0, 0, 0, 0, loc)
			case "w":
				back := (int(lt.Weekday()) + 6) % 7 // days since Monday
				start = time.Date(lt.Year(), lt.Month(), lt.Day()-back, 0, 0, 0, 0, loc)
			case "M":
				start = time.Date(lt.Year(), lt.Month(), 1, 0, 0, 0, 0, loc)
			}
			want[start.UnixNano()]++
		}
		q := fmt.Sprintf("SELECT count(v) FROM d GROUP BY %s FILL(none) TZ('%s')", c.group, c.zone)
		for _, raw := range []bool{false, true} {
			res, err := executeWith(src, q, Options{RawOnly: raw})
			if err != nil {
				t.Fatalf("%s: %v", q, err)
			}
			got := map[int64]int64{}
			for _, r := range res.Rows {
				got[r[0].Int()] = r[1].Int()
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("%s (raw %v):\ngot  %v\nwant %v", q, raw, fmtCounts(got), fmtCounts(want))
			}
		}
	}
}

func fmtCounts(m map[int64]int64) string {
	var b strings.Builder
	for _, k := range sortedInt64Keys(m) {
		fmt.Fprintf(&b, "%s=%d ", time.Unix(0, k).UTC().Format(time.RFC3339), m[k])
	}
	return b.String()
}

func sortedInt64Keys(m map[int64]int64) []int64 {
	keys := make([]int64, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && keys[j] < keys[j-1]; j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
	return keys
}
