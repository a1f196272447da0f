package planner

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/query"
)

// TestLang runs the script-style tests of testdata/lang/*.txt: specs of the
// language that read as data, queries and the tables they answer. A file is
// a sequence of blocks separated by blank lines; lines starting with # are
// comments.
//
//	data <collection>
//	<tags or -> <time> <field>=<value> ...
//
// adds points to the file's source (tags k=v,k2=v2; times RFC 3339 UTC or
// integer nanoseconds; values 1.5 float, 7i integer, 7u unsigned, "s"
// string, true or false), and
//
//	query [raw]
//	<one query>
//	<columns separated by " | ">
//	<one row per line, cells separated by " | ">
//
// runs the query (with raw, also with Options.RawOnly, which must agree)
// and compares the table: times print as RFC 3339, null as null, floats
// with strconv 'g' (and compare within 1e-12 relative), integers plain,
// strings bare. In place of the table, "error: <text>" expects an error
// whose message contains text.
func TestLang(t *testing.T) {
	files, _ := filepath.Glob("testdata/lang/*.txt")
	if len(files) == 0 {
		t.Fatal("no testdata/lang/*.txt")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) { runLangFile(t, f) })
	}
}

func runLangFile(t *testing.T, path string) {
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	var blocks [][]string
	var cur []string
	lineNo, start := 0, 0
	var starts []int
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		lineNo++
		line := strings.TrimRight(sc.Text(), " \t")
		switch {
		case strings.HasPrefix(line, "#"):
		case line == "":
			if len(cur) > 0 {
				blocks, starts, cur = append(blocks, cur), append(starts, start), nil
			}
		default:
			if len(cur) == 0 {
				start = lineNo
			}
			cur = append(cur, line)
		}
	}
	if len(cur) > 0 {
		blocks, starts = append(blocks, cur), append(starts, start)
	}
	src := newMemSource()
	for i, b := range blocks {
		where := path + ":" + strconv.Itoa(starts[i])
		head := strings.Fields(b[0])
		switch {
		case len(head) == 2 && head[0] == "data":
			for _, l := range b[1:] {
				langPoint(t, where, src, head[1], l)
			}
		case len(head) >= 1 && head[0] == "query" && len(b) >= 3:
			raw := len(head) == 2 && head[1] == "raw"
			langQuery(t, where, src, b[1], b[2:], false)
			if raw {
				langQuery(t, where, src, b[1], b[2:], true)
			}
		default:
			t.Fatalf("%s: unknown block %q", where, b[0])
		}
	}
}

func langPoint(t *testing.T, where string, src *memSource, coll, line string) {
	f := strings.Fields(line)
	if len(f) < 3 {
		t.Fatalf("%s: bad data line %q", where, line)
	}
	tags := f[0]
	if tags == "-" {
		tags = ""
	}
	ts, err := langTime(f[1])
	if err != nil {
		t.Fatalf("%s: %v", where, err)
	}
	var kv []any
	for _, p := range f[2:] {
		k, v, ok := strings.Cut(p, "=")
		if !ok {
			t.Fatalf("%s: bad field %q", where, p)
		}
		kv = append(kv, k, langValue(t, where, v))
	}
	src.write(coll, tags, ts, kv...)
}

func langTime(s string) (int64, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, nil
	}
	return query.ParseTime(s)
}

func langValue(t *testing.T, where, s string) any {
	switch {
	case s == "true" || s == "false":
		return s == "true"
	case strings.HasPrefix(s, `"`):
		return strings.Trim(s, `"`)
	case strings.HasSuffix(s, "i"):
		n, err := strconv.ParseInt(strings.TrimSuffix(s, "i"), 10, 64)
		if err == nil {
			return n
		}
	case strings.HasSuffix(s, "u"):
		n, err := strconv.ParseUint(strings.TrimSuffix(s, "u"), 10, 64)
		if err == nil {
			return n
		}
	default:
		f, err := strconv.ParseFloat(s, 64)
		if err == nil {
			return f
		}
	}
	t.Fatalf("%s: bad value %q", where, s)
	return nil
}

// langCell prints one cell as the files write it.
func langCell(v model.Value, isTime bool) string {
	switch {
	case v.IsNull():
		return "null"
	case isTime && v.Kind == model.KindInt:
		return time.Unix(0, v.Int()).UTC().Format(time.RFC3339Nano)
	case v.Kind == model.KindString:
		return v.Str()
	}
	return v.String()
}

func langQuery(t *testing.T, where string, src *memSource, q string, want []string, raw bool) {
	t.Helper()
	stmt, err := query.Parse(q)
	var res *Result
	if err == nil {
		res, err = ExecuteWith(t.Context(), src, stmt, Options{Now: testNow, RawOnly: raw})
	}
	if msg, ok := strings.CutPrefix(want[0], "error: "); ok {
		if err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("%s: %s\n got error %v\nwant error containing %q", where, q, err, msg)
		}
		return
	}
	if err != nil {
		t.Errorf("%s: %s: error %v", where, q, err)
		return
	}
	got := []string{strings.Join(res.Columns, " | ")}
	for _, row := range res.Rows {
		cells := make([]string, len(row))
		for i, v := range row {
			cells[i] = langCell(v, i == res.TimeColumn)
		}
		got = append(got, strings.Join(cells, " | "))
	}
	if !langSame(got, want) {
		t.Errorf("%s: %s (raw %v)\n got:\n  %s\nwant:\n  %s", where, q, raw, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// langSame compares tables cell by cell, floats within 1e-12 relative.
func langSame(got, want []string) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		g, w := strings.Split(got[i], " | "), strings.Split(want[i], " | ")
		if len(g) != len(w) {
			return false
		}
		for j := range g {
			if g[j] == w[j] {
				continue
			}
			a, err1 := strconv.ParseFloat(g[j], 64)
			b, err2 := strconv.ParseFloat(w[j], 64)
			if err1 != nil || err2 != nil || !sameValue(model.Float(a), model.Float(b)) {
				return false
			}
		}
	}
	return true
}
