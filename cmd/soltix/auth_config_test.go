package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/soltixdb/soltix/httpapi"
)

func TestAuthConfig(t *testing.T) {
	dir := t.TempDir()
	n := 0
	file := func(body string) string {
		n++
		name := filepath.Join(dir, "c"+strings.Repeat("x", n)+".yaml")
		if err := os.WriteFile(name, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return name
	}
	digest := func(tok string) string {
		d := sha256.Sum256([]byte(tok))
		return hex.EncodeToString(d[:])
	}
	good := file(`auth:
  tokens:
    - name: grafana
      sha256: ` + digest("g") + `
      scopes: [read]
    - name: telegraf
      sha256: ` + strings.ToUpper(digest("t")) + `
      scopes: [write]
      collections: [cpu, mem]
    - name: ops
      sha256: ` + digest("o") + `
      scopes: [admin, read]
tls:
  cert_file: /etc/soltix/cert.pem
  key_file: /etc/soltix/key.pem
`)
	token := func(name, d string, rest string) string {
		return file("auth:\n  tokens:\n    - name: " + name + "\n      sha256: " + d + "\n" + rest)
	}
	tests := []struct {
		name string
		args []string
		env  map[string]string
		err  string
	}{
		{name: "good", args: []string{"--config", good}},
		{name: "no name", args: []string{"--config", token(`""`, digest("x"), "      scopes: [read]\n")}, err: "auth.tokens[0]: name is required"},
		{name: "short digest", args: []string{"--config", token("a", "abcd", "      scopes: [read]\n")}, err: "64 hex digits"},
		{name: "token instead of digest", args: []string{"--config", token("a", "my-secret-token", "      scopes: [read]\n")}, err: "64 hex digits"},
		{name: "no scopes", args: []string{"--config", token("a", digest("x"), "")}, err: "scopes"},
		{name: "bad scope", args: []string{"--config", token("a", digest("x"), "      scopes: [root]\n")}, err: `unknown scope "root"`},
		{name: "empty collection", args: []string{"--config", token("a", digest("x"), "      scopes: [read]\n      collections: [\"\"]\n")}, err: "empty name"},
		{name: "same name", args: []string{"--config", file("auth:\n  tokens:\n    - {name: a, sha256: " + digest("x") + ", scopes: [read]}\n    - {name: a, sha256: " + digest("y") + ", scopes: [read]}\n")}, err: "used twice"},
		{name: "same digest", args: []string{"--config", file("auth:\n  tokens:\n    - {name: a, sha256: " + digest("x") + ", scopes: [read]}\n    - {name: b, sha256: " + digest("x") + ", scopes: [write]}\n")}, err: "same digest as a"},
		{name: "unknown key", args: []string{"--config", file("auth:\n  tokens:\n    - {name: a, token: x, scopes: [read]}\n")}, err: "token"},
		{name: "cert without key", args: []string{"--config", file("tls: {cert_file: c.pem}\n")}, err: "tls.cert_file and tls.key_file"},
		{name: "key flag without cert", args: []string{"--tls-key", "k.pem"}, err: "tls.cert_file and tls.key_file"},
		{name: "tls env", env: map[string]string{"SOLTIX_TLS_CERT_FILE": "c.pem", "SOLTIX_TLS_KEY_FILE": "k.pem"}},
		{name: "bad insecure env", env: map[string]string{"SOLTIX_INSECURE": "maybe"}, err: "SOLTIX_INSECURE"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadConfig("serve", tc.args, func(k string) string { return tc.env[k] })
			if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
				t.Fatalf("loadConfig(%v, %v): error %v, want one naming %q", tc.args, tc.env, err, tc.err)
			}
		})
	}

	cfg, err := loadConfig("serve", []string{"--config", good, "--tls-cert", "/run/c.pem"}, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if cfg.TLS.CertFile != "/run/c.pem" || cfg.TLS.KeyFile != "/etc/soltix/key.pem" || cfg.scheme() != "https" {
		t.Errorf("tls: got %+v (scheme %s), want the flag's cert and the file's key", cfg.TLS, cfg.scheme())
	}
	o := cfg.httpOptions("127.0.0.1:0", newLogger(&cfg, &strings.Builder{}))
	if len(o.Tokens) != 3 {
		t.Fatalf("httpOptions: %d tokens, want 3", len(o.Tokens))
	}
	want := []struct {
		name   string
		secret string
		scopes httpapi.Scope
		colls  []string
	}{{"grafana", "g", httpapi.ScopeRead, nil}, {"telegraf", "t", httpapi.ScopeWrite, []string{"cpu", "mem"}}, {"ops", "o", httpapi.ScopeAdmin | httpapi.ScopeRead, nil}}
	for i, w := range want {
		got := o.Tokens[i]
		if got.Name != w.name || got.Digest != sha256.Sum256([]byte(w.secret)) || got.Scopes != w.scopes || !slices.Equal(got.Collections, w.colls) {
			t.Errorf("token %d: got %+v, want %s with scopes %s and collections %v", i, got, w.name, w.scopes, w.colls)
		}
	}
}

func TestCheckExposure(t *testing.T) {
	tok := []TokenConfig{{Name: "a"}}
	tests := []struct {
		listen   string
		tokens   []TokenConfig
		insecure bool
		refuse   bool
		wantErr  bool
		wantWarn bool
	}{
		{listen: "127.0.0.1:0", refuse: true},
		{listen: "127.0.0.2:5050", refuse: true},
		{listen: "[::1]:5050", refuse: true},
		{listen: "localhost:5050", refuse: true},
		{listen: "0.0.0.0:5050", refuse: true, wantErr: true},
		{listen: ":5050", refuse: true, wantErr: true},
		{listen: "[::]:5050", refuse: true, wantErr: true},
		{listen: "10.0.0.5:5050", refuse: true, wantErr: true},
		{listen: "db.example.com:5050", refuse: true, wantErr: true},
		{listen: "0.0.0.0:5050", tokens: tok, refuse: true},
		{listen: "0.0.0.0:5050", insecure: true, refuse: true, wantWarn: true},
		{listen: "0.0.0.0:5050", refuse: false, wantWarn: true},
	}
	for _, tt := range tests {
		var logs bytes.Buffer
		cfg := defaultConfig()
		cfg.Listen, cfg.Auth.Tokens, cfg.Insecure = tt.listen, tt.tokens, tt.insecure
		err := checkExposure(&cfg, tt.refuse, newLogger(&cfg, &logs))
		if (err != nil) != tt.wantErr || (err != nil && !strings.Contains(err.Error(), "--insecure")) {
			t.Errorf("checkExposure(%s, tokens %d, insecure %v, refuse %v): error %v, want error %v", tt.listen, len(tt.tokens), tt.insecure, tt.refuse, err, tt.wantErr)
		}
		if got := strings.Contains(logs.String(), "INSECURE"); got != tt.wantWarn {
			t.Errorf("checkExposure(%s, insecure %v): warned %v, want %v; log %q", tt.listen, tt.insecure, got, tt.wantWarn, logs.String())
		}
	}
}

// TestServeRefusesExposedWithoutTokens runs serve on every interface
// without tokens: it must refuse before opening anything.
func TestServeRefusesExposedWithoutTokens(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	var out, errb bytes.Buffer
	code := run([]string{"serve", "--listen", "0.0.0.0:0", "--data-dir", dir}, &out, &errb)
	if code != 1 || !strings.Contains(errb.String(), "--insecure") {
		t.Errorf("serve on 0.0.0.0 without tokens: exit %d, stderr %q; want 1 naming --insecure", code, errb.String())
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("the data directory was created (stat: %v)", err)
	}
}

func TestTokenCommand(t *testing.T) {
	abc := sha256.Sum256([]byte("abc"))
	tests := []struct {
		args   []string
		stdin  string
		code   int
		stdout string
	}{
		{[]string{"hash"}, "abc\n", 0, hex.EncodeToString(abc[:]) + "\n"},
		{[]string{"hash"}, "abc", 0, hex.EncodeToString(abc[:]) + "\n"},
		{[]string{"hash"}, "abc\r\n", 0, hex.EncodeToString(abc[:]) + "\n"},
		{[]string{"hash"}, "", 1, ""},
		{[]string{"hash"}, "\n", 1, ""},
		{[]string{}, "", 2, ""},
		{[]string{"frob"}, "", 2, ""},
	}
	for _, tt := range tests {
		var out, errb bytes.Buffer
		code := tokenCmd(tt.args, strings.NewReader(tt.stdin), &out, &errb)
		if code != tt.code || out.String() != tt.stdout {
			t.Errorf("token %v < %q: exit %d stdout %q, want %d %q (stderr %q)", tt.args, tt.stdin, code, out.String(), tt.code, tt.stdout, errb.String())
		}
	}
	var out, errb bytes.Buffer
	if code := tokenCmd([]string{"new"}, strings.NewReader(""), &out, &errb); code != 0 {
		t.Fatalf("token new: exit %d, stderr %q", code, errb.String())
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 2 || len(lines[0]) < 40 {
		t.Fatalf("token new: got %q, want a token and its digest", out.String())
	}
	d := sha256.Sum256([]byte(lines[0]))
	if lines[1] != hex.EncodeToString(d[:]) {
		t.Errorf("token new: digest %s is not the token's %x", lines[1], d)
	}
}
