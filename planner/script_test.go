package planner

import (
	"context"
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
	"github.com/soltixdb/soltix/query"
)

// TestScripts runs the script-style tests of testdata/script/*.txt: specs
// of the language that read as data, queries and the tables they answer.
// A file is a sequence of blocks separated by blank lines; lines starting
// with # are comments.
//
//	data <collection>
//	<tags or -> <time> <field>=<value> ...
//	every <step> from <time> to <time> <tags or -> <field>=<value> ...
//	repeat <n> <step> <tags or -> <start> <field>=<first>+<inc>
//
// adds points to collection: tags k=v,k2=v2; times RFC 3339 UTC or integer
// nanoseconds; values 1.5 float, 7i integer, 7u unsigned, "s" string (may
// hold spaces), true or false. every writes the point at from, from+step,
// … before to; repeat writes n points step apart whose value k is first +
// k × inc, computed in decimal (1.00+0.01 gives 1.13, not
// 1.1300000000000001; an integer without a '.' makes an integer field).
//
//	query
//	<one statement>
//	<columns separated by " | ">
//	<one row per line, cells separated by " | ">
//	note <text>
//
// runs the statement over every data block above it, four ways: over the
// points themselves, over summaries of blocks of 2 points, over 1h, 1d, 1M
// and 1y rollups (with quantile sketches), and over those rollups with
// levels=raw. Each must answer the table. Times print as RFC 3339, null as
// null, floats with a '.' or an exponent (and compare within 1e-12
// relative), integers plain, strings bare. A cell written ~x is a
// percentile read from sketches: from rollups it must lie within the
// sketch's bound of x (1% of |x|, plus 0.5 for an integer field), every
// other way it must be x. The note lines are the notes the rollup answer
// carries, all of them (none when there is no note line). In place of the
// table, "error: <text>" expects an error whose message contains text,
// every way. "query points" runs the statement over the points only: for
// EXPLAIN, whose answer is how that one source is read.
func TestScripts(t *testing.T) {
	files, _ := filepath.Glob("testdata/script/*.txt")
	if len(files) == 0 {
		t.Fatal("no testdata/script/*.txt")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) { runScript(t, f) })
	}
}

// scriptWays are the four ways a script's query runs.
var scriptWays = []struct {
	name    string
	rollups bool // over scriptSources.rollup
	summary bool // over scriptSources.summary
	raw     bool // Options.RawOnly
}{
	{name: "points"},
	{name: "summaries", summary: true},
	{name: "rollups", rollups: true},
	{name: "rollups, levels=raw", rollups: true, raw: true},
}

func runScript(t *testing.T, path string) {
	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var blocks [][]string
	var starts []int
	var cur []string
	for i, line := range strings.Split(string(text), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "#"):
		case line == "":
			if len(cur) > 0 {
				blocks, cur = append(blocks, cur), nil
			}
		default:
			if len(cur) == 0 {
				starts = append(starts, i+1)
			}
			cur = append(cur, line)
		}
	}
	if len(cur) > 0 {
		blocks = append(blocks, cur)
	}
	data := newMemSource()
	var summary, rollup Source // built on first use after the data changes
	for i, b := range blocks {
		where := fmt.Sprintf("%s:%d", path, starts[i])
		switch head := strings.Fields(b[0]); {
		case len(head) == 2 && head[0] == "data":
			for _, l := range b[1:] {
				if err := scriptPoints(data, head[1], l); err != nil {
					t.Fatalf("%s: %s: %v", where, l, err)
				}
			}
			summary, rollup = nil, nil
		case (len(head) == 1 || len(head) == 2 && head[1] == "points") && head[0] == "query" && len(b) >= 3:
			if summary == nil {
				summary, rollup = newSummarySource(data, 2), newRollupSource(data, 4, math.MinInt64)
			}
			ways := scriptWays
			if len(head) == 2 {
				ways = ways[:1]
			}
			for _, w := range ways {
				src := Source(data)
				switch {
				case w.summary:
					src = summary
				case w.rollups:
					src = rollup
				}
				if msg := scriptCheck(src, b[1], b[2:], w.rollups && !w.raw, w.raw); msg != "" {
					t.Errorf("%s: %s\n(%s) %s", where, b[1], w.name, msg)
				}
			}
		default:
			t.Fatalf("%s: unknown block %q (want data <collection> or query)", where, b[0])
		}
	}
}

// scriptCheck runs q over src and compares the answer with want (a table
// and note lines, or one error line); it returns what differs. sketches
// says whether ~x cells may be estimates and the note lines apply.
func scriptCheck(src Source, q string, want []string, sketches, rawOnly bool) string {
	stmt, err := query.Parse(q)
	var res *Result
	if err == nil {
		res, err = ExecuteWith(context.Background(), src, stmt, Options{Now: testNow, RawOnly: rawOnly})
	}
	if msg, ok := strings.CutPrefix(want[0], "error: "); ok {
		if err == nil || !strings.Contains(err.Error(), msg) {
			return fmt.Sprintf("error %v, want one containing %q", err, msg)
		}
		return ""
	}
	if err != nil {
		return "error: " + err.Error()
	}
	var table, notes []string
	for _, l := range want {
		if n, ok := strings.CutPrefix(l, "note "); ok {
			notes = append(notes, n)
		} else {
			table = append(table, l)
		}
	}
	got := []string{strings.Join(res.Columns, " | ")}
	for _, row := range res.Rows {
		cells := make([]string, len(row))
		for i, v := range row {
			cells[i] = scriptCell(v, i == res.TimeColumn)
		}
		got = append(got, strings.Join(cells, " | "))
	}
	if !scriptSame(got, table, sketches) {
		return fmt.Sprintf("got:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(table, "\n  "))
	}
	if !sketches {
		return ""
	}
	var gotNotes []string
	if res.Stats != nil {
		gotNotes = res.Stats.Notes
	}
	if strings.Join(gotNotes, "\n") != strings.Join(notes, "\n") {
		return fmt.Sprintf("notes %q, want %q", gotNotes, notes)
	}
	return ""
}

// scriptSame compares tables cell by cell.
func scriptSame(got, want []string, sketches bool) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		g, w := strings.Split(got[i], " | "), strings.Split(want[i], " | ")
		if len(g) != len(w) {
			return false
		}
		for j := range g {
			if !scriptCellMatches(g[j], w[j], sketches) {
				return false
			}
		}
	}
	return true
}

// scriptCellMatches compares one cell: ~x within the sketch bound when
// sketches, else x; floats within 1e-12 relative; the rest as text.
func scriptCellMatches(g, w string, sketches bool) bool {
	x, approx := strings.CutPrefix(w, "~")
	if g == x {
		return true
	}
	gv, err1 := strconv.ParseFloat(g, 64)
	wv, err2 := strconv.ParseFloat(x, 64)
	if err1 != nil || err2 != nil || isFloatCell(g) != isFloatCell(x) {
		return false
	}
	if approx && sketches {
		slack := 0.0
		if !isFloatCell(x) {
			slack = 0.5 // an integer field: rounded
		}
		return math.Abs(gv-wv) <= sketch.Alpha*math.Abs(wv)*(1+1e-9)+slack
	}
	return sameValue(model.Float(gv), model.Float(wv))
}

func isFloatCell(s string) bool { return strings.ContainsAny(s, ".eEN") || strings.Contains(s, "Inf") }

// scriptCell prints one cell as the files write it.
func scriptCell(v model.Value, isTime bool) string {
	switch {
	case v.IsNull():
		return "null"
	case isTime && v.Kind == model.KindInt:
		return time.Unix(0, v.Int()).UTC().Format(time.RFC3339Nano)
	case v.Kind == model.KindFloat:
		s := strconv.FormatFloat(v.Float(), 'g', -1, 64)
		if !isFloatCell(s) {
			s += ".0"
		}
		return s
	case v.Kind == model.KindString:
		return v.Str()
	}
	return v.String()
}

// scriptPoints writes the points of one data line into collection coll.
func scriptPoints(m *memSource, coll, line string) error {
	f := scriptFields(line)
	switch {
	case f[0] == "every":
		if len(f) < 7 || f[2] != "from" || f[4] != "to" {
			return fmt.Errorf("want: every <step> from <time> to <time> <tags> <field>=<value> ...")
		}
		step, err := time.ParseDuration(f[1])
		if err != nil || step <= 0 {
			return fmt.Errorf("bad step %q", f[1])
		}
		from, err := scriptTime(f[3])
		if err != nil {
			return err
		}
		to, err := scriptTime(f[5])
		if err != nil {
			return err
		}
		for ts := from; ts < to; ts += int64(step) {
			if err := scriptWrite(m, coll, f[6], ts, f[7:]); err != nil {
				return err
			}
		}
		return nil
	case f[0] == "repeat":
		return scriptRepeat(m, coll, f[1:])
	case len(f) < 3:
		return fmt.Errorf("want: <tags> <time> <field>=<value> ...")
	}
	ts, err := scriptTime(f[1])
	if err != nil {
		return err
	}
	return scriptWrite(m, coll, f[0], ts, f[2:])
}

func scriptTime(s string) (int64, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, nil
	}
	return query.ParseTime(s)
}

func scriptWrite(m *memSource, coll, tags string, ts int64, fields []string) error {
	if tags == "-" {
		tags = ""
	}
	var kv []any
	for _, p := range fields {
		k, v, ok := strings.Cut(p, "=")
		if !ok {
			return fmt.Errorf("bad field %q: want key=value", p)
		}
		x, err := scriptValue(v)
		if err != nil {
			return fmt.Errorf("field %q: %w", p, err)
		}
		kv = append(kv, k, x)
	}
	m.write(coll, tags, ts, kv...)
	return nil
}

func scriptValue(s string) (any, error) {
	switch {
	case s == "true" || s == "false":
		return s == "true", nil
	case strings.HasPrefix(s, `"`):
		return strconv.Unquote(s)
	case strings.HasSuffix(s, "i"):
		return strconv.ParseInt(strings.TrimSuffix(s, "i"), 10, 64)
	case strings.HasSuffix(s, "u"):
		return strconv.ParseUint(strings.TrimSuffix(s, "u"), 10, 64)
	}
	return strconv.ParseFloat(s, 64)
}

// scriptRepeat reads "<n> <step> <tags> <start> <field>=<first>+<inc>".
func scriptRepeat(m *memSource, coll string, f []string) error {
	if len(f) != 5 {
		return fmt.Errorf("want: repeat <n> <step> <tags> <start> <field>=<first>+<inc>")
	}
	n, err := strconv.Atoi(f[0])
	if err != nil {
		return err
	}
	step, err := time.ParseDuration(f[1])
	if err != nil {
		return err
	}
	start, err := scriptTime(f[3])
	if err != nil {
		return err
	}
	tags := f[2]
	if tags == "-" {
		tags = ""
	}
	k, v, _ := strings.Cut(f[4], "=")
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
		ts := start + int64(i)*int64(step)
		if isFloat {
			m.write(coll, tags, ts, k, (ma+float64(i)*mb)/scale)
		} else {
			m.write(coll, tags, ts, k, int64(ma)+int64(i)*int64(mb))
		}
	}
	return nil
}

// scriptFields splits on spaces outside "double quotes".
func scriptFields(s string) []string {
	var out []string
	var b strings.Builder
	quoted := false
	for _, r := range s {
		switch {
		case r == '"':
			quoted = !quoted
			b.WriteRune(r)
		case r == ' ' && !quoted:
			if b.Len() > 0 {
				out = append(out, b.String())
				b.Reset()
			}
		default:
			b.WriteRune(r)
		}
	}
	if b.Len() > 0 {
		out = append(out, b.String())
	}
	return out
}
