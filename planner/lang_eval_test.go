package planner

// Script-style tests of the language: planner/testdata/lang-eval/*.txt read
// like a spec. A file is a sequence of blocks separated by blank lines;
// lines starting with # are comments.
//
//	load c                      starts collection c afresh (drops all data)
//	2025-03-29T22:00:00Z host=a v=1i w=2.5 s="x" b=true
//	every 10m from 2025-03-29T00:00:00Z to 2025-04-01T00:00:00Z host=a v=1i
//
// A data line is a time (RFC 3339), the series' tags (k=v,k=v, or - for
// none) and fields: 1i is an integer, 1u unsigned, 1 or 1.5 a float,
// true/false a bool, "x" a string. `every d from a to b` writes the point
// at a, a+d, … before b.
//
//	eval SELECT count(v) FROM c GROUP BY 1d TZ('Europe/Paris')
//	time                 | count(v)
//	2025-03-28T23:00:00Z | 138
//
// runs the query over rollups (UTC hours, days, months, years of the data
// loaded) and again with levels=raw: both answers must be the table. Time
// columns are printed in RFC 3339 (UTC), other cells as model.Value's
// String; cells are separated by |, and spaces around them do not count.
//
//	eval error SELECT count(v) FROM c GROUP BY 1d TZ('Mars/Olympus')
//	unknown time zone "Mars/Olympus"
//
// expects an error containing the text on the next line.

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/query"
)

func TestLangScripts(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "lang-eval", "*.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no testdata/lang-eval/*.txt")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) { runLangScript(t, f) })
	}
}

func runLangScript(t *testing.T, path string) {
	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var (
		data *memSource
		src  Source
	)
	lines := strings.Split(string(text), "\n")
	for i := 0; i < len(lines); i++ {
		line := strings.TrimSpace(lines[i])
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		at := fmt.Sprintf("%s:%d", filepath.Base(path), i+1)
		// The block: this line and the ones up to a blank line.
		var block []string
		for ; i < len(lines) && strings.TrimSpace(lines[i]) != ""; i++ {
			if l := strings.TrimSpace(lines[i]); !strings.HasPrefix(l, "#") {
				block = append(block, l)
			}
		}
		cmd, rest, _ := strings.Cut(block[0], " ")
		switch cmd {
		case "load":
			data, src = newMemSource(), nil
			data.create(rest, nil)
			for _, dl := range block[1:] {
				if err := loadLine(data, rest, dl); err != nil {
					t.Fatalf("%s: %s: %v", at, dl, err)
				}
			}
		case "eval":
			if data == nil {
				t.Fatalf("%s: eval before load", at)
			}
			if src == nil {
				src = newRollupSource(data, 4, math.MinInt64)
			}
			if q, ok := strings.CutPrefix(rest, "error "); ok {
				_, err := executeWith(src, q, Options{})
				if len(block) != 2 {
					t.Fatalf("%s: eval error wants one line with the error text", at)
				}
				if err == nil || !strings.Contains(err.Error(), block[1]) {
					t.Errorf("%s: %s: error %v, want one containing %q", at, q, err, block[1])
				}
				continue
			}
			want := normTable(block[1:])
			for _, raw := range []bool{false, true} {
				res, err := executeWith(src, rest, Options{RawOnly: raw})
				if err != nil {
					t.Errorf("%s: %s (raw %v): %v", at, rest, raw, err)
					continue
				}
				if got := formatTable(res); got != want {
					t.Errorf("%s: %s (raw %v):\ngot:\n%s\nwant:\n%s", at, rest, raw, got, want)
				}
			}
		default:
			t.Fatalf("%s: unknown command %q (want load or eval)", at, cmd)
		}
	}
}

// loadLine writes the points of one data line into collection coll.
func loadLine(m *memSource, coll, line string) error {
	f := strings.Fields(line)
	if f[0] == "every" {
		if len(f) < 7 || f[2] != "from" || f[4] != "to" {
			return fmt.Errorf("want: every <duration> from <time> to <time> <tags> <fields>")
		}
		step, err := time.ParseDuration(f[1])
		if err != nil || step <= 0 {
			return fmt.Errorf("bad step %q", f[1])
		}
		from, err := query.ParseTime(f[3])
		if err != nil {
			return err
		}
		to, err := query.ParseTime(f[5])
		if err != nil {
			return err
		}
		for t := from; t < to; t += int64(step) {
			if err := writePoint(m, coll, t, f[6], f[7:]); err != nil {
				return err
			}
		}
		return nil
	}
	if len(f) < 3 {
		return fmt.Errorf("want: <time> <tags> <field=value>...")
	}
	t, err := query.ParseTime(f[0])
	if err != nil {
		return err
	}
	return writePoint(m, coll, t, f[1], f[2:])
}

func writePoint(m *memSource, coll string, t int64, tags string, fields []string) error {
	if tags == "-" {
		tags = ""
	}
	var kv []any
	for _, fv := range fields {
		k, v, ok := strings.Cut(fv, "=")
		if !ok {
			return fmt.Errorf("field %q: want key=value", fv)
		}
		var x any
		switch {
		case v == "true" || v == "false":
			x = v == "true"
		case strings.HasPrefix(v, `"`):
			s, err := strconv.Unquote(v)
			if err != nil {
				return fmt.Errorf("field %q: %w", fv, err)
			}
			x = s
		case strings.HasSuffix(v, "i"):
			n, err := strconv.ParseInt(strings.TrimSuffix(v, "i"), 10, 64)
			if err != nil {
				return fmt.Errorf("field %q: %w", fv, err)
			}
			x = n
		case strings.HasSuffix(v, "u"):
			n, err := strconv.ParseUint(strings.TrimSuffix(v, "u"), 10, 64)
			if err != nil {
				return fmt.Errorf("field %q: %w", fv, err)
			}
			x = n
		default:
			n, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return fmt.Errorf("field %q: %w", fv, err)
			}
			x = n
		}
		kv = append(kv, k, x)
	}
	m.write(coll, tags, t, kv...)
	return nil
}

// normTable returns the lines of a table with the cells trimmed.
func normTable(lines []string) string {
	out := make([]string, len(lines))
	for i, l := range lines {
		cells := strings.Split(l, "|")
		for j := range cells {
			cells[j] = strings.TrimSpace(cells[j])
		}
		out[i] = strings.Join(cells, " | ")
	}
	return strings.Join(out, "\n")
}

// formatTable prints a result as normTable does a table of the script.
func formatTable(res *Result) string {
	lines := []string{strings.Join(res.Columns, " | ")}
	for _, r := range res.Rows {
		cells := make([]string, len(r))
		for j, v := range r {
			if j == res.TimeColumn && v.Kind == model.KindInt {
				cells[j] = time.Unix(0, v.Int()).UTC().Format(time.RFC3339Nano)
			} else {
				cells[j] = v.String()
			}
		}
		lines = append(lines, strings.Join(cells, " | "))
	}
	return strings.Join(lines, "\n")
}
