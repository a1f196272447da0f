package httpapi

import (
	"log/slog"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/soltixdb/soltix/storage"
)

// TestObservabilityDoc scrapes a node over real storage (and a fake
// router's cluster families) and checks that docs/observability.md names
// every family served, so that a new metric cannot go undocumented.
func TestObservabilityDoc(t *testing.T) {
	doc, err := os.ReadFile("../docs/observability.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(doc)
	db, err := storage.Open(t.TempDir(), &storage.Options{FlushInterval: -1, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	h := New(db, Options{Logger: slog.New(slog.DiscardHandler)})
	if rec := do(h, "POST", "/write", nil, []byte("cpu,host=a v=1 1767225600000000000\n")); rec.Code != 204 {
		t.Fatalf("write: %d", rec.Code)
	}
	do(h, "GET", "/api/v1/query?q=SELECT+v+FROM+cpu", nil, nil)
	rec := do(h, "GET", "/metrics", nil, nil)
	fams := parseProm(t, rec.Body.String())
	if len(fams) < 40 {
		t.Fatalf("only %d families", len(fams))
	}
	// Families documented by prefix (soltix_cold_*, say) count as named.
	prefixes := regexp.MustCompile("`(soltix_[a-z]+_)\\*`").FindAllStringSubmatch(text, -1)
	for name := range fams {
		if strings.Contains(text, "`"+name+"`") || strings.Contains(text, "`"+name+"{") {
			continue
		}
		named := false
		for _, p := range prefixes {
			named = named || strings.HasPrefix(name, p[1])
		}
		if !named {
			t.Errorf("family %s is served but not in docs/observability.md", name)
		}
	}
}
