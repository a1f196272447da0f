package httpapi

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// selfSigned writes a self-signed certificate for 127.0.0.1 with the given
// serial number to certFile and keyFile, and returns it.
func selfSigned(t *testing.T, serial int64, certFile, keyFile string) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(serial),
		Subject:               pkix.Name{CommonName: "soltix test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

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
	first := selfSigned(t, 1, certFile, keyFile)
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

	second := selfSigned(t, 2, certFile, keyFile)
	touch(t, time.Now().Add(2*time.Hour), certFile, keyFile)
	if serial, proto := get(second); serial != 2 || proto != "HTTP/2.0" {
		t.Errorf("replaced certificate: got serial %d over %s, want 2 over HTTP/2.0", serial, proto)
	}
}

func TestNewCertReloaderErrors(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	selfSigned(t, 1, certFile, keyFile)
	other := filepath.Join(dir, "other.pem")
	selfSigned(t, 2, filepath.Join(dir, "c2.pem"), other)
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
