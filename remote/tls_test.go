package remote

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/soltixdb/soltix/httpapi"
	"github.com/soltixdb/soltix/internal/testcert"
)

// mtlsFiles makes a CA in dir and a leaf certificate it signs, and
// returns the reloader of the leaf with the CA.
func mtlsFiles(t *testing.T, dir, name string, ca *testcert.CA) *httpapi.CertReloader {
	t.Helper()
	cert, key := filepath.Join(dir, name+".pem"), filepath.Join(dir, name+"-key.pem")
	ca.Leaf(t, name, cert, key)
	rl, err := httpapi.NewMutualReloader(cert, key, ca.File, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return rl
}

func clusterTLS(rl *httpapi.CertReloader) *ClusterTLS {
	return &ClusterTLS{Server: rl.MutualServerConfig(tls.VerifyClientCertIfGiven), Client: rl.MutualClientConfig}
}

// TestClusterTLS serves the internal API with mutual TLS and sends it
// requests: a client with a certificate of the cluster's CA gets h2 over
// TLS; one without a certificate gets 403 but for the probes; one with a
// certificate of another CA, or that does not trust the node's CA, is
// refused at the handshake, the node logging why; a process without
// cluster tls and one with it each refuse, at once and naming the
// setting, a node URL of the other scheme.
func TestClusterTLS(t *testing.T) {
	dir := t.TempDir()
	ca := testcert.NewCA(t, "cluster ca", filepath.Join(dir, "ca.pem"))
	other := testcert.NewCA(t, "other ca", filepath.Join(dir, "other-ca.pem"))
	node := clusterTLS(mtlsFiles(t, dir, "node", ca))
	router := clusterTLS(mtlsFiles(t, dir, "router", ca))
	stranger := clusterTLS(mtlsFiles(t, dir, "stranger", other))

	srv := NewServer("127.0.0.1:0", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Proto)
		for _, c := range r.TLS.PeerCertificates {
			io.WriteString(w, " "+c.Subject.CommonName)
		}
	}))
	var errLog syncBuf
	srv.ErrorLog = log.New(&errLog, "", 0) // the refused handshakes
	UseClusterTLS(srv, node)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- ServeInternal(srv, ln) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("ServeInternal: %v", err)
		}
	})
	base := "https://" + ln.Addr().String()
	https := base + "/x"

	// noCert presents no certificate but trusts the cluster's CA.
	noCert := &ClusterTLS{Client: func() *tls.Config {
		c := router.Client()
		c.Certificates = nil
		return c
	}}
	// foreign presents a certificate of another CA but trusts the
	// cluster's.
	foreign := &ClusterTLS{Client: func() *tls.Config {
		c := router.Client()
		own := stranger.Client().Certificates[0]
		// Sent although the node asks for its CA's certificates.
		c.Certificates = nil
		c.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &own, nil }
		return c
	}}
	// distrust presents the router's certificate but trusts another CA.
	distrust := &ClusterTLS{Client: func() *tls.Config {
		c := router.Client()
		c.RootCAs = stranger.Client().RootCAs
		return c
	}}
	for _, tc := range []struct {
		name   string
		tls    *ClusterTLS
		url    string
		status int
		want   string // a piece of the body, or of the error
		refuse bool
		// nodeLog is what the node logs of the refusal ("" nothing):
		// with TLS 1.3 the client may learn of it only as a closed
		// connection, but the node says why.
		nodeLog string
	}{
		{"cluster certificate", router, https, 200, "HTTP/2.0 router", false, ""},
		{"no certificate", noCert, https, 403, "client certificate required", false, ""},
		{"no certificate, probe", noCert, base + "/health", 200, "HTTP/2.0", false, ""},
		{"no certificate, ready probe", noCert, base + "/ready", 200, "HTTP/2.0", false, ""},
		{"no certificate, metrics", noCert, base + "/metrics", 403, "client certificate required", false, ""},
		{"another CA's certificate", foreign, https, 0, "", true, "certificate signed by unknown authority"},
		{"node not trusted", distrust, https, 0, "certificate signed by unknown authority", true, "bad certificate"},
		{"no cluster tls to an https node", nil, https, 0, "has no cluster.tls settings", true, ""},
		{"cluster tls to an http node", router, "http://" + ln.Addr().String() + "/x", 0, "serves cleartext http", true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := NewInternalClient(tc.tls, 10*time.Second)
			defer c.CloseIdleConnections()
			resp, err := c.Get(tc.url)
			var body []byte
			if err == nil {
				body, err = io.ReadAll(resp.Body)
				resp.Body.Close()
			}
			switch {
			case tc.refuse && err == nil:
				t.Fatalf("GET %s answered %s %q, want it refused", tc.url, resp.Status, body)
			case tc.refuse && !strings.Contains(err.Error(), tc.want):
				t.Fatalf("GET %s: %v, want an error with %q", tc.url, err, tc.want)
			case !tc.refuse && err != nil:
				t.Fatalf("GET %s: %v", tc.url, err)
			case !tc.refuse && (resp.StatusCode != tc.status || !strings.Contains(string(body), tc.want)):
				t.Fatalf("GET %s: %s %q, want %d with %q", tc.url, resp.Status, body, tc.status, tc.want)
			}
			if strings.Contains(tc.name, "cluster tls") && !errors.Is(err, ErrClusterTLSMismatch) {
				t.Errorf("GET %s: %v, want ErrClusterTLSMismatch", tc.url, err)
			}
			if tc.nodeLog == "" {
				return
			}
			for deadline := time.Now().Add(10 * time.Second); !strings.Contains(errLog.String(), tc.nodeLog); {
				if time.Now().After(deadline) {
					t.Fatalf("the node's log does not say %q:\n%s", tc.nodeLog, errLog.String())
				}
				time.Sleep(5 * time.Millisecond)
			}
		})
	}
}

// syncBuf is a bytes.Buffer safe for a writer and a reader.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
