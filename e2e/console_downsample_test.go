package e2e

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/soltixdb/soltix/storage"
)

// TestConsoleDownsample: a raw select of long series (two devices of
// 50,000 points each) is charted from downsample(f, n): the canvas draws
// at most n points per series (data-series-max-points), n no more than the
// chart's width and 1,000 (data-downsampled), the note says so, and the
// table still holds the raw rows. A short series is charted raw.
func TestConsoleDownsample(t *testing.T) {
	ctx := startBrowser(t)
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	const devices, points = 2, 50000
	srv := startLiveServer(t, t.TempDir(), storage.Options{}, start.Add(points*time.Minute+time.Hour))
	base := srv.http.URL
	var lp strings.Builder
	for d := 1; d <= devices; d++ {
		for i := range points {
			v := 20 + 5*math.Sin(float64(i)/500) + float64(d)
			if i == 31234 {
				v = 90 // a spike LTTB keeps
			}
			fmt.Fprintf(&lp, "sensors,device_id=d%d temp=%g %d\n", d, v, start.Add(time.Duration(i)*time.Minute).Unix())
		}
	}
	if code, body := srv.post("/api/v1/write?precision=s", "text/plain", []byte(lp.String())); code != http.StatusNoContent {
		t.Fatalf("write: %d %s", code, body)
	}
	srv.flush()
	c := &console{t: t, ctx: ctx}
	c.do("open the console", chromedp.EmulateViewport(1280, 900), chromedp.Navigate(base+"/"))
	c.wait("the console to start", `document.body.dataset.console === 'ready'`)
	ctrlEnter := chromedp.KeyEvent(kb.Enter, chromedp.KeyModifiers(chromedp.ModifierCtrl))

	q := "SELECT temp FROM sensors GROUP BY device_id"
	c.typeQuery(q)
	if st := c.run("the raw select", ctrlEnter); st != "ok" {
		t.Fatalf("%s: state %s", q, st)
	}
	n, err := strconv.Atoi(c.str(`document.getElementById('chart').dataset.downsampled`))
	if err != nil || n < 2 || n > 1000 {
		t.Fatalf("data-downsampled = %q, want n in [2, 1000]", c.str(`document.getElementById('chart').dataset.downsampled`))
	}
	var width int
	c.eval(`document.getElementById('chart-plot').clientWidth`, &width)
	if n > width {
		t.Errorf("n = %d exceeds the chart's width %d", n, width)
	}
	maxPts, _ := strconv.Atoi(c.str(`document.getElementById('chart').dataset.seriesMaxPoints`))
	series := c.str(`document.getElementById('chart').dataset.series`)
	if maxPts > n || maxPts < 2 || series != strconv.Itoa(devices) {
		t.Errorf("chart draws %s series, at most %d points per series; want %d series of at most n = %d", series, maxPts, devices, n)
	}
	// The chart's points are those downsample(temp, n) returns.
	_, rows, _ := apiQuery(t, base, fmt.Sprintf("SELECT downsample(temp, %d) FROM sensors GROUP BY device_id", n))
	total, _ := strconv.Atoi(c.str(`document.getElementById('chart').dataset.points`))
	if total != len(rows) {
		t.Errorf("chart draws %d points, downsample(temp, %d) returns %d", total, n, len(rows))
	}
	spike := false
	for _, r := range rows {
		if r[2] == "90" {
			spike = true
		}
	}
	if !spike {
		t.Errorf("downsample(temp, %d) lost the spike", n)
	}
	if note := c.str(`document.getElementById('chart-note').textContent`); !strings.Contains(note, "Chart downsampled") || !strings.Contains(note, fmt.Sprintf("downsample(temp, %d)", n)) {
		t.Errorf("chart note %q", note)
	}
	if got := c.str(`document.getElementById('results').dataset.rows`); got != strconv.Itoa(devices*points) {
		t.Errorf("the table holds %s rows, want every raw row (%d)", got, devices*points)
	}

	// A short series is charted raw, and the note goes away.
	q = "SELECT temp FROM sensors WHERE time < '2025-01-01T01:00:00Z' GROUP BY device_id"
	c.typeQuery(q)
	if st := c.run("a short raw select", ctrlEnter); st != "ok" {
		t.Fatalf("%s: state %s", q, st)
	}
	if got := c.str(`document.getElementById('chart').dataset.downsampled`); got != "" {
		t.Errorf("short series: data-downsampled = %q, want empty", got)
	}
	if got := c.str(`document.getElementById('chart').dataset.seriesMaxPoints`); got != "60" {
		t.Errorf("short series: %s points per series, want 60", got)
	}
	if hidden := c.str(`String(document.getElementById('chart-note').hidden)`); hidden != "true" {
		t.Errorf("the note stays for a raw chart")
	}
}
