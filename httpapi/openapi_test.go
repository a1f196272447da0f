package httpapi

import (
	"bufio"
	"bytes"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
)

// specOperations returns the operations ("METHOD /path") of the paths
// section of an OpenAPI document. It reads the YAML line by line: a path is
// a key indented by two spaces under a top-level "paths:", a method a key
// indented by four under it.
func specOperations(t *testing.T, spec []byte) []string {
	t.Helper()
	methods := map[string]bool{"get": true, "put": true, "post": true, "delete": true,
		"options": true, "head": true, "patch": true, "trace": true}
	var ops []string
	inPaths := false
	path := ""
	sc := bufio.NewScanner(bytes.NewReader(spec))
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), " \r")
		if line == "" || strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		indent := len(line) - len(strings.TrimLeft(line, " "))
		if indent == 0 {
			inPaths = line == "paths:"
			continue
		}
		if !inPaths || !strings.HasSuffix(line, ":") {
			continue
		}
		key := strings.TrimSuffix(strings.TrimSpace(line), ":")
		key = strings.Trim(key, `'"`)
		switch indent {
		case 2:
			path = key
		case 4:
			if methods[key] {
				ops = append(ops, strings.ToUpper(key)+" "+path)
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return ops
}

func TestOpenAPICoversRoutes(t *testing.T) {
	spec, err := os.ReadFile("../openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	documented := specOperations(t, spec)
	if len(documented) == 0 {
		t.Fatal("no operations found in ../openapi.yaml")
	}

	s, _ := newTestServer(t, Options{})
	var registered []string
	err = chi.Walk(s.mux, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		registered = append(registered, method+" "+route)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, op := range registered {
		if !slices.Contains(documented, op) {
			t.Errorf("route %s is registered but not documented in openapi.yaml", op)
		}
	}
	for _, op := range documented {
		if !slices.Contains(registered, op) {
			t.Errorf("operation %s is documented in openapi.yaml but not registered", op)
		}
	}
}

func TestSpecOperationsScanner(t *testing.T) {
	spec := []byte(`openapi: 3.1.0
paths:
  /a:
    get:
      responses:
        '200':
          description: x
    post:
      description: y
  '/b':
    # comment
    delete:
      description: z
components:
  schemas:
    get:
      type: object
`)
	got := specOperations(t, spec)
	want := []string{"GET /a", "POST /a", "DELETE /b"}
	if !slices.Equal(got, want) {
		t.Errorf("specOperations: got %v, want %v", got, want)
	}
}

// TestOpenAPIQueryParameters checks that every parameter the query handler
// reads is declared in openapi.yaml and used by both query operations.
func TestOpenAPIQueryParameters(t *testing.T) {
	spec, err := os.ReadFile("../openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	text := string(spec)
	for _, p := range []struct{ name, ref string }{{"q", "Q"}, {"format", "Format"}, {"epoch", "Epoch"}, {"levels", "Levels"}} {
		if !strings.Contains(text, "\n    "+p.ref+":\n      name: "+p.name+"\n      in: query\n") {
			t.Errorf("parameter %s is not declared as components/parameters/%s", p.name, p.ref)
		}
		if n := strings.Count(text, "- $ref: '#/components/parameters/"+p.ref+"'"); n < 2 {
			t.Errorf("parameter %s is used by %d operations, want GET and POST /api/v1/query", p.name, n)
		}
	}
}
