package planner

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/soltixdb/soltix/internal/sketch"
	"github.com/soltixdb/soltix/model"
)

// TestSketchScripts runs testdata/sketch/*.txt, script-style tests of
// percentile from rollup sketches; the format is described at the top of
// each file.
func TestSketchScripts(t *testing.T) {
	files, _ := filepath.Glob("testdata/sketch/*.txt")
	if len(files) == 0 {
		t.Fatal("no testdata/sketch/*.txt")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) { runSketchScript(t, f) })
	}
}

func runSketchScript(t *testing.T, path string) {
	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m := newMemSource()
	lines := strings.Split(string(text), "\n")
	for i := 0; i < len(lines); i++ {
		line := strings.TrimSpace(lines[i])
		var err error
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "data "):
			err = scriptData(m, strings.Fields(line)[1:])
		case strings.HasPrefix(line, "repeat "):
			err = scriptRepeat(m, strings.Fields(line)[1:])
		case strings.HasPrefix(line, "query "):
			at := i + 1
			var block []string
			for i+1 < len(lines) && strings.TrimSpace(lines[i+1]) != "" {
				i++
				block = append(block, strings.TrimSpace(lines[i]))
			}
			if msg := scriptQuery(m, line[len("query "):], block); msg != "" {
				t.Errorf("%s:%d: %s\n%s", path, at, line, msg)
			}
		default:
			err = fmt.Errorf("cannot read %q", line)
		}
		if err != nil {
			t.Fatalf("%s:%d: %v", path, i+1, err)
		}
	}
}

// scriptData reads "<collection> <tags> <time> <field>=<value> ...": a
// value with a '.' (or NaN) is a float, else an integer.
func scriptData(m *memSource, f []string) error {
	if len(f) < 4 {
		return fmt.Errorf("data needs a collection, tags, a time and fields")
	}
	ts, err := time.Parse(time.RFC3339Nano, f[2])
	if err != nil {
		return err
	}
	for _, kv := range f[3:] {
		k, v, _ := strings.Cut(kv, "=")
		if strings.ContainsAny(v, ".N") {
			x, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return err
			}
			m.write(f[0], f[1], ts.UnixNano(), k, x)
			continue
		}
		x, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return err
		}
		m.write(f[0], f[1], ts.UnixNano(), k, x)
	}
	return nil
}

// scriptRepeat reads "<n> <step> <collection> <tags> <start>
// <field>=<first>+<inc>": value k is first + k × inc, computed in
// decimal (so 1.00+0.01 gives 1.13, not 1.1300000000000001).
func scriptRepeat(m *memSource, f []string) error {
	if len(f) != 6 {
		return fmt.Errorf("repeat needs n, step, collection, tags, start and field=first+inc")
	}
	n, err := strconv.Atoi(f[0])
	if err != nil {
		return err
	}
	step, err := time.ParseDuration(f[1])
	if err != nil {
		return err
	}
	start, err := time.Parse(time.RFC3339Nano, f[4])
	if err != nil {
		return err
	}
	k, v, _ := strings.Cut(f[5], "=")
	first, inc, _ := strings.Cut(v, "+")
	_, frac, isFloat := strings.Cut(first, ".")
	scale := math.Pow10(len(frac))
	a, err1 := strconv.ParseFloat(first, 64)
	b, err2 := strconv.ParseFloat(inc, 64)
	if err1 != nil || err2 != nil {
		return fmt.Errorf("bad repeat values %q", v)
	}
	ma, mb := math.Round(a*scale), math.Round(b*scale)
	for i := range n {
		t := start.Add(time.Duration(i) * step).UnixNano()
		if isFloat {
			m.write(f[2], f[3], t, k, (ma+float64(i)*mb)/scale)
		} else {
			m.write(f[2], f[3], t, k, int64(ma)+int64(i)*int64(mb))
		}
	}
	return nil
}

// scriptQuery runs q from rollups and with levels=raw and checks both
// against the expected block; it returns what differs.
func scriptQuery(m *memSource, q string, block []string) string {
	var want []string
	var notes []string
	rawOnly := false
	for _, l := range block {
		switch {
		case strings.HasPrefix(l, "note "):
			notes = append(notes, l[len("note "):])
		case l == "raw-only":
			rawOnly = true
		default:
			want = append(want, l)
		}
	}
	src := newRollupSource(m, 16, math.MinInt64)
	got, err := executeWith(src, q, Options{})
	if err != nil {
		return "error: " + err.Error()
	}
	exact, err := executeWith(src, q, Options{RawOnly: true})
	if err != nil {
		return "levels=raw error: " + err.Error()
	}
	if msg := scriptMatch(got, want, false); msg != "" {
		return "from rollups: " + msg
	}
	if msg := scriptMatch(exact, want, true); msg != "" {
		return "levels=raw: " + msg
	}
	if rawOnly && len(notes) == 0 {
		notes = []string{}
	}
	if strings.Join(got.Stats.Notes, "\n") != strings.Join(notes, "\n") {
		return fmt.Sprintf("notes %q, want %q", got.Stats.Notes, notes)
	}
	if len(exact.Stats.Notes) != 0 {
		return fmt.Sprintf("levels=raw notes %q, want none", exact.Stats.Notes)
	}
	return ""
}

// scriptMatch compares a result with the header and rows of want; with
// exact a cell ~x must be x itself.
func scriptMatch(res *Result, want []string, exact bool) string {
	got := []string{strings.Join(res.Columns, " | ")}
	for _, r := range res.Rows {
		cells := make([]string, len(r))
		for j, v := range r {
			cells[j] = scriptCell(v, j == res.TimeColumn)
		}
		got = append(got, strings.Join(cells, " | "))
	}
	bad := len(got) != len(want)
	for i := 0; !bad && i < len(got); i++ {
		g, w := strings.Split(got[i], " | "), strings.Split(want[i], " | ")
		bad = len(g) != len(w)
		for j := 0; !bad && j < len(g); j++ {
			bad = !scriptCellMatches(g[j], w[j], exact)
		}
	}
	if bad {
		return fmt.Sprintf("got:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	return ""
}

func scriptCell(v model.Value, isTime bool) string {
	switch {
	case v.Kind == model.KindNull:
		return "null"
	case isTime:
		return time.Unix(0, v.Int()).UTC().Format(time.RFC3339Nano)
	case v.Kind == model.KindFloat:
		s := strconv.FormatFloat(v.Float(), 'g', -1, 64)
		if !strings.ContainsAny(s, ".eEN") && !strings.Contains(s, "Inf") {
			s += ".0"
		}
		return s
	}
	return v.String()
}

// scriptCellMatches: a cell ~x matches within the sketch bound (exactly
// when exact), others as text.
func scriptCellMatches(g, w string, exact bool) bool {
	x, ok := strings.CutPrefix(w, "~")
	if !ok || exact {
		return g == x
	}
	gv, err1 := strconv.ParseFloat(g, 64)
	wv, err2 := strconv.ParseFloat(x, 64)
	if err1 != nil || err2 != nil {
		return false
	}
	slack := 0.0
	if !strings.ContainsAny(x, ".eE") {
		slack = 0.5 // an integer field: rounded
	}
	return math.Abs(gv-wv) <= sketch.Alpha*math.Abs(wv)*(1+1e-9)+slack
}
