package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	influx "github.com/influxdata/influxdb1-client/v2"
)

// influxAnswer is InfluxDB 1.x's /query answer.
type influxAnswer struct {
	Results []struct {
		StatementID int `json:"statement_id"`
		Series      []struct {
			Name    string            `json:"name"`
			Tags    map[string]string `json:"tags"`
			Columns []string          `json:"columns"`
			Values  [][]any           `json:"values"`
			Partial bool              `json:"partial"`
		} `json:"series"`
		Error   string `json:"error"`
		Partial bool   `json:"partial"`
	} `json:"results"`
	Error string `json:"error"`
}

// influxQLData writes the data the InfluxQL tests read: cpu for hosts a, b
// and c (a and b in region us) every 10 s for two hours from t0, and mem
// for host a, and returns t0.
func influxQLData(t *testing.T, base string) time.Time {
	t.Helper()
	t0 := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	var b strings.Builder
	for i := range 720 {
		ts := t0.Add(time.Duration(i) * 10 * time.Second).Unix()
		for h, host := range []string{"a", "b", "c"} {
			region := "us"
			if host == "c" {
				region = "eu"
			}
			fmt.Fprintf(&b, "cpu,host=%s,region=%s usage_user=%g,usage_idle=%g,n=%di %d\n",
				host, region, float64((i*7+h*13)%100)+0.25, float64(100-(i*3+h)%100), i%17+h, ts)
		}
		if i%6 == 0 {
			fmt.Fprintf(&b, "mem,host=a used=%di %d\n", 1000+i, ts)
		}
	}
	resp, err := http.Post(base+"/write?db=soltix&precision=s", "text/plain", strings.NewReader(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("write: %d %s", resp.StatusCode, body)
	}
	return t0
}

// grafanaQuery sends q to /query the way Grafana's InfluxDB data source
// (InfluxQL mode) does, captured from its backend (pkg/tsdb/influxdb): GET
// with db, epoch=ms and q in the URL, or, with the data source's HTTP
// method set to POST, db and epoch in the URL and q in a form body.
func grafanaQuery(t *testing.T, base, method, q string) (int, influxAnswer) {
	t.Helper()
	params := url.Values{"db": {"soltix"}, "epoch": {"ms"}}
	var req *http.Request
	var err error
	if method == http.MethodGet {
		params.Set("q", q)
		req, err = http.NewRequest(method, base+"/query?"+params.Encode(), nil)
	} else {
		req, err = http.NewRequest(method, base+"/query?"+params.Encode(), strings.NewReader(url.Values{"q": {q}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var a influxAnswer
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&a); err != nil {
		t.Fatalf("%s %q: %d, body not JSON: %s", method, q, resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("%q: Content-Type %q", q, ct)
	}
	return resp.StatusCode, a
}

// soltixSeries runs q on /api/v1/query with epoch=ms and splits its rows
// into series keyed by the values of tagCols, each row without them: what
// the Influx-shaped answer must hold.
func soltixSeries(t *testing.T, base, q string, tagCols ...string) map[string][][]string {
	t.Helper()
	resp, err := http.Get(base + "/api/v1/query?" + url.Values{"q": {q}, "epoch": {"ms"}}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%q: %d %s", q, resp.StatusCode, body)
	}
	var a queryAnswer
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&a); err != nil {
		t.Fatal(err)
	}
	out := map[string][][]string{}
	for _, row := range a.Rows {
		var key []string
		var vals []string
		for c, v := range row {
			if slices.Contains(tagCols, a.Columns[c]) {
				key = append(key, a.Columns[c]+"="+fmt.Sprint(v))
			} else {
				vals = append(vals, fmt.Sprint(v))
			}
		}
		k := strings.Join(key, ",")
		out[k] = append(out[k], vals)
	}
	return out
}

// influxSeriesRows turns an answer's first result into the same map.
func influxSeriesRows(a influxAnswer) (map[string][][]string, []string) {
	out := map[string][][]string{}
	var cols []string
	for _, s := range a.Results[0].Series {
		var key []string
		for _, k := range sortedKeys(s.Tags) {
			key = append(key, k+"="+s.Tags[k])
		}
		cols = s.Columns
		k := strings.Join(key, ",")
		for _, row := range s.Values {
			var vals []string
			for _, v := range row {
				vals = append(vals, fmt.Sprint(v))
			}
			out[k] = append(out[k], vals)
		}
	}
	return out, cols
}

// TestInfluxQLGrafana sends the requests Grafana's built-in InfluxDB data
// source sends in InfluxQL mode — its health check, the query builder's
// SELECTs (time filter in epoch milliseconds, ::tag casts, the retention
// policy in FROM, GROUP BY time and tags, fill) by GET and by POST, and
// the template variable queries — to a real binary, and checks the
// Influx-shaped answers against /api/v1/query's answers to the same
// questions in Soltix's own language.
func TestInfluxQLGrafana(t *testing.T) {
	s := startBinary(t, t.TempDir())
	checkInfluxQLGrafana(t, s.url)
}

// TestInfluxQLGrafanaCluster is TestInfluxQLGrafana through a router of a
// two-node cluster.
func TestInfluxQLGrafanaCluster(t *testing.T) {
	c := startCluster(t, 2)
	c.waitWhole()
	checkInfluxQLGrafana(t, c.url())
}

func checkInfluxQLGrafana(t *testing.T, base string) {
	s := struct{ url string }{base}
	t0 := influxQLData(t, s.url)
	from, to := t0.UnixMilli(), t0.Add(2*time.Hour).UnixMilli()
	timeFilter := fmt.Sprintf("time >= %dms and time <= %dms", from, to)
	nsFilter := fmt.Sprintf("time >= %d AND time <= %d", from*1e6, to*1e6)

	selects := []struct {
		name    string
		influx  string
		soltix  string
		tags    []string
		columns []string
	}{
		{name: "builder default",
			influx:  `SELECT mean("usage_user") FROM "cpu" WHERE ` + timeFilter + ` GROUP BY time(1m) fill(null)`,
			soltix:  `SELECT avg(usage_user) FROM cpu WHERE ` + nsFilter + ` GROUP BY 1m FILL(null)`,
			columns: []string{"time", "mean"}},
		{name: "tag filter, group by tag, retention policy, fill none",
			influx:  `SELECT mean("usage_user") FROM "autogen"."cpu" WHERE ("region"::tag = 'us') AND ` + timeFilter + ` GROUP BY time(10m), "host"::tag fill(none)`,
			soltix:  `SELECT avg(usage_user) FROM cpu WHERE region = 'us' AND ` + nsFilter + ` GROUP BY 10m, host FILL(none)`,
			tags:    []string{"host"},
			columns: []string{"time", "mean"}},
		{name: "several selectors",
			influx:  `SELECT max("usage_user"), min("usage_user"), count("n"), sum("n") FROM "cpu" WHERE ` + timeFilter + ` GROUP BY time(30m), "region" fill(0)`,
			soltix:  `SELECT max(usage_user), min(usage_user), count(n), sum(n) FROM cpu WHERE ` + nsFilter + ` GROUP BY 30m, region FILL(0)`,
			tags:    []string{"region"},
			columns: []string{"time", "max", "min", "count", "sum"}},
		{name: "repeated function names and an alias",
			influx:  `SELECT mean("usage_user"), mean("usage_idle"), last("n") AS "latest" FROM "cpu" WHERE "host" = 'b' AND ` + timeFilter + ` GROUP BY time(1h)`,
			soltix:  `SELECT avg(usage_user), avg(usage_idle), last(n) FROM cpu WHERE host = 'b' AND ` + nsFilter + ` GROUP BY 1h`,
			columns: []string{"time", "mean", "mean_1", "latest"}},
		{name: "time zone, as the builder writes it last",
			influx:  `SELECT count("n") FROM "cpu" WHERE ` + timeFilter + ` GROUP BY time(1d) fill(none) tz('Europe/Paris')`,
			soltix:  `SELECT count(n) FROM cpu WHERE ` + nsFilter + ` GROUP BY 1d FILL(none) TZ('Europe/Paris')`,
			columns: []string{"time", "count"}},
		{name: "offset",
			influx:  `SELECT last("n") FROM "cpu" WHERE ` + timeFilter + ` GROUP BY time(1h, 15m)`,
			soltix:  `SELECT last(n) FROM cpu WHERE ` + nsFilter + ` GROUP BY time(1h, 15m)`,
			columns: []string{"time", "last"}},
		{name: "raw points",
			influx:  `SELECT "usage_user"::field, "n" FROM "cpu" WHERE ("host"::tag = 'a') AND ` + timeFilter,
			soltix:  `SELECT usage_user, n FROM cpu WHERE host = 'a' AND ` + nsFilter,
			columns: []string{"time", "usage_user", "n"}},
		{name: "relative time",
			influx:  `SELECT count("used") FROM "mem" WHERE time > 1709251200000ms - 1h`,
			soltix:  `SELECT count(used) FROM mem WHERE time > 1709251200000000000 - 1h`,
			columns: []string{"time", "count"}},
	}
	for _, tc := range selects {
		for _, method := range []string{http.MethodGet, http.MethodPost} {
			code, a := grafanaQuery(t, s.url, method, tc.influx)
			if code != http.StatusOK || len(a.Results) != 1 || a.Results[0].Error != "" {
				t.Fatalf("%s %s: %d %+v", tc.name, method, code, a)
			}
			got, cols := influxSeriesRows(a)
			want := soltixSeries(t, s.url, tc.soltix, tc.tags...)
			if len(want) == 0 {
				t.Fatalf("%s: the reference query answered nothing", tc.name)
			}
			if !slices.Equal(cols, tc.columns) {
				t.Errorf("%s %s: columns %q, want %q", tc.name, method, cols, tc.columns)
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("%s %s:\n influx %v\n soltix %v", tc.name, method, got, want)
			}
			for _, sr := range a.Results[0].Series {
				if want := strings.Fields(tc.soltix[strings.Index(tc.soltix, " FROM ")+6:])[0]; sr.Name != want {
					t.Errorf("%s: series named %q", tc.name, sr.Name)
				}
				if len(tc.tags) > 0 && len(sr.Tags) != len(tc.tags) {
					t.Errorf("%s: series tags %v, want keys %v", tc.name, sr.Tags, tc.tags)
				}
			}
		}
	}

	// The health check, the variable queries and the builder's lists.
	catalog := []struct {
		q    string
		want string // the first result's series as name|tags|columns|values
	}{
		{q: "SHOW measurements", want: `measurements|[name]|[[cpu] [mem]]`},
		{q: "SHOW MEASUREMENTS LIMIT 1", want: `measurements|[name]|[[cpu]]`},
		{q: "SHOW MEASUREMENTS WITH MEASUREMENT =~ /^me/", want: `measurements|[name]|[[mem]]`},
		{q: "SHOW TAG KEYS", want: `cpu|[tagKey]|[[host] [region]]; mem|[tagKey]|[[host]]`},
		{q: `SHOW TAG KEYS FROM "cpu"`, want: `cpu|[tagKey]|[[host] [region]]`},
		{q: `SHOW TAG VALUES FROM "cpu" WITH KEY = "host"`, want: `cpu|[key value]|[[host a] [host b] [host c]]`},
		{q: `SHOW TAG VALUES WITH KEY IN ("region")`, want: `cpu|[key value]|[[region eu] [region us]]`},
		{q: `SHOW TAG VALUES FROM "autogen"."cpu" WITH KEY =~ /reg/ LIMIT 1`, want: `cpu|[key value]|[[region eu]]`},
		{q: `SHOW FIELD KEYS FROM "cpu"`, want: `cpu|[fieldKey fieldType]|[[n integer] [usage_idle float] [usage_user float]]`},
		{q: `SHOW FIELD KEYS`, want: `cpu|[fieldKey fieldType]|[[n integer] [usage_idle float] [usage_user float]]; mem|[fieldKey fieldType]|[[used integer]]`},
		{q: `SHOW SERIES FROM "cpu"`, want: `|[key]|[[cpu,host=a,region=us] [cpu,host=b,region=us] [cpu,host=c,region=eu]]`},
		{q: `SHOW RETENTION POLICIES on "soltix"`, want: `|[name duration shardGroupDuration replicaN default]|[[autogen 0s 168h0m0s 1 true]]`},
		{q: `SHOW TAG KEYS FROM "nope"`, want: ``},
	}
	for _, tc := range catalog {
		code, a := grafanaQuery(t, s.url, http.MethodGet, tc.q)
		if code != http.StatusOK || len(a.Results) != 1 || a.Results[0].Error != "" {
			t.Fatalf("%q: %d %+v", tc.q, code, a)
		}
		var parts []string
		for _, sr := range a.Results[0].Series {
			parts = append(parts, fmt.Sprintf("%s|%v|%v", sr.Name, sr.Columns, sr.Values))
		}
		if got := strings.Join(parts, "; "); got != tc.want {
			t.Errorf("%q:\n got %s\nwant %s", tc.q, got, tc.want)
		}
	}

	// Several statements in one request, and InfluxDB's errors: a parse
	// error fails the request (400) before anything runs; a statement's
	// own error is its result's, and the statements after it do not run.
	code, a := grafanaQuery(t, s.url, http.MethodPost, `SELECT count("n") FROM "cpu"; SELECT count("used") FROM "mem"`)
	if code != http.StatusOK || len(a.Results) != 2 || a.Results[1].StatementID != 1 ||
		fmt.Sprint(a.Results[0].Series[0].Values[0][1]) != "2160" || fmt.Sprint(a.Results[1].Series[0].Values[0][1]) != "120" {
		t.Errorf("two statements: %d %+v", code, a)
	}
	code, a = grafanaQuery(t, s.url, http.MethodGet, `SELECT mean("usage_user") FROM "cpu" GROUP BY time(1m) fill(null`)
	if code != http.StatusBadRequest || !strings.HasPrefix(a.Error, "error parsing query: ") {
		t.Errorf("parse error: %d %+v", code, a)
	}
	code, a = grafanaQuery(t, s.url, http.MethodGet, `SELECT mean("usage_user"), "n" FROM "cpu"; SHOW DATABASES`)
	if code != http.StatusOK || len(a.Results) != 2 || a.Results[0].Error == "" || a.Results[1].Error != "not executed" {
		t.Errorf("statement error: %d %+v", code, a)
	}
	code, a = grafanaQuery(t, s.url, http.MethodGet, `SELECT mean("v") FROM /cpu|mem/`)
	if code != http.StatusBadRequest || !strings.Contains(a.Error, "FROM with a regular expression is not supported") {
		t.Errorf("unsupported feature: %d %+v", code, a)
	}
}

// TestInfluxQLClientLibrary reads Soltix with InfluxData's own Go client
// for InfluxDB 1.x (github.com/influxdata/influxdb1-client), whole and
// chunked, and checks what it decodes against /api/v1/query.
func TestInfluxQLClientLibrary(t *testing.T) {
	s := startBinary(t, t.TempDir())
	t0 := influxQLData(t, s.url)
	c, err := influx.NewHTTPClient(influx.HTTPConfig{Addr: s.url, Username: "u", Password: "p"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, version, err := c.Ping(5 * time.Second); err != nil || version == "" {
		t.Fatalf("ping: %q %v", version, err)
	}

	q := fmt.Sprintf(`SELECT "usage_user", "n" FROM "cpu" WHERE "host" = 'c' AND time >= '%s' AND time < '%s'`,
		t0.Format(time.RFC3339), t0.Add(time.Hour).Format(time.RFC3339))
	want := soltixSeries(t, s.url, q)[""]
	if len(want) != 360 {
		t.Fatalf("reference answer has %d rows, want 360", len(want))
	}
	rows := func(resp *influx.Response) [][]string {
		var out [][]string
		for _, r := range resp.Results {
			if r.Err != "" {
				t.Fatalf("result error %s", r.Err)
			}
			for _, sr := range r.Series {
				if sr.Name != "cpu" || !slices.Equal(sr.Columns, []string{"time", "usage_user", "n"}) {
					t.Fatalf("series %q columns %q", sr.Name, sr.Columns)
				}
				for _, v := range sr.Values {
					var row []string
					for _, x := range v {
						row = append(row, fmt.Sprint(x))
					}
					out = append(out, row)
				}
			}
		}
		return out
	}
	for _, chunk := range []int{0, 1, 7, 100, 360, 1000} {
		qq := influx.NewQuery(q, "soltix", "ms")
		if chunk > 0 {
			qq.Chunked, qq.ChunkSize = true, chunk
		}
		resp, err := c.Query(qq)
		if err != nil || resp.Error() != nil {
			t.Fatalf("chunk %d: %v %v", chunk, err, resp.Error())
		}
		if chunk > 0 {
			if n := len(resp.Results); n != (360+chunk-1)/chunk {
				t.Errorf("chunk_size %d: %d chunks, want %d", chunk, n, (360+chunk-1)/chunk)
			}
		}
		if got := rows(resp); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("chunk_size %d: client decoded %d rows, differing from /api/v1/query's %d", chunk, len(got), len(want))
		}
	}

	// RFC 3339 times without epoch, as the client's default precision
	// gives; an aggregate without GROUP BY time stands at the range start.
	start := t0.Add(30 * time.Minute)
	resp, err := c.Query(influx.NewQuery(fmt.Sprintf(`SELECT count("n") FROM "cpu" WHERE "host" = 'a' AND time >= '%s'`, start.Format(time.RFC3339)), "soltix", ""))
	if err != nil || resp.Error() != nil || len(resp.Results[0].Series) != 1 {
		t.Fatalf("count: %v %v %+v", err, resp.Error(), resp)
	}
	if row := resp.Results[0].Series[0].Values[0]; fmt.Sprint(row) != fmt.Sprintf("[%s 540]", start.Format(time.RFC3339)) {
		t.Errorf("count row %v, want [%s 540]", row, start.Format(time.RFC3339))
	}

	// Bound parameters are refused by name rather than ignored.
	qp := influx.NewQueryWithParameters(`SELECT "n" FROM "cpu" WHERE "host" = $h`, "soltix", "ms", map[string]any{"h": "a"})
	if resp, err := c.Query(qp); err != nil || resp.Error() == nil || !strings.Contains(resp.Error().Error(), "bound parameters") {
		t.Errorf("bound parameters: %v %v", err, resp.Error())
	}
}
