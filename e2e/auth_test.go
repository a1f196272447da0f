package e2e

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/soltixdb/soltix/internal/testcert"
)

// TestBinaryAuthAndTLS runs the binary with tokens and a certificate from
// its config file: the API answers over HTTPS (h2), refuses requests
// without the right token, and never logs a token.
func TestBinaryAuthAndTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	cert := testcert.SelfSigned(t, 7, certFile, keyFile)
	digest := func(tok string) string {
		d := sha256.Sum256([]byte(tok))
		return hex.EncodeToString(d[:])
	}
	const writeTok, readTok = "e2e-write-token-3f9a", "e2e-read-token-77c1"
	conf := filepath.Join(dir, "soltix.yaml")
	err := os.WriteFile(conf, []byte(`auth:
  tokens:
    - {name: writer, sha256: `+digest(writeTok)+`, scopes: [write], collections: [cpu]}
    - {name: reader, sha256: `+digest(readTok)+`, scopes: [read]}
tls:
  cert_file: `+certFile+`
  key_file: `+keyFile+`
`), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	s := startBinary(t, filepath.Join(dir, "data"), "--config", conf)
	if !strings.HasPrefix(s.url, "https://") {
		t.Fatalf("serving on %s, want https", s.url)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}}

	tests := []struct {
		name, method, path, token, body string
		want                            int
	}{
		{"no token", "POST", "/write", "", "cpu v=1 1\n", 401},
		{"wrong token", "POST", "/write", "nope", "cpu v=1 1\n", 401},
		{"read token writes", "POST", "/write", readTok, "cpu v=1 1\n", 403},
		{"write other collection", "POST", "/write", writeTok, "mem v=1 1\n", 403},
		{"write", "POST", "/write?precision=s", writeTok, "cpu,host=a v=1 1\n", 204},
		{"write token reads", "GET", "/api/v1/query?q=" + url.QueryEscape("SELECT v FROM cpu"), writeTok, "", 403},
		{"read", "GET", "/api/v1/query?q=" + url.QueryEscape("SELECT v FROM cpu"), readTok, "", 200},
		{"health is open", "GET", "/health", "", "", 200},
	}
	for _, tt := range tests {
		req, err := http.NewRequest(tt.method, s.url+tt.path, strings.NewReader(tt.body))
		if err != nil {
			t.Fatal(err)
		}
		if tt.token != "" {
			req.Header.Set("Authorization", "Bearer "+tt.token)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.want || resp.Proto != "HTTP/2.0" {
			t.Errorf("%s: got %d over %s: %s; want %d over HTTP/2.0", tt.name, resp.StatusCode, resp.Proto, body, tt.want)
		}
		if tt.name == "read" && !strings.Contains(string(body), `"rows":[[`) {
			t.Errorf("read: got %s, want the written row", body)
		}
	}
	s.stop(t)
	logs := s.logs.String()
	for _, secret := range []string{writeTok, readTok, digest(writeTok), digest(readTok)} {
		if strings.Contains(logs, secret) {
			t.Errorf("the logs hold a token or digest %q:\n%s", secret, logs)
		}
	}
}
