package httpapi

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/soltixdb/soltix/internal/testcert"
)

// touch gives the files a modification time of at, so that a change is
// seen whatever the file system's timestamp granularity.
func touch(t *testing.T, at time.Time, names ...string) {
	t.Helper()
	for _, n := range names {
		if err := os.Chtimes(n, at, at); err != nil {
			t.Fatal(err)
		}
	}
}

// TestTLSRoundTripAndReload serves the API over TLS with a self-signed
// certificate, then replaces the files and sees the new certificate served
// to new connections without a restart; files that do not load keep the
// previous one.
func TestTLSRoundTripAndReload(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	first := testcert.SelfSigned(t, 1, certFile, keyFile)
	rl, err := NewCertReloader(certFile, keyFile, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	rl.interval = 0 // look at the files on every handshake

	s, _ := newTestServer(t, Options{})
	srv := NewServer(s.mux, ServerConfig{})
	UseTLS(srv, rl.TLSConfig())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- Serve(srv, ln) }()
	t.Cleanup(func() {
		_ = srv.Close()
		if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
	})
	url := "https://" + ln.Addr().String() + "/health"

	// get fetches /health over a new connection trusting only trusted,
	// and returns the serial number of the certificate served.
	get := func(trusted *x509.Certificate) (int64, string) {
		t.Helper()
		pool := x509.NewCertPool()
		pool.AddCert(trusted)
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true, DisableKeepAlives: true}
		defer tr.CloseIdleConnections()
		resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get(url)
		if err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: status %d", url, resp.StatusCode)
		}
		return resp.TLS.PeerCertificates[0].SerialNumber.Int64(), resp.Proto
	}

	if serial, proto := get(first); serial != 1 || proto != "HTTP/2.0" {
		t.Errorf("first certificate: got serial %d over %s, want 1 over HTTP/2.0", serial, proto)
	}

	// A half-replaced pair (garbage in the key file) keeps the old one.
	if err := os.WriteFile(keyFile, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	touch(t, time.Now().Add(time.Hour), keyFile)
	if serial, _ := get(first); serial != 1 {
		t.Errorf("after a bad key file: got serial %d, want 1 still", serial)
	}

	second := testcert.SelfSigned(t, 2, certFile, keyFile)
	touch(t, time.Now().Add(2*time.Hour), certFile, keyFile)
	if serial, proto := get(second); serial != 2 || proto != "HTTP/2.0" {
		t.Errorf("replaced certificate: got serial %d over %s, want 2 over HTTP/2.0", serial, proto)
	}
}

func TestNewCertReloaderErrors(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	testcert.SelfSigned(t, 1, certFile, keyFile)
	other := filepath.Join(dir, "other.pem")
	testcert.SelfSigned(t, 2, filepath.Join(dir, "c2.pem"), other)
	for _, tt := range []struct{ name, cert, key string }{
		{"missing cert", filepath.Join(dir, "nope.pem"), keyFile},
		{"missing key", certFile, filepath.Join(dir, "nope.pem")},
		{"key of another certificate", certFile, other},
		{"key as cert", keyFile, keyFile},
	} {
		if _, err := NewCertReloader(tt.cert, tt.key, nil); err == nil {
			t.Errorf("%s: no error", tt.name)
		}
	}
}
