package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/soltixdb/soltix/storage"
)

// updateScreenshot makes TestConsole rewrite docs/console.png, the
// screenshot in the README (also SOLTIX_UPDATE_SCREENSHOT=1).
var updateScreenshot = flag.Bool("update-screenshot", false, "rewrite docs/console.png from TestConsole")

// chromiumPath finds a Chromium or Chrome binary. Without one the test
// skips, except in CI (CI set), where it fails: .ci/run installs Chromium.
func chromiumPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("SOLTIX_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless-shell", "/usr/bin/chromium"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("the web console test needs Chromium and none was found on PATH; .ci/run installs it (apt-get install chromium), or set SOLTIX_CHROMIUM")
	}
	t.Skip("Chromium not found on PATH: skipping the web console test (.ci/run installs it; SOLTIX_CHROMIUM names a binary)")
	return ""
}

// syncBuffer collects the browser's output for the log of a failed test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startBrowser launches headless Chromium with a fresh profile and returns
// a context for one tab.
func startBrowser(t *testing.T) context.Context {
	t.Helper()
	path := chromiumPath(t)
	profile := t.TempDir()
	var out syncBuffer
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1280, 900),
		chromedp.CombinedOutput(&out),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() {
		cancelTimeout()
		cancelTab()
		cancelAlloc() // waits for the browser to exit, before profile is removed
		if t.Failed() {
			t.Logf("browser output:\n%s", out.String())
		}
	})
	// Start the browser now, so that a launch failure is reported as such.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start %s: %v\n%s", path, err, out.String())
	}
	return ctx
}

// consoleData writes nDevices × nPoints points, one a minute from start, of
// collection sensors (fields temp and humidity, tag device_id and site).
func consoleData(start time.Time, nDevices, nPoints int) string {
	var b strings.Builder
	for d := 1; d <= nDevices; d++ {
		site := "north"
		if d%2 == 0 {
			site = "south"
		}
		for i := 0; i < nPoints; i++ {
			x := float64(i)
			temp := 17 + 2.5*float64(d) + 2*math.Sin(2*math.Pi*x/90+float64(d)) + 0.4*math.Sin(x*1.7+float64(d*d))
			hum := 55 - 4*float64(d) + 6*math.Cos(2*math.Pi*x/120+float64(d)/2)
			fmt.Fprintf(&b, "sensors,device_id=d%d,site=%s temp=%.2f,humidity=%.1f %d\n",
				d, site, temp, hum, start.Add(time.Duration(i)*time.Minute).Unix())
		}
	}
	return b.String()
}

// apiQuery runs q as the console does (JSON, RFC 3339 times).
func apiQuery(t *testing.T, base, q string) (cols []string, rows [][]string, levels []string) {
	t.Helper()
	resp, err := http.Get(base + "/api/v1/query?format=json&q=" + url.QueryEscape(q))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: status %d: %s", q, resp.StatusCode, body)
	}
	var r struct {
		Columns []string `json:"columns"`
		Rows    [][]any  `json:"rows"`
		Stats   *struct {
			Levels []struct {
				Level string `json:"level"`
			} `json:"levels"`
		} `json:"stats"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&r); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	// The console shows each value as its JSON text (strings unquoted,
	// null as null).
	for _, row := range r.Rows {
		cells := make([]string, len(row))
		for i, v := range row {
			switch v := v.(type) {
			case nil:
				cells[i] = "null"
			case string:
				cells[i] = v
			case json.Number:
				cells[i] = v.String()
			case bool:
				cells[i] = strconv.FormatBool(v)
			default:
				t.Fatalf("unexpected value %T %v", v, v)
			}
		}
		rows = append(rows, cells)
	}
	if r.Stats != nil {
		for _, l := range r.Stats.Levels {
			levels = append(levels, l.Level)
		}
	}
	return r.Columns, rows, levels
}

// console drives the page of one test.
type console struct {
	t   *testing.T
	ctx context.Context
}

func (c *console) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	c.t.Helper()
	if err := chromedp.Do(c.ctx, steps...); err != nil {
		c.t.Fatalf("%s: %v", what, err)
	}
}

// eval evaluates a JavaScript expression and decodes its value into v.
func (c *console) eval(expr string, v any) {
	c.t.Helper()
	raw, err := chromedp.Run(c.ctx, chromedp.Evaluate[[]byte](expr))
	if err != nil {
		c.t.Fatalf("evaluate %s: %v", expr, err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		c.t.Fatalf("evaluate %s: decode %s: %v", expr, raw, err)
	}
}

// setValue sets the value of the form element with the id, as a paste
// would (an input event follows).
func (c *console) setValue(id, v string) {
	c.t.Helper()
	js, _ := json.Marshal(v)
	var got string
	c.eval(fmt.Sprintf(`(() => { const e = document.getElementById(%q); e.value = %s; e.dispatchEvent(new Event('input', {bubbles: true})); return e.value; })()`, id, js), &got)
	if got != v {
		c.t.Fatalf("#%s holds %q after setting %q", id, got, v)
	}
}

func (c *console) str(expr string) string {
	c.t.Helper()
	var s string
	c.eval(expr, &s)
	return s
}

// wait polls a JavaScript predicate for up to 10 s.
func (c *console) wait(what, pred string) {
	c.t.Helper()
	_, err := chromedp.Run(c.ctx, chromedp.Poll[chromedp.Void](pred,
		chromedp.WithPollingInterval(20*time.Millisecond), chromedp.WithPollingTimeout(10*time.Second)))
	if err != nil {
		msg := c.str(`(document.getElementById('message').hidden ? '' : document.getElementById('message').textContent)`)
		c.t.Fatalf("waiting for %s (%s): %v; console message: %q", what, pred, err, msg)
	}
}

// run triggers a query with trigger and waits until the console has shown
// its outcome; it returns the output state (ok or error).
func (c *console) run(what string, trigger ...chromedp.Action[chromedp.Void]) string {
	c.t.Helper()
	seq := c.str(`document.getElementById('output').dataset.seq`)
	c.do(what, trigger...)
	c.wait(what, fmt.Sprintf(`(() => { const o = document.getElementById('output'); return o.dataset.seq !== %q && o.dataset.state !== 'running'; })()`, seq))
	return c.str(`document.getElementById('output').dataset.state`)
}

// typeQuery replaces the editor's text by typing q into it.
func (c *console) typeQuery(q string) {
	c.t.Helper()
	c.setValue("query", "")
	c.do("type the query",
		chromedp.Click(chromedp.ID("query")),
		chromedp.SendKeys(chromedp.ID("query"), q))
	if got := c.str(`document.getElementById('query').value`); got != q {
		c.t.Fatalf("editor holds %q after typing %q", got, q)
	}
}

// table returns the header and the cells of the result table.
func (c *console) table(sel string) ([]string, [][]string) {
	c.t.Helper()
	var head []string
	var rows [][]string
	c.eval(`Array.from(document.querySelectorAll('`+sel+` thead th'), th => th.textContent)`, &head)
	c.eval(`Array.from(document.querySelectorAll('`+sel+` tbody tr'), tr => Array.from(tr.cells, td => td.textContent))`, &rows)
	return head, rows
}

func (c *console) screenshot(dir, name string) string {
	c.t.Helper()
	png, err := chromedp.Run(c.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		c.t.Fatalf("screenshot: %v", err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		c.t.Fatal(err)
	}
	return path
}

func artifactDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("SOLTIX_ARTIFACTS")
	if dir == "" {
		return t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestConsole drives the bundled web console in headless Chromium against a
// real server: browse collections, run a GROUP BY query with the keyboard
// and compare the table and the chart with the API's answer, use the
// history, EXPLAIN, the write box (good and bad lines), the status bar and
// Flush.
func TestConsole(t *testing.T) {
	ctx := startBrowser(t)
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	srv := startLiveServer(t, t.TempDir(), storage.Options{}, start.Add(3*time.Hour))
	base := srv.http.URL
	const devices, points = 3, 120
	if code, body := srv.post("/api/v1/write?precision=s", "text/plain", []byte(consoleData(start, devices, points))); code != http.StatusNoContent {
		t.Fatalf("write: %d %s", code, body)
	}
	srv.flush()
	artifacts := artifactDir(t)
	c := &console{t: t, ctx: ctx}

	// Any uncaught exception or rejected promise in the page fails the test.
	var jsMu sync.Mutex
	var jsErrors []string
	err := chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*runtime.EventExceptionThrown); ok && e.ExceptionDetails != nil {
			d := e.ExceptionDetails
			msg := fmt.Sprintf("%s:%d:%d: %s", d.URL, d.LineNumber+1, d.ColumnNumber+1, d.Text)
			if d.Exception != nil && d.Exception.Description != "" {
				msg += " " + d.Exception.Description
			}
			jsMu.Lock()
			jsErrors = append(jsErrors, msg)
			jsMu.Unlock()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		jsMu.Lock()
		defer jsMu.Unlock()
		for _, e := range jsErrors {
			t.Errorf("JavaScript error in the console: %s", e)
		}
	})

	c.do("open the console", chromedp.EmulateViewport(1280, 900), chromedp.Navigate(base+"/"))
	c.wait("the console to start", `document.body.dataset.console === 'ready'`)
	c.wait("the status bar", `document.getElementById('status').dataset.health === 'ok' && document.getElementById('status').dataset.ready === 'ready'`)

	// Browser: the collection, its fields and tags, a tag's values.
	c.wait("the collections", `document.getElementById('browser').dataset.collections === '1'`)
	c.do("expand sensors", chromedp.Click(`#tree li.coll[data-name="sensors"] > .row > .twisty`))
	c.wait("fields and tags", `document.querySelectorAll('#tree li.tag').length === 2`)
	var fields, tags []string
	c.eval(`Array.from(document.querySelectorAll('#tree li.field'), li => li.dataset.name)`, &fields)
	c.eval(`Array.from(document.querySelectorAll('#tree li.tag'), li => li.dataset.key)`, &tags)
	if !slices.Equal(fields, []string{"humidity", "temp"}) || !slices.Equal(tags, []string{"device_id", "site"}) {
		t.Fatalf("browser shows fields %q and tags %q", fields, tags)
	}
	c.do("expand device_id", chromedp.Click(`#tree li.tag[data-key="device_id"] > .row > .twisty`))
	c.wait("tag values", `document.querySelectorAll('#tree li.tag[data-key="device_id"] li.value').length === 3`)

	// A SHOW query, then the chart query, both run with Ctrl+Enter.
	ctrlEnter := chromedp.KeyEvent(kb.Enter, chromedp.KeyModifiers(chromedp.ModifierCtrl))
	c.typeQuery("SHOW FIELDS FROM sensors")
	if st := c.run("SHOW FIELDS", ctrlEnter); st != "ok" {
		t.Fatalf("SHOW FIELDS: state %s", st)
	}
	q := "SELECT avg(temp) FROM sensors GROUP BY 5m, device_id"
	c.typeQuery(q)
	if st := c.run("the GROUP BY query", ctrlEnter); st != "ok" {
		t.Fatalf("%s: state %s", q, st)
	}

	// The table shows exactly what the API returns.
	wantCols, wantRows, wantLevels := apiQuery(t, base, q)
	head, rows := c.table("#results table")
	if !slices.Equal(head, wantCols) {
		t.Fatalf("table columns %q, API %q", head, wantCols)
	}
	if len(rows) != len(wantRows) || len(rows) != devices*points/5 {
		t.Fatalf("table has %d rows, API %d, want %d", len(rows), len(wantRows), devices*points/5)
	}
	for i := range rows {
		if !slices.Equal(rows[i], wantRows[i]) {
			t.Fatalf("table row %d is %q, API %q", i, rows[i], wantRows[i])
		}
	}
	if got := c.str(`document.getElementById('results').dataset.rows`); got != strconv.Itoa(len(wantRows)) {
		t.Errorf("#results data-rows = %s, want %d", got, len(wantRows))
	}
	if got := c.str(`document.getElementById('stats').dataset.levels`); got != strings.Join(wantLevels, ",") || got == "" {
		t.Errorf("stats show levels %q, API %q", got, wantLevels)
	}

	// The chart: one series per device, one point per non-null bucket.
	devs := map[string]bool{}
	nonNull := 0
	for _, r := range wantRows {
		devs[r[1]] = true
		if r[2] != "null" {
			nonNull++
		}
	}
	if got := c.str(`document.getElementById('chart').dataset.series`); got != strconv.Itoa(len(devs)) || len(devs) != devices {
		t.Errorf("chart drew %s series, want %d", got, len(devs))
	}
	if got := c.str(`document.getElementById('chart').dataset.points`); got != strconv.Itoa(nonNull) {
		t.Errorf("chart drew %s points, want %d", got, nonNull)
	}
	var legend []string
	c.eval(`Array.from(document.querySelectorAll('#chart-legend .legend-item'), b => b.dataset.name)`, &legend)
	if !slices.Equal(legend, []string{"device_id=d1", "device_id=d2", "device_id=d3"}) {
		t.Errorf("legend %q", legend)
	}

	// Hover: the tooltip shows every series at the nearest time.
	var box struct{ X, Y, W, H float64 }
	c.eval(`(() => { const r = document.getElementById('chart-overlay').getBoundingClientRect(); return {X: r.left, Y: r.top, W: r.width, H: r.height}; })()`, &box)
	c.do("hover the chart", chromedp.MouseEvent(chromedp.MouseMoved, box.X+box.W*0.6, box.Y+box.H*0.4))
	c.wait("the tooltip", `!document.getElementById('chart-tip').hidden && document.querySelectorAll('#chart-tip .tip-row').length === 3`)
	tipTime := c.str(`document.querySelector('#chart-tip .tip-time').textContent`)
	if !strings.HasPrefix(tipTime, "2025-01-01 ") {
		t.Errorf("tooltip time %q", tipTime)
	}

	shot := c.screenshot(artifacts, "console.png")
	t.Logf("screenshot: %s", shot)
	if *updateScreenshot || os.Getenv("SOLTIX_UPDATE_SCREENSHOT") == "1" {
		png, err := os.ReadFile(shot)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join("..", "docs", "console.png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote docs/console.png")
	}

	// History: Up in an empty editor brings back the last query.
	c.setValue("query", "")
	c.do("recall the last query",
		chromedp.Click(chromedp.ID("query")),
		chromedp.KeyEvent(kb.ArrowUp))
	if got := c.str(`document.getElementById('query').value`); got != q {
		t.Errorf("Up recalled %q, want %q", got, q)
	}
	var hist []string
	c.eval(`Array.from(document.querySelectorAll('#history .hist'), b => b.title)`, &hist)
	if !slices.Equal(hist, []string{q, "SHOW FIELDS FROM sensors"}) {
		t.Errorf("history list %q", hist)
	}

	// Clicking a tag value inserts a condition at the cursor.
	c.typeQuery("SELECT count(temp) FROM sensors WHERE")
	c.do("insert a tag value", chromedp.Click(`#tree button[data-insert="device_id = 'd2'"]`))
	if got := c.str(`document.getElementById('query').value`); got != "SELECT count(temp) FROM sensors WHERE device_id = 'd2'" {
		t.Errorf("editor after inserting: %q", got)
	}

	// A syntax error shows the server's message.
	c.typeQuery("SELECT avg(temp) FORM sensors")
	if st := c.run("a bad query", chromedp.Click(chromedp.ID("run"))); st != "error" {
		t.Fatalf("bad query: state %s", st)
	}
	if msg := c.str(`document.getElementById('message').textContent`); !strings.Contains(msg, `"FORM"`) {
		t.Errorf("error message %q does not name the token", msg)
	}

	// EXPLAIN: a raw edge and hourly rollups, as a bar per segment and a table.
	eq := "SELECT max(temp) FROM sensors WHERE time >= '2025-01-01T00:30:00Z' AND time < '2025-01-01T02:00:00Z' GROUP BY 1h"
	c.typeQuery(eq)
	if st := c.run("EXPLAIN", chromedp.Click(chromedp.ID("run-explain"))); st != "ok" {
		t.Fatalf("EXPLAIN: state %s", st)
	}
	ecols, erows, _ := apiQuery(t, base, "EXPLAIN "+eq)
	lvl := slices.Index(ecols, "level")
	var wantSeg []string
	for _, r := range erows {
		wantSeg = append(wantSeg, r[lvl])
	}
	var segs []string
	c.eval(`Array.from(document.querySelectorAll('#explain .seg'), s => s.dataset.level)`, &segs)
	if !slices.Equal(segs, wantSeg) || len(segs) < 2 || !slices.Contains(segs, "1h") {
		t.Errorf("explain bars %q, API levels %q", segs, wantSeg)
	}
	if got := c.str(`document.getElementById('explain').dataset.segments`); got != strconv.Itoa(len(erows)) {
		t.Errorf("#explain data-segments = %s, want %d", got, len(erows))
	}
	head, rows = c.table("#results table")
	if !slices.Equal(head, ecols) || !slices.Equal(slices.Concat(rows...), slices.Concat(erows...)) {
		t.Errorf("explain table %q %q, API %q %q", head, rows, ecols, erows)
	}
	if got := c.str(`document.getElementById('chart').dataset.series`); got != "0" {
		t.Errorf("chart shown for EXPLAIN (%s series)", got)
	}
	t.Logf("explain screenshot: %s", c.screenshot(artifacts, "console-explain.png"))

	// Write box: a bad line is reported by number and nothing is written;
	// then good lines are.
	good := "sensors,device_id=d9 temp=19.5 1735693200\nsensors,device_id=d9 temp=19.75 1735693260\n"
	c.setValue("write-body", "sensors,device_id=d9 temp=19.5 1735693200\nsensors,device_id=d9 temp=oops 1735693260\n")
	c.setValue("write-precision", "s")
	c.do("send a bad write", chromedp.Click(chromedp.ID("write-send")))
	c.wait("the write error", `document.getElementById('write-result').dataset.status === 'error'`)
	var badLines []string
	c.eval(`Array.from(document.querySelectorAll('#write-result li'), li => li.dataset.line)`, &badLines)
	if !slices.Equal(badLines, []string{"2"}) {
		t.Errorf("write box reports bad lines %q, want [2]", badLines)
	}
	t.Logf("write error screenshot: %s", c.screenshot(artifacts, "console-write.png"))
	c.setValue("write-body", good)
	c.do("send a good write", chromedp.Click(chromedp.ID("write-send")))
	c.wait("the write", `document.getElementById('write-result').dataset.status === 'ok'`)
	_, crow, _ := apiQuery(t, base, "SELECT count(temp) FROM sensors WHERE device_id = 'd9'")
	if len(crow) != 1 || crow[0][1] != "2" {
		t.Errorf("after the write box: count of d9 = %q, want 2", crow)
	}

	// Flush.
	c.do("flush", chromedp.Click(chromedp.ID("flush")))
	c.wait("the flush", `document.getElementById('flush').dataset.result === 'ok'`)
}
