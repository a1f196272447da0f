package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/soltixdb/soltix/internal/etcdtest"
)

// authRequest sends a request with a bearer token (none when tok is "").
func authRequest(t *testing.T, method, u, tok, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

// eventually repeats a request until it answers want, for at most a
// minute (a router follows etcd's changes through a watch).
func eventually(t *testing.T, what, method, u, tok, body string, want int) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		code, got := authRequest(t, method, u, tok, body)
		if code == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s %s answers %d %s, want %d", what, method, u, code, got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func digestOf(tok string) string {
	d := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(d[:])
}

// TestRouterTokensFromEtcd: tokens added through one router are accepted
// by another without a restart, a removed one is refused by both, and a
// router's config file tokens sit beside the cluster's.
func TestRouterTokensFromEtcd(t *testing.T) {
	etcd := etcdtest.Start(t)
	dir := t.TempDir()
	plain := filepath.Join(dir, "a.yaml")
	withCfg := filepath.Join(dir, "b.yaml")
	if err := os.WriteFile(plain, []byte("cluster:\n  min_nodes: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfgYAML := fmt.Sprintf("cluster:\n  min_nodes: 1\nauth:\n  tokens:\n    - {name: cfg, sha256: %s, scopes: [admin]}\n", digestOf("cfg-secret"))
	if err := os.WriteFile(withCfg, []byte(cfgYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	startRole(t, "storage", "--etcd", etcd.ClientURL(), "--config", plain, "--node-id", "n1", "--listen", "127.0.0.1:0", "--data-dir", dir+"/n1")
	a := startRole(t, "router", "--etcd", etcd.ClientURL(), "--config", plain, "--listen", "127.0.0.1:0")
	b := startRole(t, "router", "--etcd", etcd.ClientURL(), "--config", withCfg, "--listen", "127.0.0.1:0")
	eventually(t, "groups placed", http.MethodPost, a+"/api/v1/write", "", "m,device_id=d v=1 1", http.StatusNoContent)

	// A has no token yet: authentication is off there, and its first
	// token must be an unlimited admin one.
	add := func(name, scopes, colls string) string {
		return fmt.Sprintf(`{"name":%q,"sha256":%q,"scopes":[%s],"collections":[%s]}`, name, digestOf(name+"-secret"), scopes, colls)
	}
	if code, body := authRequest(t, http.MethodPost, a+"/api/v1/admin/tokens", "", add("w", `"write"`, `"m"`)); code != http.StatusConflict {
		t.Fatalf("first token a writer: %d %s, want 409", code, body)
	}
	if code, body := authRequest(t, http.MethodPost, a+"/api/v1/admin/tokens", "", add("root", `"admin"`, "")); code != http.StatusCreated {
		t.Fatalf("add root through a: %d %s", code, body)
	}
	// A refuses requests without a token from then on, at once.
	if code, _ := authRequest(t, http.MethodGet, a+"/api/v1/admin/tokens", "", ""); code != http.StatusUnauthorized {
		t.Fatalf("a after root: %d without a token, want 401", code)
	}
	// B accepts root without a restart, beside its config token.
	eventually(t, "root on b", http.MethodGet, b+"/api/v1/admin/tokens", "root-secret", "", http.StatusOK)
	code, body := authRequest(t, http.MethodGet, b+"/api/v1/admin/tokens", "cfg-secret", "")
	want := `{"tokens":[{"name":"cfg","scopes":["admin"],"collections":[],"source":"config"},{"name":"root","scopes":["admin"],"collections":[],"source":"cluster"}]}`
	if code != http.StatusOK || body != want {
		t.Fatalf("b's tokens: %d %s, want %s", code, body, want)
	}
	// A does not know b's config token.
	if code, _ := authRequest(t, http.MethodGet, a+"/api/v1/admin/tokens", "cfg-secret", ""); code != http.StatusUnauthorized {
		t.Fatalf("b's config token on a: %d, want 401", code)
	}

	// A writer limited to m, added through b, writes m through a.
	if code, body := authRequest(t, http.MethodPost, b+"/api/v1/admin/tokens", "cfg-secret", add("w", `"write"`, `"m"`)); code != http.StatusCreated {
		t.Fatalf("add w through b: %d %s", code, body)
	}
	if code, body := authRequest(t, http.MethodPost, a+"/api/v1/admin/tokens", "root-secret", add("w", `"read"`, "")); code != http.StatusConflict {
		t.Fatalf("w again through a: %d %s, want 409", code, body)
	}
	eventually(t, "w on a", http.MethodPost, a+"/api/v1/write", "w-secret", "m,device_id=d v=2 2", http.StatusNoContent)
	if code, body := authRequest(t, http.MethodPost, a+"/api/v1/write", "w-secret", "other,device_id=d v=2 2"); code != http.StatusForbidden {
		t.Fatalf("w writes another collection: %d %s, want 403", code, body)
	}
	if code, _ := authRequest(t, http.MethodDelete, b+"/api/v1/admin/tokens/cfg", "cfg-secret", ""); code != http.StatusConflict {
		t.Fatalf("remove a config token: %d, want 409", code)
	}

	// Removed through a: refused by a at once and by b soon after.
	if code, body := authRequest(t, http.MethodDelete, a+"/api/v1/admin/tokens/w", "root-secret", ""); code != http.StatusNoContent {
		t.Fatalf("remove w: %d %s", code, body)
	}
	if code, _ := authRequest(t, http.MethodPost, a+"/api/v1/write", "w-secret", "m,device_id=d v=3 3"); code != http.StatusUnauthorized {
		t.Fatalf("removed w on a: %d, want 401", code)
	}
	eventually(t, "w refused on b", http.MethodPost, b+"/api/v1/write", "w-secret", "m,device_id=d v=3 3", http.StatusUnauthorized)
	if code, body := authRequest(t, http.MethodDelete, a+"/api/v1/admin/tokens/root", "root-secret", ""); code != http.StatusConflict {
		t.Fatalf("remove a's last admin: %d %s, want 409", code, body)
	}
	// What was written with w is there (once b's map has every group
	// placed: the first write waited for m's group only).
	eventually(t, "every group placed on b", http.MethodGet, b+"/api/v1/query?q=SELECT+count(v)+FROM+m", "root-secret", "", http.StatusOK)
	code, body = authRequest(t, http.MethodGet, b+"/api/v1/query?q=SELECT+count(v)+FROM+m", "root-secret", "")
	if code != http.StatusOK || !strings.Contains(body, ",2]]") {
		t.Fatalf("count through b: %d %s, want 2", code, body)
	}
}
