package remote

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/planner"
)

// randPoints makes points of collections m and n: devices d0…d9 with the
// shard tag, series without it (their device is their series key), every
// field kind, rewrites of the same time, and times near the ends of int64's
// range as well as around now.
func randPoints(r *rand.Rand, n int) []model.Point {
	pts := make([]model.Point, 0, n)
	day := int64(24 * time.Hour)
	for range n {
		coll := "m"
		if r.IntN(5) == 0 {
			coll = "n"
		}
		var tags model.Tags
		switch d := r.IntN(12); {
		case d < 10:
			tags = model.Tags{{Key: rtShard, Value: fmt.Sprintf("d%d", d)}, {Key: "region", Value: []string{"eu", "us"}[d%2]}}
		case d == 10:
			tags = model.Tags{{Key: "host", Value: "h1"}, {Key: "region", Value: "eu"}}
		default:
			tags = model.Tags{{Key: "host", Value: "h2"}}
		}
		var t int64
		switch r.IntN(10) {
		case 0:
			t = math.MinInt64 + r.Int64N(3)
		case 1:
			t = math.MaxInt64 - r.Int64N(3)
		case 2:
			t = r.Int64N(5) - 2
		default:
			t = tBase + r.Int64N(40)*day + r.Int64N(6)*int64(time.Hour)
		}
		var fs []model.Field
		if r.IntN(3) > 0 {
			fs = append(fs, model.Field{Key: "f", Value: model.Float(float64(r.IntN(200)) / 4)})
		}
		if r.IntN(2) == 0 {
			fs = append(fs, model.Field{Key: "i", Value: model.Int(r.Int64N(100) - 50)})
		}
		if r.IntN(4) == 0 {
			fs = append(fs, model.Field{Key: "u", Value: model.Uint(r.Uint64N(1000))})
		}
		if r.IntN(4) == 0 {
			fs = append(fs, model.Field{Key: "s", Value: model.String(fmt.Sprintf("v%d", r.IntN(4)))})
		}
		if tags.Get(rtShard) == "d7" && r.IntN(2) == 0 {
			// A field and a tag only one device has: pruned queries
			// need the other nodes' schema.
			fs = append(fs, model.Field{Key: "rare", Value: model.Int(r.Int64N(9))})
			tags = append(tags, model.Tag{Key: "zone", Value: "z"})
		}
		if len(fs) == 0 || r.IntN(6) == 0 {
			fs = append(fs, model.Field{Key: "b", Value: model.Bool(r.IntN(2) == 0)})
		}
		pts = append(pts, model.Point{Collection: coll, Tags: tags, Fields: fs, Time: t})
	}
	return pts
}

// randQuery makes a query from a small generator over the grammar.
func randQuery(r *rand.Rand) string {
	pick := func(xs ...string) string { return xs[r.IntN(len(xs))] }
	dev := func() string { return fmt.Sprintf("'d%d'", r.IntN(11)) }
	var cond func(depth int) string
	cond = func(depth int) string {
		if depth < 2 && r.IntN(3) == 0 {
			return "(" + cond(depth+1) + pick(" AND ", " OR ") + cond(depth+1) + ")"
		}
		switch r.IntN(16) {
		case 0, 1:
			return "device_id = " + dev()
		case 2:
			return "device_id IN (" + dev() + ", " + dev() + ")"
		case 3:
			return "device_id NOT IN (" + dev() + ")"
		case 4:
			return "device_id " + pick("!=", "<>", ">", "<=") + " " + dev()
		case 5:
			return "device_id " + pick("=~", "!~") + " " + pick("/d[0-4]/", "/^$/", "/h/")
		case 6:
			return "device_id = ''"
		case 7:
			return "region " + pick("=", "!=") + " " + pick("'eu'", "'us'", "''")
		case 8:
			return "host " + pick("=", "!=", "=~") + " " + pick("'h1'", "'h2'", "/h/")
		case 9:
			return "f " + pick(">", "<=", "=") + " " + pick("10", "25.5", "-1")
		case 10:
			return "i " + pick(">", "<", "!=") + " " + pick("0", "-20")
		case 11:
			return "s " + pick("=", "!=") + " 'v1'"
		case 12:
			return pick("b = true", "b = false", "rare > 3", "zone = 'z'", "nope = 1", "u > 500", "u IN (1, 7, 900)", "s NOT IN ('v0', 'v2')", "f BETWEEN 5 AND 30")
		case 13:
			return "time " + pick(">=", "<", ">", "<=") + " " + pick("'2024-01-10T00:00:00Z'", "'2024-02-01T00:00:00Z'", "0", "-9223372036854775808", "9223372036854775807")
		case 14:
			return "time BETWEEN '2024-01-05T00:00:00Z' AND '2024-01-20T00:00:00Z'"
		}
		return "device_id BETWEEN 'd2' AND 'd6'"
	}
	coll := pick("m", "m", "m", "n", "nope")
	var b strings.Builder
	agg := r.IntN(2) == 0
	if agg {
		b.WriteString("SELECT ")
		n := 1 + r.IntN(3)
		for k := range n {
			if k > 0 {
				b.WriteString(", ")
			}
			fn := pick("count", "sum", "mean", "min", "max", "first", "last", "spread", "stddev", "percentile")
			f := pick("f", "i", "u", "f", "i", "s", "b", "rare")
			if fn == "percentile" {
				fmt.Fprintf(&b, "percentile(%s, %d)", f, r.IntN(101))
			} else {
				fmt.Fprintf(&b, "%s(%s)", fn, f)
			}
		}
	} else {
		b.WriteString("SELECT " + pick("*", "f", "f, i", "i, s, b", "u, region", "f, device_id", "b", "rare, zone"))
	}
	b.WriteString(" FROM " + coll)
	hasTime := false
	if r.IntN(5) > 0 {
		w := cond(0)
		if r.IntN(2) == 0 {
			w += " AND time >= '2024-01-0" + fmt.Sprint(1+r.IntN(9)) + "T00:00:00Z' AND time < '2024-02-0" + fmt.Sprint(1+r.IntN(9)) + "T00:00:00Z'"
			hasTime = true
		}
		b.WriteString(" WHERE " + w)
	}
	var groups []string
	if agg && hasTime && r.IntN(2) == 0 {
		groups = append(groups, "time("+pick("1d", "7d", "6h", "1M")+")")
	}
	if r.IntN(3) == 0 {
		groups = append(groups, pick("device_id", "region", "host", "zone"))
	}
	if len(groups) > 0 {
		b.WriteString(" GROUP BY " + strings.Join(groups, ", "))
		if strings.HasPrefix(groups[0], "time(") && r.IntN(2) == 0 {
			b.WriteString(" FILL(" + pick("none", "null", "previous", "linear", "0") + ")")
		}
	}
	if r.IntN(3) == 0 {
		b.WriteString(" ORDER BY time DESC")
	}
	if r.IntN(3) == 0 {
		fmt.Fprintf(&b, " LIMIT %d", 1+r.IntN(5))
		if r.IntN(2) == 0 {
			fmt.Fprintf(&b, " OFFSET %d", r.IntN(4))
		}
	}
	return b.String()
}

// TestRandomDifferential writes random points to one DB and through a
// router's Client to three nodes, deletes some, and runs random queries
// against both: rows, columns, stats and errors must be identical, before
// and after flushes (rollups).
func TestRandomDifferential(t *testing.T) {
	seed := uint64(12)
	if s, err := strconv.ParseUint(os.Getenv("SOLTIX_RAND_SEED"), 10, 64); err == nil {
		seed = s // to explore: SOLTIX_RAND_SEED=n go test -run TestRandomDifferential
	}
	r := rand.New(rand.NewPCG(seed, 1))
	c := newCluster(t)
	ctx := testContext(t)
	write := func(pts []model.Point) {
		t.Helper()
		werr := c.single.Write(ctx, pts)
		gerr := c.reader.Write(ctx, pts)
		if fmt.Sprint(werr) != fmt.Sprint(gerr) {
			t.Fatalf("write: router %v, single %v", gerr, werr)
		}
	}
	for range 4 {
		write(randPoints(r, 600))
	}
	queries := 250
	if testing.Short() {
		queries = 60
	}
	check := func(t *testing.T) {
		for range queries {
			q := randQuery(r)
			if r.IntN(8) == 0 {
				q = "EXPLAIN " + q
			}
			opts := planner.Options{RawOnly: r.IntN(6) == 0}
			want, werr := run(ctx, c.single, q, opts)
			got, gerr := run(ctx, c.reader, q, opts)
			if fmt.Sprint(werr) != fmt.Sprint(gerr) {
				t.Errorf("%s\nerror %v, want %v", q, gerr, werr)
				continue
			}
			if werr != nil {
				continue
			}
			if strings.HasPrefix(q, "EXPLAIN") {
				continue // the figures depend on the split; TestDifferential checks its shape
			}
			if !reflect.DeepEqual(got.Columns, want.Columns) || !reflect.DeepEqual(got.Rows, want.Rows) {
				t.Errorf("%s\n got %d rows %v\nwant %d rows %v", q, len(got.Rows), head(got.Rows), len(want.Rows), head(want.Rows))
			}
			if !reflect.DeepEqual(got.Stats, want.Stats) {
				t.Errorf("%s\nstats %+v, want %+v", q, got.Stats, want.Stats)
			}
		}
	}
	t.Run("memory", check)
	c.flush(t)
	write(randPoints(r, 400)) // rewrites over flushed data, dirty buckets
	t.Run("flushed and rewritten", check)
	for _, del := range []string{
		"DELETE FROM m WHERE device_id = 'd3'",
		"DELETE FROM m WHERE region = 'eu' AND time >= '2024-01-10T00:00:00Z' AND time < '2024-01-20T00:00:00Z'",
		"DELETE FROM n WHERE host = 'h2'",
	} {
		want, werr := run(ctx, c.single, del, planner.Options{})
		got, gerr := run(ctx, c.reader, del, planner.Options{})
		if fmt.Sprint(werr) != fmt.Sprint(gerr) || (werr == nil && !reflect.DeepEqual(got.Rows, want.Rows)) {
			t.Fatalf("%s: %v %v, want %v %v", del, got, gerr, want, werr)
		}
	}
	t.Run("deleted", check)
	c.flush(t)
	t.Run("deleted and flushed", check)
}
