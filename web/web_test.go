package web

import (
	"io/fs"
	"regexp"
	"strings"
	"testing"
)

// TestModuleImports checks that the console's ES modules import only files
// that are embedded, flat under static/ (httpapi serves /static/{file}, one
// path segment), and that index.html loads the entry point as a module.
func TestModuleImports(t *testing.T) {
	st := Static()
	index, err := fs.ReadFile(st, "index.html")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(index), `<script src="/static/console.js" type="module"></script>`) {
		t.Fatal("index.html does not load /static/console.js as a module")
	}
	imp := regexp.MustCompile(`(?m)^import \{[^}]*\} from '\./([^']+)';$`)
	seen := map[string]bool{}
	todo := []string{"console.js"}
	for len(todo) > 0 {
		name := todo[0]
		todo = todo[1:]
		if seen[name] {
			continue
		}
		seen[name] = true
		src, err := fs.ReadFile(st, name)
		if err != nil {
			t.Fatalf("module %s: %v", name, err)
		}
		for _, m := range imp.FindAllStringSubmatch(string(src), -1) {
			if strings.Contains(m[1], "/") {
				t.Errorf("%s imports %s: not a file directly under static/", name, m[1])
				continue
			}
			todo = append(todo, m[1])
		}
	}
	js, err := fs.Glob(st, "*.js")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range js {
		if !seen[f] {
			t.Errorf("%s is embedded but no module imports it", f)
		}
	}
	if len(seen) != len(js) {
		t.Errorf("reached %d modules, %d .js files embedded", len(seen), len(js))
	}
}
