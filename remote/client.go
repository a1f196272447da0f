package remote

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// ClientOptions configure a Client.
type ClientOptions struct {
	// WriteAttempts bounds how often Write sends a group's points when
	// nodes answer "stale epoch" (default 3): each new attempt follows a
	// Topology.Refresh.
	WriteAttempts int
	// SwitchWait bounds how long Write keeps sending again the groups a
	// node refuses while their move to another node is switched over
	// (default 3 s); past it they are reported unwritten (503).
	SwitchWait time.Duration
	// FailoverWait, when positive (a replicated cluster), is how long
	// Write keeps sending again the groups that have no primary up, whose
	// node cannot be reached, or whose node answers 503: a failover
	// promotes a replica within about a lease. 0 reports them unwritten at
	// once (503).
	FailoverWait time.Duration
	// RequestTimeout bounds one internal write or admin request when the
	// caller's context has no earlier deadline (default 30 s; query
	// streams are bounded by their context only).
	RequestTimeout time.Duration
	// MaxRequestBytes is the size past which a write to one node is split
	// into several requests (default 16 MiB; a storage node refuses
	// bodies over its MaxBodyBytes, 64 MiB by default).
	MaxRequestBytes int
	// DialTimeout bounds connecting to a node (default 5 s).
	DialTimeout time.Duration
	// Logger receives the client's logs (default slog.Default()).
	Logger *slog.Logger
	// TLS, when set, is the cluster's mutual TLS: the client speaks h2
	// over it to nodes registered with https URLs, and refuses http ones
	// (nil: cleartext HTTP/2, refusing https ones).
	TLS *ClusterTLS
}

// Client is a router's view of the storage nodes: it sends writes, reads
// and admin requests to the nodes the Topology names, over one cleartext
// HTTP/2 client (and connection pool) per node address. It is safe for
// concurrent use.
type Client struct {
	topo Topology
	opts ClientOptions
	log  *slog.Logger

	mu    sync.Mutex
	nodes map[string]*nodeClient // by address
	// series caches the series lists of query sessions (catcache.go).
	series seriesCache
	// rotate spreads consistency=any reads over a group's copies.
	rotate atomic.Uint64
}

// nodeClient is the connection pool and counters of one node address.
type nodeClient struct {
	addr string
	node atomic.Pointer[string] // the node id the address was last seen under (nodeID)
	http *http.Client
	m    nodeCounters
	// mismatchLogged is set once a cluster tls mismatch with the node is
	// logged.
	mismatchLogged atomic.Bool
}

// NewClient returns a Client for the cluster topo describes.
func NewClient(topo Topology, opts ClientOptions) *Client {
	if opts.WriteAttempts <= 0 {
		opts.WriteAttempts = 3
	}
	if opts.SwitchWait <= 0 {
		opts.SwitchWait = 3 * time.Second
	}
	if opts.RequestTimeout <= 0 {
		opts.RequestTimeout = 30 * time.Second
	}
	if opts.MaxRequestBytes <= 0 {
		opts.MaxRequestBytes = 16 << 20
	}
	if opts.DialTimeout <= 0 {
		opts.DialTimeout = 5 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Client{topo: topo, opts: opts, log: opts.Logger, nodes: make(map[string]*nodeClient)}
}

// node returns the pool of the node at r.Addr, creating it the first time.
func (c *Client) node(r Route) *nodeClient {
	c.mu.Lock()
	defer c.mu.Unlock()
	nc := c.nodes[r.Addr]
	if nc == nil {
		nc = &nodeClient{addr: r.Addr, http: c.newHTTPClient()}
		c.nodes[r.Addr] = nc
	}
	if r.Node != "" && nc.nodeID() != r.Node {
		nc.node.Store(&r.Node)
	}
	return nc
}

// newHTTPClient returns a client that speaks only HTTP/2, cleartext
// (prior knowledge, no upgrade) or over the cluster's mutual TLS,
// multiplexing requests on its connections.
func (c *Client) newHTTPClient() *http.Client {
	return &http.Client{Transport: newTransport(c.opts.TLS, c.opts.DialTimeout, 4)}
}

// label names a node in errors: "node n2 (http://127.0.0.1:7001)".
func (nc *nodeClient) label() string {
	id := nc.nodeID()
	if id == "" {
		return "node " + nc.addr
	}
	return fmt.Sprintf("node %s (%s)", id, nc.addr)
}

// nodeID is the node id the address was last seen under ("" if none).
func (nc *nodeClient) nodeID() string {
	if p := nc.node.Load(); p != nil {
		return *p
	}
	return ""
}

// do sends one request to a node and counts it. body may be nil. The
// response's body counts its bytes as they are read; the caller closes it.
// A transport error is returned as is (the caller names the node); any
// status is returned as a response, and a non-2xx one counts as an error.
func (c *Client) do(ctx context.Context, nc *nodeClient, method, path, contentType string, body []byte) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, nc.addr+path, rd)
	if err != nil {
		nc.m.errors.Add(1)
		return nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	setRequestID(req)
	nc.m.requests.Add(1)
	nc.m.bytesSent.Add(uint64(len(body)))
	resp, err := nc.http.Do(req)
	if err != nil {
		nc.m.errors.Add(1)
		c.logMismatch(nc, err)
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		nc.m.errors.Add(1)
	}
	resp.Body = &countingBody{ReadCloser: resp.Body, n: &nc.m}
	return resp, nil
}

// logMismatch logs a cluster tls mismatch with a node, once per node:
// every request to it fails the same way until one side's settings change.
func (c *Client) logMismatch(nc *nodeClient, err error) {
	if errors.Is(err, ErrClusterTLSMismatch) && !nc.mismatchLogged.Swap(true) {
		c.log.Error("cannot talk to a storage node", "node", nc.nodeID(), "addr", nc.addr, "err", err)
	}
}

// countingBody counts a response body's bytes into its node's counters.
type countingBody struct {
	io.ReadCloser
	n *nodeCounters
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.bytesRecv.Add(uint64(n))
	return n, err
}

// NodeMetrics returns the counters of every node the client has talked
// to, ordered by node id.
func (c *Client) NodeMetrics() []NodeMetric {
	c.mu.Lock()
	ms := make([]NodeMetric, 0, len(c.nodes))
	for _, nc := range c.nodes {
		ms = append(ms, nc.m.snapshot(nc.nodeID(), nc.addr))
	}
	c.mu.Unlock()
	sortMetrics(ms)
	return ms
}

// Close closes the idle connections of every node.
func (c *Client) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, nc := range c.nodes {
		nc.http.CloseIdleConnections()
	}
	return nil
}

// ShardTag is the cluster's shard tag. It makes a Client an
// httpapi.ShardTagStore: the external API refuses fields named like it.
func (c *Client) ShardTag() string { return c.topo.ShardTag() }
