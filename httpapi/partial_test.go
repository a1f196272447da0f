package httpapi

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/planner"
	"github.com/soltixdb/soltix/query"
	"github.com/soltixdb/soltix/storage"
)

// partialStore is a fake store that, like a cluster router with a node
// down, cannot reach groups 3 and 11: a statement fails with an
// unavailable error unless partial answers are allowed.
type partialStore struct{ *fakeStore }

func (p partialStore) Scope(ctx context.Context, stmt *query.Statement, opts planner.Options) (planner.Source, func(), error) {
	if opts.Partial == nil {
		return nil, nil, fmt.Errorf("groups 3, 11 unavailable: node n2 unreachable: %w", storage.ErrUnavailable)
	}
	opts.Partial.Add([]int{3, 11}, "node n2 unreachable")
	return nil, nil, nil
}

func TestQueryPartial(t *testing.T) {
	st := partialStore{&fakeStore{}}
	if err := st.Write(context.Background(), []model.Point{{Collection: "m", Tags: model.Tags{{Key: "d", Value: "a"}}, Time: 1,
		Fields: []model.Field{{Key: "v", Value: model.Int(5)}}}}); err != nil {
		t.Fatal(err)
	}
	s := newServer(st, Options{Now: func() time.Time { return testNow }, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	q := url.QueryEscape("SELECT v FROM m")
	cases := []struct {
		params     string
		status     int
		header     string
		bodyPrefix string
		contains   string
	}{
		{"", http.StatusServiceUnavailable, "", `{"error":"groups 3, 11 unavailable`, ""},
		{"&partial=false", http.StatusServiceUnavailable, "", `{"error":"groups 3, 11 unavailable`, ""},
		{"&partial=yes", http.StatusBadRequest, "", `{"error":"bad partial`, ""},
		{"&partial=true", http.StatusOK, "3,11", `{"columns":["time","v"]`, `"missing_groups":[3,11]}`},
		{"&partial=true&format=ndjson", http.StatusOK, "3,11", `{"columns":["time","v"]}`, `[1,5]`},
		{"&partial=true&format=csv", http.StatusOK, "3,11", "time,v", ""},
	}
	for _, c := range cases {
		rec := do(s.mux, http.MethodGet, "/api/v1/query?q="+q+"&epoch=ns"+c.params, nil, nil)
		body := rec.Body.String()
		if rec.Code != c.status || rec.Header().Get(HeaderMissingGroups) != c.header || !strings.HasPrefix(body, c.bodyPrefix) || !strings.Contains(body, c.contains) {
			t.Errorf("%s: %d %q %s", c.params, rec.Code, rec.Header().Get(HeaderMissingGroups), body)
		}
		if c.status == http.StatusServiceUnavailable && rec.Header().Get("Retry-After") == "" {
			t.Errorf("%s: 503 without Retry-After", c.params)
		}
	}
}
