package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestInfluxClientStart does against the real binary what InfluxDB 1.x
// clients do on start: Telegraf's influxdb output (CREATE DATABASE by POST
// form, then /write?db=), TSBS's tsbs_load_influx (SHOW DATABASES by GET,
// CREATE DATABASE ... WITH REPLICATION by GET, DROP only of a listed
// database) and the influx CLI and npm client (GET /ping). The written
// points must then be queryable.
func TestInfluxClientStart(t *testing.T) {
	s := startBinary(t, t.TempDir())
	call := func(method, path, ctype, body string) (int, http.Header, string) {
		t.Helper()
		req, err := http.NewRequest(method, s.url+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, string(b)
	}

	code, h, _ := call("GET", "/ping", "", "")
	if code != http.StatusNoContent || h.Get("X-Influxdb-Version") == "" {
		t.Fatalf("GET /ping: %d, X-Influxdb-Version %q; want 204 and a version", code, h.Get("X-Influxdb-Version"))
	}
	if code, _, _ = call("HEAD", "/ping", "", ""); code != http.StatusNoContent {
		t.Fatalf("HEAD /ping: %d, want 204", code)
	}

	// TSBS: list, and parse the way it does (results[0].series[0].values).
	code, _, body := call("GET", "/query?q=show%20databases", "", "")
	var listing struct {
		Results []struct {
			Series []struct {
				Values [][]string
			}
		}
	}
	if code != http.StatusOK || json.Unmarshal([]byte(body), &listing) != nil ||
		len(listing.Results) == 0 || len(listing.Results[0].Series) == 0 {
		t.Fatalf("SHOW DATABASES: %d %s", code, body)
	}
	if v := listing.Results[0].Series[0].Values; len(v) != 1 || v[0][0] != "soltix" {
		t.Errorf("SHOW DATABASES lists %v, want [[soltix]]", v)
	}
	code, _, body = call("GET", "/query?"+url.Values{"consistency": {"all"}, "q": {"CREATE DATABASE benchmark WITH REPLICATION 1"}}.Encode(), "", "")
	if code != http.StatusOK {
		t.Fatalf("TSBS CREATE DATABASE: %d %s", code, body)
	}

	// Telegraf: CREATE DATABASE as a POST form, then write with db=.
	code, _, body = call("POST", "/query", "application/x-www-form-urlencoded", url.Values{"q": {`CREATE DATABASE "telegraf"`}}.Encode())
	if code != http.StatusOK || strings.Contains(body, `"error"`) {
		t.Fatalf("Telegraf CREATE DATABASE: %d %s", code, body)
	}
	code, _, body = call("POST", "/write?db=telegraf", "text/plain; charset=utf-8",
		"cpu,host=a usage_idle=98.5 1767225600000000000\ncpu,host=b usage_idle=12 1767225600000000000\n")
	if code != http.StatusNoContent {
		t.Fatalf("POST /write?db=telegraf: %d %s", code, body)
	}

	// TSBS writes with its consistency parameter.
	code, _, body = call("POST", "/write?consistency=all&db=benchmark", "text/plain",
		"cpu,host=c usage_idle=50 1767225600000000000\n")
	if code != http.StatusNoContent {
		t.Fatalf("POST /write?consistency=all&db=benchmark: %d %s", code, body)
	}

	// DROP DATABASE never deletes data.
	code, _, body = call("POST", "/query?q=drop+database+telegraf", "text/plain", "")
	if code != http.StatusBadRequest || !strings.Contains(body, "refused") {
		t.Errorf("DROP DATABASE: %d %s, want 400 refused", code, body)
	}
	if res := s.query(t, "SELECT count(usage_idle) FROM cpu"); len(res.Rows) != 1 || res.Rows[0][len(res.Rows[0])-1] != json.Number("3") {
		t.Errorf("after Telegraf's and TSBS's starts and a refused DROP: count rows %v, want one row of 3", res.Rows)
	}
}
