package replication

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Options configure a Replicator.
type Options struct {
	// URLs are the NATS servers (cluster.nats).
	URLs []string
	// Cluster is the cluster's name (cluster.name); Node this process's
	// node id (empty on a router).
	Cluster, Node string
	// StreamReplicas is how many NATS servers keep the stream (JetStream's
	// own replication; 1 for a single NATS server). Default 1.
	StreamReplicas int
	// MaxAge and MaxBytes bound what the stream keeps (defaults 7 days and
	// no byte bound). A replica that falls further behind than that copies
	// the group from its primary instead.
	MaxAge   time.Duration
	MaxBytes int64
	// Timeout bounds each request to NATS (default 10 s).
	Timeout time.Duration
	Log     *slog.Logger
}

// Defaults of Options.
const (
	DefaultMaxAge  = 7 * 24 * time.Hour
	DefaultTimeout = 10 * time.Second
)

// Replicator is a connection to NATS and the cluster's stream.
type Replicator struct {
	opts   Options
	nc     *nats.Conn
	js     jetstream.JetStream
	stream jetstream.Stream
	log    *slog.Logger
}

// Open connects to NATS and creates the cluster's stream, or updates its
// limits when it exists.
func Open(ctx context.Context, opts Options) (*Replicator, error) {
	if len(opts.URLs) == 0 {
		return nil, errors.New("replication: no NATS URL")
	}
	if err := checkName("cluster name", opts.Cluster); err != nil {
		return nil, err
	}
	if opts.Node != "" {
		if err := checkName("node id", opts.Node); err != nil {
			return nil, err
		}
	}
	if opts.StreamReplicas <= 0 {
		opts.StreamReplicas = 1
	}
	if opts.MaxAge <= 0 {
		opts.MaxAge = DefaultMaxAge
	}
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = -1
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	name := "soltix-" + opts.Cluster
	if opts.Node != "" {
		name += "-" + opts.Node
	}
	log := opts.Log
	nc, err := nats.Connect(strings.Join(opts.URLs, ","), nats.Name(name),
		nats.MaxReconnects(-1), nats.ReconnectWait(250*time.Millisecond), nats.Timeout(opts.Timeout),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("nats disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(c *nats.Conn) { log.Info("nats reconnected", "url", c.ConnectedUrlRedacted()) }))
	if err != nil {
		return nil, fmt.Errorf("replication: connect to %s: %w", strings.Join(opts.URLs, ","), err)
	}
	js, err := jetstream.New(nc, jetstream.WithDefaultTimeout(opts.Timeout))
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("replication: jetstream: %w", err)
	}
	r := &Replicator{opts: opts, nc: nc, js: js, log: log}
	cctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	r.stream, err = js.CreateOrUpdateStream(cctx, jetstream.StreamConfig{
		Name:        streamName(opts.Cluster),
		Description: "Soltix replication of cluster " + opts.Cluster,
		Subjects:    []string{subjectPrefix(opts.Cluster) + ".>"},
		Storage:     jetstream.FileStorage,
		Replicas:    opts.StreamReplicas,
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardOld,
		MaxAge:      opts.MaxAge,
		MaxBytes:    opts.MaxBytes,
		MaxMsgSize:  1 << 20,
		Duplicates:  2 * time.Minute,
	})
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("replication: stream %s: %w", streamName(opts.Cluster), err)
	}
	return r, nil
}

// Close closes the connection.
func (r *Replicator) Close() { r.nc.Close() }
