package httpapi

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"sync"
	"time"
)

// DefaultCertCheckInterval is how often, at most, a CertReloader looks at
// its files' modification times.
const DefaultCertCheckInterval = 5 * time.Second

// CertReloader serves a certificate and key read from PEM files, and reads
// them again when either file's modification time or size changes, looked
// at during a handshake at most every DefaultCertCheckInterval. Files that
// fail to load (a half-written pair, say) keep the certificate served
// before, with a warning logged. Made by NewMutualReloader, it also holds
// the certificate authorities of a CA file, reloaded the same way, for
// mutual TLS. It is safe for concurrent use.
type CertReloader struct {
	certFile, keyFile string
	caFile            string // "" without mutual TLS
	log               *slog.Logger
	interval          time.Duration
	now               func() time.Time

	mu      sync.Mutex
	cert    *tls.Certificate
	pool    *x509.CertPool // of caFile; nil without it
	stamp   []fileStamp    // of certFile, keyFile and caFile when read
	checked time.Time      // when the stamps were last looked at
}

// fileStamp is what tells a file changed.
type fileStamp struct {
	mod  time.Time
	size int64
}

// NewCertReloader reads the certificate and key files; it fails when they
// do not hold a matching pair.
func NewCertReloader(certFile, keyFile string, log *slog.Logger) (*CertReloader, error) {
	return newCertReloader(certFile, keyFile, "", log)
}

// NewMutualReloader is NewCertReloader with the PEM file of the
// certificate authorities that sign the peers' certificates: what
// MutualServerConfig requires of clients and MutualClientConfig of
// servers.
func NewMutualReloader(certFile, keyFile, caFile string, log *slog.Logger) (*CertReloader, error) {
	if caFile == "" {
		return nil, errors.New("tls: no ca file")
	}
	return newCertReloader(certFile, keyFile, caFile, log)
}

func newCertReloader(certFile, keyFile, caFile string, log *slog.Logger) (*CertReloader, error) {
	if log == nil {
		log = slog.Default()
	}
	c := &CertReloader{certFile: certFile, keyFile: keyFile, caFile: caFile, log: log, interval: DefaultCertCheckInterval, now: time.Now}
	stamp, err := c.stamps()
	if err != nil {
		return nil, err
	}
	cert, pool, err := c.load()
	if err != nil {
		return nil, err
	}
	c.cert, c.pool, c.stamp, c.checked = cert, pool, stamp, c.now()
	return c, nil
}

// files are the files c reads.
func (c *CertReloader) files() []string {
	if c.caFile == "" {
		return []string{c.certFile, c.keyFile}
	}
	return []string{c.certFile, c.keyFile, c.caFile}
}

func (c *CertReloader) stamps() ([]fileStamp, error) {
	s := make([]fileStamp, 0, 3)
	for _, name := range c.files() {
		fi, err := os.Stat(name)
		if err != nil {
			return nil, fmt.Errorf("tls: %w", err)
		}
		s = append(s, fileStamp{fi.ModTime(), fi.Size()})
	}
	return s, nil
}

// load reads the certificate, its key and the CA file if any.
func (c *CertReloader) load() (*tls.Certificate, *x509.CertPool, error) {
	cert, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
	if err != nil {
		return nil, nil, fmt.Errorf("load tls certificate: %w", err)
	}
	if c.caFile == "" {
		return &cert, nil, nil
	}
	b, err := os.ReadFile(c.caFile)
	if err != nil {
		return nil, nil, fmt.Errorf("load tls ca file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, nil, fmt.Errorf("load tls ca file %s: no PEM certificate in it", c.caFile)
	}
	return &cert, pool, nil
}

// GetCertificate implements tls.Config.GetCertificate.
func (c *CertReloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	cert, _ := c.current()
	return cert, nil
}

// current returns the certificate and CA pool, read again first when the
// files changed and were last looked at an interval ago.
func (c *CertReloader) current() (*tls.Certificate, *x509.CertPool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if now := c.now(); now.Sub(c.checked) >= c.interval {
		c.checked = now
		c.reload()
	}
	return c.cert, c.pool
}

// reload reads the files again when their stamps changed. c.mu is held.
func (c *CertReloader) reload() {
	stamp, err := c.stamps()
	if err != nil {
		c.log.Warn("tls certificate files unreadable; serving the previous certificate", "err", err)
		return
	}
	if slices.Equal(stamp, c.stamp) {
		return
	}
	cert, pool, err := c.load()
	if err != nil {
		// Perhaps one file of the pair is replaced and not yet the
		// other: try again at the next check.
		c.log.Warn("tls certificate files changed but do not load; serving the previous certificate", "cert_file", c.certFile, "err", err)
		return
	}
	c.cert, c.pool, c.stamp = cert, pool, stamp
	c.log.Info("tls certificate reloaded", "cert_file", c.certFile, "ca_file", c.caFile)
}

// TLSConfig returns a server configuration serving c's certificate, TLS
// 1.2 or later.
func (c *CertReloader) TLSConfig() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: c.GetCertificate}
}

// MutualServerConfig returns a server configuration for mutual TLS, TLS
// 1.2 or later: it serves c's certificate and verifies a client's
// certificate against the CA file's authorities (both as reloaded). auth
// is tls.RequireAndVerifyClientCert to refuse a handshake without a
// certificate, or tls.VerifyClientCertIfGiven to leave that to the
// handler (r.TLS.VerifiedChains is empty then).
func (c *CertReloader) MutualServerConfig(auth tls.ClientAuthType) *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			cert, pool := c.current()
			return &tls.Config{
				MinVersion:   tls.VersionTLS12,
				Certificates: []tls.Certificate{*cert},
				ClientAuth:   auth,
				ClientCAs:    pool,
				NextProtos:   []string{"h2", "http/1.1"},
			}, nil
		},
	}
}

// MutualClientConfig returns the client configuration of one connection
// for mutual TLS, TLS 1.2 or later, offering h2: it presents c's
// certificate and verifies the server's against the CA file's authorities
// (both as reloaded, so call it for each connection).
func (c *CertReloader) MutualClientConfig() *tls.Config {
	cert, pool := c.current()
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{*cert},
		RootCAs:      pool,
		NextProtos:   []string{"h2"},
	}
}

// UseTLS makes srv (from NewServer) speak HTTPS with cfg: HTTP/1.1 and h2
// over TLS instead of cleartext HTTP/1.1 and h2c. Serve it with Serve.
func UseTLS(srv *http.Server, cfg *tls.Config) {
	srv.TLSConfig = cfg
	srv.Protocols = new(http.Protocols)
	srv.Protocols.SetHTTP1(true)
	srv.Protocols.SetHTTP2(true)
}

// Serve serves srv on ln, over TLS when UseTLS set its configuration. It
// returns http.ErrServerClosed after Shutdown, like http.Server.Serve.
func Serve(srv *http.Server, ln net.Listener) error {
	if srv.TLSConfig != nil {
		return srv.ServeTLS(ln, "", "")
	}
	return srv.Serve(ln)
}
