package remote

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// ClusterTLS is mutual TLS on a cluster's internal traffic (the
// cluster.tls settings): storage nodes serve h2 over TLS and require a
// client certificate their CA signed; routers and nodes present theirs and
// verify the node's against the same CA. A nil *ClusterTLS is cleartext
// HTTP/2 (h2c), the default.
type ClusterTLS struct {
	// Server is the configuration of a storage node's internal listener:
	// it verifies a client certificate against the CA when one is given
	// (tls.VerifyClientCertIfGiven), and UseClusterTLS's handler refuses
	// requests without one but the probes.
	Server *tls.Config
	// Client returns the configuration of one new connection to a node:
	// the certificate to present and the CAs to verify the node's against.
	// It is called for each connection, so that reloaded files apply to
	// new connections.
	Client func() *tls.Config
}

// ErrClusterTLSMismatch is what a request to a node fails with when the
// node's registered URL says it speaks otherwise than this process: https
// without cluster.tls here, or http with it.
var ErrClusterTLSMismatch = errors.New("cluster tls mismatch")

// Scheme is the scheme of the nodes' URLs: https with mutual TLS, http
// without (t nil).
func (t *ClusterTLS) Scheme() string {
	if t == nil {
		return "http"
	}
	return "https"
}

// checkScheme refuses a URL of the scheme t does not speak, naming the
// setting to fix.
func (t *ClusterTLS) checkScheme(scheme, host string) error {
	switch {
	case scheme == t.Scheme():
		return nil
	case t == nil && scheme == "https":
		return fmt.Errorf("%w: the node at %s serves https (it has cluster.tls) but this process has no cluster.tls settings; set cluster.tls.cert_file, key_file and ca_file on every router and storage node, or on none", ErrClusterTLSMismatch, host)
	case t != nil && scheme == "http":
		return fmt.Errorf("%w: the node at %s serves cleartext http (it has no cluster.tls) but this process has cluster.tls set and speaks only https to nodes; set cluster.tls on every router and storage node, or on none", ErrClusterTLSMismatch, host)
	}
	return fmt.Errorf("node url scheme %q: want http or https", scheme)
}

// UseClusterTLS makes srv (from NewServer) serve h2 and HTTP/1.1 over TLS
// with t.Server instead of h2c and cleartext HTTP/1.1, and answer 403 to
// every request without a client certificate of the cluster's CA except
// GET /health and GET /ready, which Kubernetes' and load balancers'
// probes send without one. Serve it with ServeInternal. A nil t leaves
// srv as it is.
func UseClusterTLS(srv *http.Server, t *ClusterTLS) {
	if t == nil {
		return
	}
	srv.TLSConfig = t.Server
	srv.Protocols = new(http.Protocols)
	srv.Protocols.SetHTTP1(true)
	srv.Protocols.SetHTTP2(true)
	srv.Handler = requireClientCert(srv.Handler)
}

// requireClientCert answers 403 to requests without a verified client
// certificate, the probes excepted.
func requireClientCert(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 {
			if probe := r.Method == http.MethodGet && (r.URL.Path == "/health" || r.URL.Path == "/ready"); !probe {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusForbidden)
				io.WriteString(w, `{"error":"client certificate required: the internal API takes only clients with a certificate of the cluster's CA (cluster.tls)"}`+"\n")
				return
			}
		}
		h.ServeHTTP(w, r)
	})
}

// ServeInternal serves srv on ln, over TLS when UseClusterTLS set its
// configuration. It returns http.ErrServerClosed after Shutdown.
func ServeInternal(srv *http.Server, ln net.Listener) error {
	if srv.TLSConfig != nil {
		return srv.ServeTLS(ln, "", "")
	}
	return srv.Serve(ln)
}

// NewInternalClient returns an HTTP client for a cluster's internal
// traffic: HTTP/2 only, over TLS with t or cleartext (prior knowledge)
// without, refusing at once a node URL of the other scheme
// (ErrClusterTLSMismatch). timeout bounds each request when positive.
func NewInternalClient(t *ClusterTLS, timeout time.Duration) *http.Client {
	return &http.Client{Transport: newTransport(t, 5*time.Second, 0), Timeout: timeout}
}

// internalTransport is the transport of a cluster's internal traffic.
type internalTransport struct {
	tls *ClusterTLS
	tr  *http.Transport
}

// newTransport returns the HTTP/2 transport of a cluster's internal
// traffic; maxIdlePerHost 0 keeps net/http's default.
func newTransport(t *ClusterTLS, dialTimeout time.Duration, maxIdlePerHost int) *internalTransport {
	var p http.Protocols
	d := &net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		Protocols:           &p,
		DialContext:         d.DialContext,
		MaxIdleConnsPerHost: maxIdlePerHost,
		IdleConnTimeout:     2 * time.Minute,
		HTTP2: &http.HTTP2Config{
			SendPingTimeout:               15 * time.Second,
			PingTimeout:                   10 * time.Second,
			MaxReceiveBufferPerConnection: 16 << 20,
			MaxReceiveBufferPerStream:     8 << 20,
		},
	}
	if t == nil {
		p.SetUnencryptedHTTP2(true)
	} else {
		p.SetHTTP2(true)
		// A configuration per connection: the files may have been
		// reloaded since the last one.
		tr.DialTLSContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, _, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, err
			}
			cfg := t.Client()
			if cfg.ServerName == "" {
				cfg.ServerName = host
			}
			conn, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			tc := tls.Client(conn, cfg)
			hctx, cancel := context.WithTimeout(ctx, dialTimeout)
			defer cancel()
			if err := tc.HandshakeContext(hctx); err != nil {
				conn.Close()
				return nil, fmt.Errorf("tls handshake with %s: %w", addr, err)
			}
			return tc, nil
		}
	}
	return &internalTransport{tls: t, tr: tr}
}

// RoundTrip implements http.RoundTripper.
func (it *internalTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := it.tls.checkScheme(req.URL.Scheme, req.URL.Host); err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, err
	}
	return it.tr.RoundTrip(req)
}

// CloseIdleConnections closes the idle connections of the transport.
func (it *internalTransport) CloseIdleConnections() { it.tr.CloseIdleConnections() }
