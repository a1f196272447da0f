package httpapi

import (
	"crypto/tls"
	"errors"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/soltixdb/soltix/internal/testcert"
)

// TestMutualTLSReload serves with MutualServerConfig and connects with
// MutualClientConfig: the server sees the client's certificate; after both
// sides' files move to a new CA (certificates and CA files replaced), new
// connections use them without a restart, and a client still on the old
// CA is refused; a CA file that does not load keeps the previous CAs.
func TestMutualTLSReload(t *testing.T) {
	dir := t.TempDir()
	f := func(name string) string { return filepath.Join(dir, name) }
	ca1 := testcert.NewCA(t, "ca one", f("ca1.pem"))
	// Each side's files, as a deployment would have them.
	ca1.Leaf(t, "server one", f("server.pem"), f("server-key.pem"))
	ca1.Leaf(t, "client one", f("client.pem"), f("client-key.pem"))
	copyFile(t, ca1.File, f("server-ca.pem"))
	copyFile(t, ca1.File, f("client-ca.pem"))
	quiet := slog.New(slog.DiscardHandler)
	srvRL, err := NewMutualReloader(f("server.pem"), f("server-key.pem"), f("server-ca.pem"), quiet)
	if err != nil {
		t.Fatal(err)
	}
	cliRL, err := NewMutualReloader(f("client.pem"), f("client-key.pem"), f("client-ca.pem"), quiet)
	if err != nil {
		t.Fatal(err)
	}
	srvRL.interval, cliRL.interval = 0, 0 // look at the files every time

	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, r.TLS.PeerCertificates[0].Subject.CommonName)
		}),
		TLSConfig: srvRL.MutualServerConfig(tls.RequireAndVerifyClientCert),
		ErrorLog:  log.New(io.Discard, "", 0),
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.ServeTLS(ln, "", "") }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("ServeTLS: %v", err)
		}
	})
	get := func(cfg *tls.Config) (string, error) {
		t.Helper()
		tr := &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: true, DisableKeepAlives: true}
		defer tr.CloseIdleConnections()
		resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get("https://" + ln.Addr().String() + "/")
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp.Proto + " " + string(b), err
	}

	if got, err := get(cliRL.MutualClientConfig()); err != nil || got != "HTTP/2.0 client one" {
		t.Fatalf("first certificates: %q, %v; want HTTP/2.0 client one", got, err)
	}
	old := cliRL.MutualClientConfig()

	// Both sides move to a new CA.
	ca2 := testcert.NewCA(t, "ca two", f("ca2.pem"))
	ca2.Leaf(t, "server two", f("server.pem"), f("server-key.pem"))
	ca2.Leaf(t, "client two", f("client.pem"), f("client-key.pem"))
	copyFile(t, ca2.File, f("server-ca.pem"))
	copyFile(t, ca2.File, f("client-ca.pem"))
	later := time.Now().Add(time.Hour)
	touch(t, later, f("server.pem"), f("server-key.pem"), f("server-ca.pem"), f("client.pem"), f("client-key.pem"), f("client-ca.pem"))
	if got, err := get(cliRL.MutualClientConfig()); err != nil || got != "HTTP/2.0 client two" {
		t.Fatalf("after the move to a new CA: %q, %v; want HTTP/2.0 client two", got, err)
	}
	if got, err := get(old); err == nil || !strings.Contains(err.Error(), "certificate signed by unknown authority") {
		t.Errorf("a client still on the old CA: %q, %v; want its handshake to fail", got, err)
	}

	// A CA file that does not load keeps the CAs read before.
	if err := os.WriteFile(f("server-ca.pem"), []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	touch(t, later.Add(time.Hour), f("server-ca.pem"))
	if got, err := get(cliRL.MutualClientConfig()); err != nil || got != "HTTP/2.0 client two" {
		t.Errorf("after a bad CA file: %q, %v; want the previous CA kept", got, err)
	}
}

func TestNewMutualReloaderErrors(t *testing.T) {
	dir := t.TempDir()
	f := func(name string) string { return filepath.Join(dir, name) }
	ca := testcert.NewCA(t, "ca", f("ca.pem"))
	ca.Leaf(t, "n", f("n.pem"), f("n-key.pem"))
	if err := os.WriteFile(f("empty.pem"), []byte("no pem here\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ name, ca, want string }{
		{"no ca file", "", "no ca file"},
		{"missing ca file", f("nope.pem"), "no such file"},
		{"no certificate in the ca file", f("empty.pem"), "no PEM certificate"},
	} {
		_, err := NewMutualReloader(f("n.pem"), f("n-key.pem"), tt.ca, nil)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want an error with %q", tt.name, err, tt.want)
		}
	}
	if _, err := NewMutualReloader(f("n.pem"), f("n-key.pem"), f("ca.pem"), nil); err != nil {
		t.Errorf("valid files: %v", err)
	}
}

// copyFile copies a small file.
func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}
