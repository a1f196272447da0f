package planner

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/soltixdb/soltix/model"
)

// TestLangExpr runs the script-style tests of testdata/lang-expr/*.txt, which read
// as a specification of the language. A file is a sequence of blocks
// separated by blank lines; lines starting with # are comments.
//
//	data <collection> <tags or -> <time> <field>=<value> ...
//	    a point; tags are k=v,k2=v2; a value is 1.5 (float), 3 (int),
//	    3u (unsigned), true/false, or anything else as a string
//	    ("quoted" strings may hold spaces)
//	query <statement>
//	    followed by the expected answer: a header of the column names
//	    joined by " | ", then one line per row, or by a line
//	    "error <text>" when the statement must fail with a message
//	    containing text. Times print as RFC 3339 (UTC), floats always
//	    with a '.' or an exponent, null as null.
//
// Every query runs against all the data lines above it in its file, and,
// for aggregates, also over summaries (blocks of 2 values) with the same
// answer expected.
func TestLangExpr(t *testing.T) {
	files, _ := filepath.Glob("testdata/lang-expr/*.txt")
	if len(files) == 0 {
		t.Fatal("no testdata/lang-expr/*.txt")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) { runExprScript(t, f) })
	}
}

func runExprScript(t *testing.T, path string) {
	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m := newMemSource()
	lines := strings.Split(string(text), "\n")
	for i := 0; i < len(lines); i++ {
		line := strings.TrimSpace(lines[i])
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "data "):
			if err := exprScriptData(m, line[len("data "):]); err != nil {
				t.Fatalf("%s:%d: %v", path, i+1, err)
			}
		case strings.HasPrefix(line, "query "):
			q, at := line[len("query "):], i+1
			var want []string
			for i+1 < len(lines) && strings.TrimSpace(lines[i+1]) != "" {
				i++
				want = append(want, strings.TrimSpace(lines[i]))
			}
			got := exprScriptRun(m, q)
			if !exprScriptMatch(got, want) {
				t.Errorf("%s:%d: %s\ngot:\n  %s\nwant:\n  %s", path, at, q, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
			}
			if len(want) > 0 && !strings.HasPrefix(want[0], "error ") {
				if got2 := exprScriptRun(newSummarySource(m, 2), q); !exprScriptMatch(got2, want) {
					t.Errorf("%s:%d (summaries): %s\ngot:\n  %s", path, at, q, strings.Join(got2, "\n  "))
				}
			}
		default:
			t.Fatalf("%s:%d: cannot read %q", path, i+1, line)
		}
	}
}

func exprScriptMatch(got, want []string) bool {
	if len(want) == 1 && strings.HasPrefix(want[0], "error ") {
		return len(got) == 1 && strings.HasPrefix(got[0], "error ") && strings.Contains(got[0], strings.TrimPrefix(want[0], "error "))
	}
	return strings.Join(got, "\n") == strings.Join(want, "\n")
}

// exprScriptRun runs q and formats the answer as the files write it.
func exprScriptRun(src Source, q string) []string {
	res, err := execute(src, q)
	if err != nil {
		return []string{"error " + err.Error()}
	}
	out := []string{strings.Join(res.Columns, " | ")}
	for _, row := range res.Rows {
		cells := make([]string, len(row))
		for j, v := range row {
			cells[j] = exprScriptCell(v, j == res.TimeColumn)
		}
		out = append(out, strings.Join(cells, " | "))
	}
	return out
}

func exprScriptCell(v model.Value, isTime bool) string {
	switch {
	case v.IsNull():
		return "null"
	case isTime && v.Kind == model.KindInt:
		return time.Unix(0, v.Int()).UTC().Format(time.RFC3339Nano)
	case v.Kind == model.KindFloat:
		s := strconv.FormatFloat(v.Float(), 'g', -1, 64)
		if !strings.ContainsAny(s, ".eIN") {
			s += ".0"
		}
		return s
	case v.Kind == model.KindString:
		return v.Str()
	}
	return v.String()
}

func exprScriptData(m *memSource, spec string) error {
	fs := exprScriptFields(spec)
	if len(fs) < 3 {
		return fmt.Errorf("data needs a collection, tags and a time")
	}
	tags := fs[1]
	if tags == "-" {
		tags = ""
	}
	tm, err := time.Parse(time.RFC3339Nano, fs[2])
	if err != nil {
		return err
	}
	var kv []any
	for _, f := range fs[3:] {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return fmt.Errorf("bad field %q", f)
		}
		kv = append(kv, k, exprScriptValue(v))
	}
	m.write(fs[0], tags, tm.UnixNano(), kv...)
	return nil
}

func exprScriptValue(s string) any {
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		return i
	}
	if u, err := strconv.ParseUint(strings.TrimSuffix(s, "u"), 10, 64); err == nil && strings.HasSuffix(s, "u") {
		return u
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return f
	}
	if s == "true" || s == "false" {
		return s == "true"
	}
	return strings.Trim(s, `"`)
}

// exprScriptFields splits on spaces outside "double quotes".
func exprScriptFields(s string) []string {
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
