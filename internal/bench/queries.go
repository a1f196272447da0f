package bench

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// QueryType is one kind of query of a suite: Gen builds an instance with
// random hosts and times.
type QueryType struct {
	Name string
	Gen  func(r *rand.Rand) string
}

func rfc(t time.Time) string { return "'" + t.UTC().Format(time.RFC3339Nano) + "'" }

// window picks a random range of length span inside the data, aligned to
// the minute as TSBS does.
func window(r *rand.Rand, d *Data, span time.Duration) (time.Time, time.Time) {
	room := d.End.Sub(d.Start) - span
	if room <= 0 {
		return d.Start, d.End
	}
	t := d.Start.Add(time.Duration(r.Int64N(int64(room)))).Truncate(time.Minute)
	return t, t.Add(span)
}

func pick(r *rand.Rand, hosts []string, n int) []string {
	p := r.Perm(len(hosts))
	out := make([]string, 0, n)
	for _, i := range p[:min(n, len(hosts))] {
		out = append(out, hosts[i])
	}
	return out
}

func hostCond(tag string, hosts []string) string {
	if len(hosts) == 1 {
		return fmt.Sprintf("%s = '%s'", tag, hosts[0])
	}
	return fmt.Sprintf("%s IN ('%s')", tag, strings.Join(hosts, "', '"))
}

func aggs(fn string, fields []string) string {
	parts := make([]string, len(fields))
	for i, f := range fields {
		parts[i] = fmt.Sprintf("%s(%s)", fn, f)
	}
	return strings.Join(parts, ", ")
}

// CPUSuite is TSBS's devops query set over the cpu-only data, in Soltix's
// language, plus long-range queries that rollups answer.
func CPUSuite(d *Data) []QueryType {
	m := d.Fields
	singleGroupBy := func(metrics, hosts int, span time.Duration) func(r *rand.Rand) string {
		return func(r *rand.Rand) string {
			lo, hi := window(r, d, span)
			return fmt.Sprintf("SELECT %s FROM cpu WHERE %s AND time >= %s AND time < %s GROUP BY 5m",
				aggs("max", m[:metrics]), hostCond("hostname", pick(r, d.Hosts, hosts)), rfc(lo), rfc(hi))
		}
	}
	maxAll := func(hosts int) func(r *rand.Rand) string {
		return func(r *rand.Rand) string {
			lo, hi := window(r, d, 8*time.Hour)
			return fmt.Sprintf("SELECT %s FROM cpu WHERE %s AND time >= %s AND time < %s GROUP BY 1h",
				aggs("max", m), hostCond("hostname", pick(r, d.Hosts, hosts)), rfc(lo), rfc(hi))
		}
	}
	doubleGroupBy := func(metrics int) func(r *rand.Rand) string {
		return func(r *rand.Rand) string {
			lo, hi := window(r, d, 12*time.Hour)
			return fmt.Sprintf("SELECT %s FROM cpu WHERE time >= %s AND time < %s GROUP BY 1h, hostname",
				aggs("avg", m[:metrics]), rfc(lo), rfc(hi))
		}
	}
	highCPU := func(hosts int) func(r *rand.Rand) string {
		return func(r *rand.Rand) string {
			lo, hi := window(r, d, 12*time.Hour)
			cond := ""
			if hosts > 0 {
				cond = " AND " + hostCond("hostname", pick(r, d.Hosts, hosts))
			}
			return fmt.Sprintf("SELECT * FROM cpu WHERE usage_user > 90%s AND time >= %s AND time < %s", cond, rfc(lo), rfc(hi))
		}
	}
	return []QueryType{
		{"single-groupby-1-1-1", singleGroupBy(1, 1, time.Hour)},
		{"single-groupby-1-1-12", singleGroupBy(1, 1, 12*time.Hour)},
		{"single-groupby-1-8-1", singleGroupBy(1, 8, time.Hour)},
		{"single-groupby-5-1-1", singleGroupBy(5, 1, time.Hour)},
		{"single-groupby-5-1-12", singleGroupBy(5, 1, 12*time.Hour)},
		{"single-groupby-5-8-1", singleGroupBy(5, 8, time.Hour)},
		{"cpu-max-all-1", maxAll(1)},
		{"cpu-max-all-8", maxAll(8)},
		{"double-groupby-1", doubleGroupBy(1)},
		{"double-groupby-5", doubleGroupBy(5)},
		{"double-groupby-all", doubleGroupBy(len(m))},
		{"high-cpu-1", highCPU(1)},
		{"high-cpu-all", highCPU(0)},
		{"lastpoint", func(*rand.Rand) string {
			return fmt.Sprintf("SELECT %s FROM cpu GROUP BY hostname", aggs("last", m))
		}},
		{"groupby-orderby-limit", func(r *rand.Rand) string {
			_, hi := window(r, d, time.Hour)
			return fmt.Sprintf("SELECT max(usage_user) FROM cpu WHERE time < %s GROUP BY 1m ORDER BY time DESC LIMIT 5", rfc(hi))
		}},
		{"rollup-1-host-all-1h", func(r *rand.Rand) string {
			return fmt.Sprintf("SELECT avg(usage_user), max(usage_user) FROM cpu WHERE %s GROUP BY 1h",
				hostCond("hostname", pick(r, d.Hosts, 1)))
		}},
		{"rollup-all-hosts-all-1d", func(*rand.Rand) string {
			return fmt.Sprintf("SELECT %s FROM cpu GROUP BY 1d", aggs("avg", m))
		}},
		// One host's days over the whole data (365 rows of the 1d level
		// on --dataset year), with the time range written out.
		{"rollup-1-host-range-1d", func(r *rand.Rand) string {
			return fmt.Sprintf("SELECT avg(usage_user), max(usage_user) FROM cpu WHERE %s AND time >= %s AND time < %s GROUP BY 1d",
				hostCond("hostname", pick(r, d.Hosts, 1)), rfc(d.Start), rfc(d.End))
		}},
	}
}

// IoTSuite queries the IoT set: per-truck windows, fleet-wide group-bys,
// last positions, a value filter and long-range rollup queries.
func IoTSuite(d *Data) []QueryType {
	return []QueryType{
		{"truck-velocity-1h", func(r *rand.Rand) string {
			lo, hi := window(r, d, time.Hour)
			return fmt.Sprintf("SELECT avg(velocity), max(velocity) FROM readings WHERE %s AND time >= %s AND time < %s GROUP BY 5m",
				hostCond("name", pick(r, d.Hosts, 1)), rfc(lo), rfc(hi))
		}},
		{"fleet-fuel-12h", func(r *rand.Rand) string {
			lo, hi := window(r, d, 12*time.Hour)
			return fmt.Sprintf("SELECT avg(fuel_consumption) FROM readings WHERE time >= %s AND time < %s GROUP BY 1h, fleet", rfc(lo), rfc(hi))
		}},
		{"last-location", func(*rand.Rand) string {
			return "SELECT last(latitude), last(longitude) FROM readings GROUP BY name"
		}},
		{"high-velocity-1h", func(r *rand.Rand) string {
			lo, hi := window(r, d, time.Hour)
			return fmt.Sprintf("SELECT velocity FROM readings WHERE velocity > 90 AND time >= %s AND time < %s", rfc(lo), rfc(hi))
		}},
		{"rollup-truck-all-1h", func(r *rand.Rand) string {
			return fmt.Sprintf("SELECT avg(velocity), stddev(velocity) FROM readings WHERE %s GROUP BY 1h", hostCond("name", pick(r, d.Hosts, 1)))
		}},
		{"rollup-fleet-all-1d", func(*rand.Rand) string {
			return "SELECT avg(velocity), max(elevation) FROM readings GROUP BY 1d, fleet"
		}},
	}
}

// QueryResult summarises the runs of one query type.
type QueryResult struct {
	Name             string
	N                int
	Median, P95, P99 time.Duration
	Min, Max         time.Duration
	Example          string // the first query run
	ResponseBytes    int64  // of the last answer
}

// RunQueries runs n instances of every type, one at a time, and times each
// from sending the request to reading the whole answer.
func RunQueries(ctx context.Context, base string, types []QueryType, n int, seed uint64, progress func(name string, i, n int)) ([]QueryResult, error) {
	n = max(n, 1)
	client := &http.Client{}
	r := rand.New(rand.NewPCG(seed, 0x9e))
	var out []QueryResult
	for _, qt := range types {
		res := QueryResult{Name: qt.Name, N: n}
		lat := make([]time.Duration, 0, n)
		for i := range n {
			if progress != nil {
				progress(qt.Name, i, n)
			}
			q := qt.Gen(r)
			if i == 0 {
				res.Example = q
			}
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/v1/query?q="+url.QueryEscape(q), nil)
			if err != nil {
				return nil, err
			}
			t0 := time.Now()
			resp, err := client.Do(req)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", qt.Name, err)
			}
			nb, err := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			el := time.Since(t0)
			if err != nil {
				return nil, fmt.Errorf("%s: read answer: %w", qt.Name, err)
			}
			if resp.StatusCode != http.StatusOK {
				return nil, fmt.Errorf("%s: HTTP %d for %s", qt.Name, resp.StatusCode, q)
			}
			res.ResponseBytes = nb
			lat = append(lat, el)
		}
		slices.Sort(lat)
		res.Min, res.Median, res.P95, res.P99, res.Max = lat[0], rank(lat, 0.5), rank(lat, 0.95), rank(lat, 0.99), lat[len(lat)-1]
		out = append(out, res)
	}
	return out, nil
}
