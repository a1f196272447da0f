package httpapi

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
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
// before, with a warning logged. It is safe for concurrent use.
type CertReloader struct {
	certFile, keyFile string
	log               *slog.Logger
	interval          time.Duration
	now               func() time.Time

	mu      sync.Mutex
	cert    *tls.Certificate
	stamp   [2]fileStamp // of certFile and keyFile when cert was read
	checked time.Time    // when the stamps were last looked at
}

// fileStamp is what tells a file changed.
type fileStamp struct {
	mod  time.Time
	size int64
}

// NewCertReloader reads the certificate and key files; it fails when they
// do not hold a matching pair.
func NewCertReloader(certFile, keyFile string, log *slog.Logger) (*CertReloader, error) {
	if log == nil {
		log = slog.Default()
	}
	c := &CertReloader{certFile: certFile, keyFile: keyFile, log: log, interval: DefaultCertCheckInterval, now: time.Now}
	stamp, err := c.stamps()
	if err != nil {
		return nil, err
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("load tls certificate: %w", err)
	}
	c.cert, c.stamp, c.checked = &cert, stamp, c.now()
	return c, nil
}

func (c *CertReloader) stamps() ([2]fileStamp, error) {
	var s [2]fileStamp
	for i, name := range []string{c.certFile, c.keyFile} {
		fi, err := os.Stat(name)
		if err != nil {
			return s, fmt.Errorf("tls: %w", err)
		}
		s[i] = fileStamp{fi.ModTime(), fi.Size()}
	}
	return s, nil
}

// GetCertificate implements tls.Config.GetCertificate.
func (c *CertReloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if now := c.now(); now.Sub(c.checked) >= c.interval {
		c.checked = now
		c.reload()
	}
	return c.cert, nil
}

// reload reads the files again when their stamps changed. c.mu is held.
func (c *CertReloader) reload() {
	stamp, err := c.stamps()
	if err != nil {
		c.log.Warn("tls certificate files unreadable; serving the previous certificate", "err", err)
		return
	}
	if stamp == c.stamp {
		return
	}
	cert, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
	if err != nil {
		// Perhaps one file of the pair is replaced and not yet the
		// other: try again at the next check.
		c.log.Warn("tls certificate files changed but do not load; serving the previous certificate", "cert_file", c.certFile, "err", err)
		return
	}
	c.cert, c.stamp = &cert, stamp
	c.log.Info("tls certificate reloaded", "cert_file", c.certFile)
}

// TLSConfig returns a server configuration serving c's certificate, TLS
// 1.2 or later.
func (c *CertReloader) TLSConfig() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: c.GetCertificate}
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
