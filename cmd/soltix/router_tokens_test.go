package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
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
	// A query reads every group: all have their primary then (the count
	// at the end needs them).
	eventually(t, "every group placed", http.MethodGet, a+"/api/v1/query?q=SELECT+count(v)+FROM+m", "", "", http.StatusOK)

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
	// The probe rewrites the point w wrote (same time, same value): b may
	// still take it before it follows the removal, and the count below
	// must not depend on how soon it does (it read 3 under load).
	eventually(t, "w refused on b", http.MethodPost, b+"/api/v1/write", "w-secret", "m,device_id=d v=2 2", http.StatusUnauthorized)
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

// TestRouterTokensRemoveLastAdminsAtOnce: two routers each asked at the
// same time to remove one of the cluster's last two admin tokens: exactly
// one removal succeeds (204), the other is refused (409), and one admin
// token remains usable on both routers. Repeated a few rounds.
func TestRouterTokensRemoveLastAdminsAtOnce(t *testing.T) {
	etcd := etcdtest.Start(t)
	dir := t.TempDir()
	plain := filepath.Join(dir, "a.yaml")
	if err := os.WriteFile(plain, []byte("cluster:\n  min_nodes: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	a := startRole(t, "router", "--etcd", etcd.ClientURL(), "--config", plain, "--listen", "127.0.0.1:0")
	b := startRole(t, "router", "--etcd", etcd.ClientURL(), "--config", plain, "--listen", "127.0.0.1:0")
	add := func(name string) string {
		return fmt.Sprintf(`{"name":%q,"sha256":%q,"scopes":["admin"]}`, name, digestOf(name+"-secret"))
	}
	survivor := ""
	for round := range 4 {
		x, y := fmt.Sprintf("x%d", round), fmt.Sprintf("y%d", round)
		for _, n := range []string{x, y} {
			if code, body := authRequest(t, http.MethodPost, a+"/api/v1/admin/tokens", survivor, add(n)); code != http.StatusCreated {
				t.Fatalf("round %d: add %s: %d %s", round, n, code, body)
			}
			if survivor == "" {
				survivor = n + "-secret"
			}
		}
		if survivor != x+"-secret" {
			// The last round's survivor goes first, so that x and y are the last two.
			name := strings.TrimSuffix(survivor, "-secret")
			if code, body := authRequest(t, http.MethodDelete, a+"/api/v1/admin/tokens/"+name, x+"-secret", ""); code != http.StatusNoContent {
				t.Fatalf("round %d: remove %s: %d %s", round, name, code, body)
			}
		}
		// Both routers know both tokens before the race.
		eventually(t, "y on b", http.MethodGet, b+"/api/v1/admin/tokens", y+"-secret", "", http.StatusOK)
		eventually(t, "x on b", http.MethodGet, b+"/api/v1/admin/tokens", x+"-secret", "", http.StatusOK)
		codes := make([]int, 2)
		var wg sync.WaitGroup
		for i, job := range []struct{ router, remove, with string }{{a, x, y}, {b, y, x}} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				codes[i], _ = authRequest(t, http.MethodDelete, job.router+"/api/v1/admin/tokens/"+job.remove, job.with+"-secret", "")
			}()
		}
		wg.Wait()
		slices.Sort(codes)
		if codes[0] != http.StatusNoContent || codes[1] != http.StatusConflict {
			t.Fatalf("round %d: the two removals answered %v, want one 204 and one 409", round, codes)
		}
		// Exactly one of x and y remains, on both routers.
		left := []string{}
		for _, n := range []string{x, y} {
			if code, _ := authRequest(t, http.MethodGet, a+"/api/v1/admin/tokens", n+"-secret", ""); code == http.StatusOK {
				left = append(left, n)
			}
		}
		if len(left) != 1 {
			t.Fatalf("round %d: admin tokens left on a: %v, want one", round, left)
		}
		survivor = left[0] + "-secret"
		eventually(t, "the survivor on b", http.MethodGet, b+"/api/v1/admin/tokens", survivor, "", http.StatusOK)
	}
}
