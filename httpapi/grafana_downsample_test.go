package httpapi

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// TestGrafanaDownsample: a raw select charted as time series with more
// points per series than maxDataPoints is answered with at most
// maxDataPoints points per series, the ones downsample(v, n) (LTTB)
// returns, with a notice; an aggregated target and a raw series that fits
// are answered as before.
func TestGrafanaDownsample(t *testing.T) {
	h := newGrafanaHarness(t)
	const from, to = "2025-02-01T00:00:00.000Z", "2025-03-01T00:00:00.000Z" // 28 days: 1345 points per device
	const where = "time >= '2025-02-01T00:00:00Z' AND time <= '2025-03-01T00:00:00Z'"
	frames := func(maxDataPoints int64, target string) []map[string]any {
		t.Helper()
		body := gfQueryBody(from, to, 60000, maxDataPoints, `[{`+gfDS+`, "editorMode": "code", "refId": "A",
			"target": "`+target+`", "payload": {"format": "time_series"}}]`, "", "")
		code, got := h.post("/grafana/query", body)
		if code != 200 {
			t.Fatalf("status %d: %v", code, got)
		}
		var out []map[string]any
		for _, f := range got.([]any) {
			out = append(out, f.(map[string]any))
		}
		return out
	}
	notices := func(f map[string]any) string {
		var b strings.Builder
		if ns, ok := f["meta"].(map[string]any)["notices"].([]any); ok {
			for _, n := range ns {
				b.WriteString(n.(map[string]any)["text"].(string) + "\n")
			}
		}
		return b.String()
	}
	points := func(q string) []any {
		t.Helper()
		a := h.mustAPI(q)
		out := []any{}
		for _, row := range a.Rows {
			out = append(out, []any{row[1], row[0]})
		}
		return out
	}

	for _, n := range []int64{2, 3, 100, 500} {
		t.Run(fmt.Sprintf("maxDataPoints=%d", n), func(t *testing.T) {
			h.t = t
			fs := frames(n, "SELECT v FROM dev WHERE $__timeFilter GROUP BY device_id")
			if len(fs) != 3 {
				t.Fatalf("%d frames, want 3", len(fs))
			}
			for i, f := range fs {
				dev := fmt.Sprintf("d%d", i+1)
				got := f["datapoints"].([]any)
				if int64(len(got)) > n {
					t.Errorf("%s: %d points, more than maxDataPoints %d", dev, len(got), n)
				}
				want := points(fmt.Sprintf("SELECT downsample(v, %d) FROM dev WHERE %s AND device_id = '%s'", n, where, dev))
				if !reflect.DeepEqual(got, want) {
					t.Errorf("%s: points differ from downsample(v, %d):\ngot  %v\nwant %v", dev, n, got, want)
				}
				raw := points(fmt.Sprintf("SELECT v FROM dev WHERE %s AND device_id = '%s'", where, dev))
				if !reflect.DeepEqual(got[0], raw[0]) || !reflect.DeepEqual(got[len(got)-1], raw[len(raw)-1]) {
					t.Errorf("%s: first or last point not kept", dev)
				}
				if note := notices(f); !strings.Contains(note, fmt.Sprintf("downsampled from %d to %d points (LTTB) to fit maxDataPoints %d", len(raw), len(got), n)) {
					t.Errorf("%s: notices %q lack the downsampling notice", dev, note)
				}
			}
		})
	}
	t.Run("fits", func(t *testing.T) {
		h.t = t
		fs := frames(5000, "SELECT v FROM dev WHERE $__timeFilter AND device_id = 'd1'")
		raw := points("SELECT v FROM dev WHERE " + where + " AND device_id = 'd1'")
		if got := fs[0]["datapoints"].([]any); !reflect.DeepEqual(got, raw) {
			t.Errorf("a series that fits changed: %d points, want %d", len(got), len(raw))
		}
		if note := notices(fs[0]); strings.Contains(note, "downsampled") {
			t.Errorf("notice on a series that fits: %q", note)
		}
	})
	t.Run("aggregated", func(t *testing.T) {
		h.t = t
		// 28 days in 100 points: the default interval is 12h (56 buckets).
		fs := frames(100, "SELECT avg(v) FROM dev WHERE $__timeFilter GROUP BY $__interval, device_id")
		want := points("SELECT avg(v) FROM dev WHERE " + where + " AND device_id = 'd1' GROUP BY 12h")
		if got := fs[0]["datapoints"].([]any); !reflect.DeepEqual(got, want) {
			t.Errorf("aggregated target changed: %d points, want %d", len(got), len(want))
		}
		if note := notices(fs[0]); strings.Contains(note, "downsampled") {
			t.Errorf("notice on an aggregated target: %q", note)
		}
	})
}
