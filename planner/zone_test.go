package planner

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/query"
)

// refStarts lists bucket starts from an independent computation: plain
// loops over dates with time.Date in the zone. unit is "d" (n days from the
// epoch's day), "w" (n weeks from Monday 1970-01-05), "M" (n months from
// month indexes ≡ shift mod n), "fixed" (n ns from the epoch plus wall).
// wall is added on the zone's clock. Starts cover [from, to] with one
// bucket of margin on each side.
func refStarts(unit string, n int64, loc *time.Location, wall time.Duration, shift int64, from, to time.Time) []time.Time {
	var out []time.Time
	switch unit {
	case "fixed":
		step := time.Duration(n)
		first := time.Unix(0, 0).Add(wall % step)
		k := int64(from.Sub(first) / step)
		for t := first.Add(time.Duration(k-2) * step); !t.After(to.Add(2 * step)); t = t.Add(step) {
			out = append(out, t)
		}
	case "d", "w":
		days := n
		origin := time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
		if unit == "w" {
			days, origin = 7*n, origin.AddDate(0, 0, 4)
		}
		k := int(from.Sub(origin).Hours()/24) / int(days)
		for i := k - 3; ; i++ {
			d := origin.AddDate(0, 0, i*int(days))
			s := time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, int(wall), loc)
			out = append(out, s)
			if s.After(to) {
				break
			}
		}
	case "M":
		for y := from.Year() - 2; y <= to.Year()+2; y++ {
			for m := 1; m <= 12; m++ {
				idx := int64(y)*12 + int64(m) - 1
				if ((idx-shift)%n+n)%n == 0 {
					out = append(out, time.Date(y, time.Month(m), 1, 0, 0, 0, int(wall), loc))
				}
			}
		}
	}
	return out
}

func TestZonedBuckets(t *testing.T) {
	day := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	type tc struct {
		q      string // GROUP BY ... [TZ(...)]
		unit   string
		n      int64
		zone   string
		wall   time.Duration
		shift  int64
		around string // a UTC time the samples surround (±3 days, or ±100 days for months)
	}
	cases := []tc{
		{"GROUP BY 1d TZ('Europe/Paris')", "d", 1, "Europe/Paris", 0, 0, "2025-03-30T00:00:00Z"}, // spring forward: 23h
		{"GROUP BY 1d TZ('Europe/Paris')", "d", 1, "Europe/Paris", 0, 0, "2025-10-26T00:00:00Z"}, // fall back: 25h
		{"GROUP BY 1d TZ('America/New_York')", "d", 1, "America/New_York", 0, 0, "2025-03-09T06:00:00Z"},
		{"GROUP BY 1d TZ('America/New_York')", "d", 1, "America/New_York", 0, 0, "2025-11-02T06:00:00Z"},
		{"GROUP BY 2d TZ('America/New_York')", "d", 2, "America/New_York", 0, 0, "2025-11-02T06:00:00Z"},
		{"GROUP BY 1d TZ('Asia/Kolkata')", "d", 1, "Asia/Kolkata", 0, 0, "2025-06-01T00:00:00Z"},
		{"GROUP BY 1d TZ('Asia/Kathmandu')", "d", 1, "Asia/Kathmandu", 0, 0, "2025-06-01T00:00:00Z"},
		{"GROUP BY 1d TZ('Australia/Lord_Howe')", "d", 1, "Australia/Lord_Howe", 0, 0, "2025-04-06T00:00:00Z"}, // a 30-minute DST shift
		{"GROUP BY 1w TZ('Europe/Paris')", "w", 1, "Europe/Paris", 0, 0, "2025-03-30T00:00:00Z"},
		{"GROUP BY 2w TZ('America/New_York')", "w", 2, "America/New_York", 0, 0, "2025-11-02T00:00:00Z"},
		{"GROUP BY time(1d, 6h) TZ('Europe/Paris')", "d", 1, "Europe/Paris", 6 * time.Hour, 0, "2025-03-30T00:00:00Z"},
		{"GROUP BY time(1d, -90m) TZ('Europe/Paris')", "d", 1, "Europe/Paris", 22*time.Hour + 30*time.Minute, 0, "2025-10-26T00:00:00Z"},
		{"GROUP BY time(1d, 2h30m) TZ('Europe/Paris')", "d", 1, "Europe/Paris", 0, 0, ""}, // not a duration literal: skipped
		{"GROUP BY 1M TZ('Europe/Paris')", "M", 1, "Europe/Paris", 0, 0, "2025-03-15T00:00:00Z"},
		{"GROUP BY 3M TZ('America/New_York')", "M", 3, "America/New_York", 0, 0, "2025-06-15T00:00:00Z"},
		{"GROUP BY 1y TZ('Asia/Kolkata')", "M", 12, "Asia/Kolkata", 0, 0, "2025-12-31T20:00:00Z"},
		{"GROUP BY time(1y, 3M)", "M", 12, "UTC", 0, 3, "2025-04-01T00:00:00Z"},
		{"GROUP BY time(1y, -9M)", "M", 12, "UTC", 0, 3, "2025-04-01T00:00:00Z"},
		{"GROUP BY time(1M, 6h)", "M", 1, "UTC", 6 * time.Hour, 0, "2025-03-01T00:00:00Z"},
		{"GROUP BY time(1M, -6h) TZ('Europe/Paris')", "M", 1, "Europe/Paris", -6 * time.Hour, 0, "2025-03-01T00:00:00Z"},
		{"GROUP BY time(1h, 15m)", "fixed", int64(time.Hour), "UTC", 15 * time.Minute, 0, "2025-03-30T00:00:00Z"},
		{"GROUP BY time(1h, -15m)", "fixed", int64(time.Hour), "UTC", 45 * time.Minute, 0, "2025-03-30T00:00:00Z"},
		{"GROUP BY time(1h, 75m)", "fixed", int64(time.Hour), "UTC", 15 * time.Minute, 0, "2025-03-30T00:00:00Z"},
		{"GROUP BY time(1d, 2h)", "fixed", 24 * int64(time.Hour), "UTC", 2 * time.Hour, 0, "2025-03-30T00:00:00Z"},
		{"GROUP BY time(1w, 1d)", "fixed", 7 * 24 * int64(time.Hour), "UTC", 5 * 24 * time.Hour, 0, "2025-03-30T00:00:00Z"}, // Tuesday
		{"GROUP BY time(1h) TZ('Asia/Kolkata')", "fixed", int64(time.Hour), "UTC", 0, 0, "2025-03-30T00:00:00Z"},            // ns … h ignore TZ
		{"GROUP BY time(1h, 30m) TZ('Asia/Kolkata')", "fixed", int64(time.Hour), "UTC", 30 * time.Minute, 0, "2025-03-30T00:00:00Z"},
	}
	for _, c := range cases {
		if c.around == "" {
			continue
		}
		t.Run(c.q, func(t *testing.T) {
			sel := mustSelect(t, "SELECT count(v) FROM c "+c.q)
			bk, err := bucketerFor(sel)
			if err != nil {
				t.Fatal(err)
			}
			loc, err := time.LoadLocation(c.zone)
			if err != nil {
				t.Fatal(err)
			}
			mid := day(c.around)
			span := 3 * 24 * time.Hour
			if c.unit == "M" {
				span = 400 * 24 * time.Hour
			}
			from, to := mid.Add(-span), mid.Add(span)
			starts := refStarts(c.unit, c.n, loc, c.wall, c.shift, from, to)
			sort.Slice(starts, func(i, j int) bool { return starts[i].Before(starts[j]) })
			ref := func(tm time.Time) (lo, hi int64) {
				for i := len(starts) - 2; i >= 0; i-- {
					if !tm.Before(starts[i]) {
						return starts[i].UnixNano(), starts[i+1].UnixNano() - 1
					}
				}
				t.Fatalf("reference has no bucket for %s", tm)
				return 0, 0
			}
			var samples []time.Time
			step := 7 * time.Minute
			if c.unit == "M" {
				step = 5 * time.Hour
			}
			for tm := from; tm.Before(to); tm = tm.Add(step) {
				samples = append(samples, tm)
			}
			for _, s := range starts {
				if s.After(from) && s.Before(to) {
					samples = append(samples, s, s.Add(-1), s.Add(1))
				}
			}
			for _, tm := range samples {
				lo, hi := bk.span(tm.UnixNano())
				wlo, whi := ref(tm)
				if lo != wlo || hi != whi {
					t.Fatalf("span(%s) = [%s, %s], want [%s, %s]", tm.UTC().Format(time.RFC3339Nano),
						time.Unix(0, lo).UTC().Format(time.RFC3339Nano), time.Unix(0, hi).UTC().Format(time.RFC3339Nano),
						time.Unix(0, wlo).UTC().Format(time.RFC3339Nano), time.Unix(0, whi).UTC().Format(time.RFC3339Nano))
				}
			}
			// count agrees with the reference's starts.
			a, b := samples[0], samples[len(samples)/2]
			want := 0
			alo, _ := ref(a)
			blo, _ := ref(b)
			for _, s := range starts {
				if s.UnixNano() >= alo && s.UnixNano() <= blo {
					want++
				}
			}
			if got := bk.count(a.UnixNano(), b.UnixNano()); got != uint64(want) {
				t.Errorf("count(%s, %s) = %d, want %d", a, b, got, want)
			}
		})
	}
}

// TestZonedDayLengths pins the DST days the issue names: local days of 23
// and 25 hours.
func TestZonedDayLengths(t *testing.T) {
	for _, c := range []struct {
		zone, date string
		hours      int
	}{
		{"Europe/Paris", "2025-03-30", 23},
		{"Europe/Paris", "2025-10-26", 25},
		{"Europe/Paris", "2025-06-01", 24},
		{"America/New_York", "2025-03-09", 23},
		{"America/New_York", "2025-11-02", 25},
		{"Asia/Kolkata", "2025-03-30", 24},
	} {
		loc, _ := time.LoadLocation(c.zone)
		d, _ := time.Parse("2006-01-02", c.date)
		noon := time.Date(d.Year(), d.Month(), d.Day(), 12, 0, 0, 0, loc)
		bk, err := bucketerFor(mustSelect(t, fmt.Sprintf("SELECT count(v) FROM c GROUP BY 1d TZ('%s')", c.zone)))
		if err != nil {
			t.Fatal(err)
		}
		lo, hi := bk.span(noon.UnixNano())
		wantLo := time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, loc)
		if lo != wantLo.UnixNano() || time.Duration(hi+1-lo) != time.Duration(c.hours)*time.Hour {
			t.Errorf("%s %s: bucket [%s, +%s), want [%s, +%dh)", c.zone, c.date, time.Unix(0, lo).UTC(), time.Duration(hi+1-lo), wantLo.UTC(), c.hours)
		}
	}
}

// TestZonedLevels checks which levels a zone lets the plan read, per
// period of its offset.
func TestZonedLevels(t *testing.T) {
	for _, c := range []struct {
		q      string
		lo, hi string
		want   []model.Level // distinct levels of the segments, in order of first use
	}{
		{"GROUP BY 1d TZ('Europe/Paris')", "2025-01-01T00:00:00Z", "2026-01-01T00:00:00Z", []model.Level{model.Level1h}},
		{"GROUP BY 1d TZ('America/New_York')", "2025-01-01T00:00:00Z", "2026-01-01T00:00:00Z", []model.Level{model.Level1h}},
		{"GROUP BY 1d TZ('Asia/Kolkata')", "2025-01-01T00:00:00Z", "2026-01-01T00:00:00Z", []model.Level{model.LevelRaw}},
		{"GROUP BY 1d TZ('Asia/Kathmandu')", "2025-01-01T00:00:00Z", "2026-01-01T00:00:00Z", []model.Level{model.LevelRaw}},
		{"GROUP BY time(1d, 30m) TZ('Asia/Kolkata')", "2025-01-01T00:00:00Z", "2026-01-01T00:00:00Z", []model.Level{model.Level1h}},
		{"GROUP BY 1d TZ('Europe/London')", "2025-01-10T00:00:00Z", "2025-02-10T00:00:00Z", []model.Level{model.Level1d}},
		{"GROUP BY 1M TZ('Europe/Paris')", "2025-01-01T00:00:00Z", "2026-01-01T00:00:00Z", []model.Level{model.Level1h}},
		{"GROUP BY time(1M, 6h)", "2025-01-01T00:00:00Z", "2026-01-01T00:00:00Z", []model.Level{model.Level1h}},
		{"GROUP BY time(1h, 15m)", "2025-01-01T00:00:00Z", "2026-01-01T00:00:00Z", []model.Level{model.LevelRaw}},
		{"GROUP BY time(2h, 1h)", "2025-01-01T00:00:00Z", "2026-01-01T00:00:00Z", []model.Level{model.Level1h}},
		{"GROUP BY time(1d, 1d)", "2025-01-01T00:00:00Z", "2026-01-01T00:00:00Z", []model.Level{model.Level1d}},
		{"GROUP BY time(1y, 3M)", "2025-04-01T00:00:00Z", "2027-04-01T00:00:00Z", []model.Level{model.Level1M}},
		{"GROUP BY 1y", "2025-01-01T00:00:00Z", "2027-01-01T00:00:00Z", []model.Level{model.Level1y}},
		// Paris kept local mean time (+00:09:21) until 1911: raw there.
		{"GROUP BY 1d TZ('Europe/Paris')", "1890-01-01T00:00:00Z", "1925-01-01T00:00:00Z", []model.Level{model.LevelRaw, model.Level1h}},
	} {
		t.Run(c.q+" "+c.lo, func(t *testing.T) {
			sel := mustSelect(t, fmt.Sprintf("SELECT count(v) FROM c WHERE time >= '%s' AND time < '%s' %s", c.lo, c.hi, c.q))
			bk, err := bucketerFor(sel)
			if err != nil {
				t.Fatal(err)
			}
			lo, _ := time.Parse(time.RFC3339, c.lo)
			hi, _ := time.Parse(time.RFC3339, c.hi)
			var segs []segment
			if bk.kind == bucketZoned {
				segs = bk.z.segments(lo.UnixNano(), hi.UnixNano()-1, bk.topLevel())
			} else {
				segs = planSegments(lo.UnixNano(), hi.UnixNano()-1, bk.topLevel())
			}
			var got []model.Level
			seen := map[model.Level]bool{}
			for _, s := range segs {
				if !seen[s.level] {
					seen[s.level] = true
					got = append(got, s.level)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Errorf("levels %v, want %v (segments %v)", got, c.want, segs)
			}
		})
	}
}

func TestZoneErrors(t *testing.T) {
	for _, c := range []struct{ q, want string }{
		{"SELECT count(v) FROM c GROUP BY time(1M, 30d)", "the offset of a calendar interval must be shorter than 28d"},
	} {
		_, err := bucketerFor(mustSelect(t, c.q))
		if err == nil || err.Error() != c.want && !containsStr(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.q, err, c.want)
		}
	}
}

func containsStr(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

func mustSelect(t *testing.T, q string) *query.Select {
	t.Helper()
	st, err := query.Parse(q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return st.Select
}

// TestZonedBucketsProperties checks, for random times from 1880 to 2150
// and several zones, intervals and offsets, that span(t) holds t, that
// the next bucket starts right after it and holds its own start, and that
// count agrees with walking the buckets.
func TestZonedBucketsProperties(t *testing.T) {
	zones := []string{"Europe/Paris", "America/New_York", "Asia/Kolkata", "Asia/Kathmandu", "Australia/Lord_Howe", "America/Sao_Paulo", "Pacific/Chatham", "Europe/London"}
	groups := []string{"1d", "2d", "1w", "3w", "1M", "5M", "1y", "time(1d, 23h)", "time(1d, -1m)", "time(1M, -27d)", "time(1M, 6h)", "time(1y, 7M)"}
	rng := rand.New(rand.NewPCG(17, 1))
	lo, hi := time.Date(1880, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano(), time.Date(2150, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	for _, zone := range zones {
		for _, g := range groups {
			bk, err := bucketerFor(mustSelect(t, fmt.Sprintf("SELECT count(v) FROM c GROUP BY %s TZ('%s')", g, zone)))
			if err != nil {
				t.Fatal(err)
			}
			for range 40 {
				tt := lo + rng.Int64N(hi-lo)
				a, b := bk.span(tt)
				if a > tt || tt > b {
					t.Fatalf("%s %s: span(%d) = [%d, %d] does not hold it", zone, g, tt, a, b)
				}
				c, d := bk.span(b + 1)
				if c != b+1 || d <= c {
					t.Fatalf("%s %s: the bucket after [%d, %d] is [%d, %d]", zone, g, a, b, c, d)
				}
				if a > lo {
					if _, e := bk.span(a - 1); e != a-1 {
						t.Fatalf("%s %s: the bucket before [%d, %d] ends at %d", zone, g, a, b, e)
					}
				}
				// count over a few buckets equals walking them.
				end, n := tt, uint64(1)
				for range rng.IntN(5) {
					_, e := bk.span(end)
					end = e + 1
					n++
				}
				if got := bk.count(tt, end); got != n {
					t.Fatalf("%s %s: count(%d, %d) = %d, want %d", zone, g, tt, end, got, n)
				}
			}
		}
	}
}
