package httpapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
)

// memTokens is a TokenStore in memory: fixed tokens (the config file's)
// and stored ones.
type memTokens struct {
	mu     sync.Mutex
	fixed  []Token
	stored []Token
}

func (m *memTokens) Tokens() []Token {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append(slices.Clone(m.fixed), m.stored...)
}

func (m *memTokens) AddToken(_ context.Context, t Token) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, o := range append(slices.Clone(m.fixed), m.stored...) {
		if o.Name == t.Name {
			return ErrTokenExists
		}
	}
	t.Stored = true
	m.stored = append(slices.Clone(m.stored), t)
	return nil
}

func (m *memTokens) RemoveToken(_ context.Context, name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if slices.ContainsFunc(m.fixed, func(t Token) bool { return t.Name == name }) {
		return ErrTokenFixed
	}
	i := slices.IndexFunc(m.stored, func(t Token) bool { return t.Name == name })
	if i < 0 {
		return ErrTokenNotFound
	}
	m.stored = slices.Delete(slices.Clone(m.stored), i, i+1)
	return nil
}

// addBody is the body adding token name (secret "secret-"+name).
func addBody(name string, scopes, collections string) string {
	d := sha256.Sum256([]byte("secret-" + name))
	return fmt.Sprintf(`{"name":%q,"sha256":%q,"scopes":[%s],"collections":[%s]}`, name, hex.EncodeToString(d[:]), scopes, collections)
}

// TestTokenRoutes walks a TokenStore from no token (authentication off)
// through the first admin token, a limited one, refusals and removals,
// checking after each step who may do what.
func TestTokenRoutes(t *testing.T) {
	store := &memTokens{}
	s, _ := newTestServer(t, Options{TokenStore: store})
	ts := httptest.NewServer(s.mux)
	t.Cleanup(ts.Close)
	u := ts.URL + "/api/v1/admin/tokens"
	steps := []struct {
		name, method, target, auth, body string
		want                             int
		wantBody                         string
	}{
		{"off: open list", "GET", u, "", "", 200, `{"tokens":[]}`},
		{"first not admin", "POST", u, "", addBody("w", `"write"`, ""), 409, "first token must be an admin"},
		{"first admin limited", "POST", u, "", addBody("a", `"admin"`, `"cpu"`), 409, "first token"},
		{"bad scope", "POST", u, "", addBody("a", `"root"`, ""), 400, `unknown scope`},
		{"bad name", "POST", u, "", addBody("a/b", `"admin"`, ""), 400, `token name`},
		{"unknown field", "POST", u, "", `{"name":"a","token":"x"}`, 400, `unknown field`},
		{"first admin", "POST", u, "", addBody("root", `"admin"`, ""), 201, `{"name":"root","scopes":["admin"],"collections":[],"source":"cluster"}`},
		{"now on: no token", "GET", u, "", "", 401, "authentication required"},
		{"now on: wrong token", "GET", u, "Bearer nope", "", 401, "invalid token"},
		{"add limited writer", "POST", u, bearer("root"), addBody("cpuw", `"write"`, `"cpu"`), 201, `"collections":["cpu"]`},
		{"same name", "POST", u, bearer("root"), addBody("cpuw", `"read"`, ""), 409, "exists"},
		{"same digest", "POST", u, bearer("root"), strings.Replace(addBody("cpuw", `"read"`, ""), `"cpuw"`, `"other"`, 1), 409, "same digest"},
		{"writer may not list", "GET", u, bearer("cpuw"), "", 403, ""},
		{"writer may not add", "POST", u, bearer("cpuw"), addBody("x", `"admin"`, ""), 403, ""},
		{"writer writes cpu", "POST", ts.URL + "/api/v1/write", bearer("cpuw"), "cpu,device_id=d v=1 1", 204, ""},
		{"list", "GET", u, bearer("root"), "", 200, `{"tokens":[{"name":"cpuw","scopes":["write"],"collections":["cpu"],"source":"cluster"},{"name":"root","scopes":["admin"],"collections":[],"source":"cluster"}]}`},
		{"last admin kept", "DELETE", u + "/root", bearer("root"), "", 409, "last admin"},
		{"remove unknown", "DELETE", u + "/ghost", bearer("root"), "", 404, "no such token"},
		{"remove writer", "DELETE", u + "/cpuw", bearer("root"), "", 204, ""},
		{"removed writer refused", "POST", ts.URL + "/api/v1/write", bearer("cpuw"), "cpu,device_id=d v=1 1", 401, "invalid token"},
	}
	for _, st := range steps {
		code, _, body := call(t, st.method, st.target, st.auth, st.body)
		if code != st.want || !strings.Contains(body, st.wantBody) {
			t.Fatalf("%s: %d %s, want %d with %q", st.name, code, body, st.want, st.wantBody)
		}
	}
	// A config-file token cannot be removed.
	store.fixed = []Token{testToken("cfg", ScopeAdmin)}
	if code, _, body := call(t, "DELETE", u+"/cfg", bearer("root"), ""); code != 409 || !strings.Contains(body, "config file") {
		t.Fatalf("remove config token: %d %s", code, body)
	}
}

// TestTokenRoutesServe: without a TokenStore the list shows the config
// file's tokens and changes answer 501.
func TestTokenRoutesServe(t *testing.T) {
	_, _, base := authServer(t)
	u := base + "/api/v1/admin/tokens"
	code, _, body := call(t, "GET", u, bearer("admin"), "")
	if code != 200 || !strings.Contains(body, `{"name":"cpu-admin","scopes":["admin"],"collections":["cpu"],"source":"config"}`) || strings.Contains(body, "sha256") {
		t.Fatalf("list: %d %s", code, body)
	}
	if code, _, _ := call(t, "GET", u, bearer("cpu-admin"), ""); code != http.StatusForbidden {
		t.Fatalf("limited admin lists: %d, want 403", code)
	}
	if code, _, _ := call(t, "POST", u, bearer("admin"), addBody("x", `"read"`, "")); code != http.StatusNotImplemented {
		t.Fatalf("add on serve: %d, want 501", code)
	}
	if code, _, _ := call(t, "DELETE", u+"/reader", bearer("admin"), ""); code != http.StatusNotImplemented {
		t.Fatalf("remove on serve: %d, want 501", code)
	}
}

// FuzzDecodeTokenSpec: any body decodes to a checked token or an error,
// never a panic; a token it accepts has a valid name and a scope.
func FuzzDecodeTokenSpec(f *testing.F) {
	for _, s := range []string{
		addBody("a", `"admin"`, ""), addBody("w", `"write","read"`, `"cpu","mem"`),
		`{}`, `[]`, `null`, `{"name":"a","sha256":"00","scopes":["read"]}`, `{"name":"a"}{"name":"b"}`,
		`{"name":"` + strings.Repeat("x", 65) + `"}`, "\xff",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		tok, err := decodeTokenSpec(body)
		if err != nil {
			return
		}
		if validTokenName(tok.Name) != nil || tok.Scopes == 0 {
			t.Fatalf("accepted %+v", tok)
		}
	})
}
