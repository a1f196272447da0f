package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/soltixdb/soltix/backup"
	"github.com/soltixdb/soltix/coord"
	"github.com/soltixdb/soltix/httpapi"
	"github.com/soltixdb/soltix/remote"
	"github.com/soltixdb/soltix/replication"
	"github.com/soltixdb/soltix/storage"
)

// shutdownTimeout bounds a graceful stop's wait for requests in flight.
const shutdownTimeout = 30 * time.Second

// storageCmd runs a cluster's storage node until SIGINT or SIGTERM.
func storageCmd(args []string, stdout, stderr io.Writer) int {
	cfg, code, ok := roleConfig("storage", storageIntro, args, stdout, stderr)
	if !ok {
		return code
	}
	log := newLogger(&cfg, stderr).With("node", cfg.Node.ID)
	cfg.logDesignNotes("storage", log)
	slog.SetDefault(log)
	applyMemoryLimit(&cfg, os.Getenv, log)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	return runStorage(ctx, &cfg, log, stdout)
}

// runStorage runs a storage node configured by cfg until ctx ends.
func runStorage(ctx context.Context, cfg *Config, log *slog.Logger, stdout io.Writer) int {
	n, err := startStorageNode(ctx, cfg, log)
	if err != nil {
		if ctx.Err() != nil {
			log.Info("stopped before serving", "err", err)
			return 0
		}
		log.Error("cannot start the storage node", "err", err)
		return 1
	}
	fmt.Fprintf(stdout, "soltix %s storage node %s serving on %s://%s (advertised as %s, data in %s)\n",
		buildVersion(), cfg.Node.ID, cfg.internalScheme(), n.ln.Addr(), n.advertise, cfg.DataDir)
	return n.run(ctx)
}

// storageNode is a running storage node: its etcd connection, its
// storage, its internal API server and its registration.
type storageNode struct {
	cfg       *Config
	log       *slog.Logger
	co        *coord.Coord
	view      *coord.View
	db        *storage.DB
	node      *remote.Node
	moves     *remote.Moves
	ln        net.Listener
	srv       *http.Server
	advertise string
	// registered is true while the node's registration lease is alive.
	registered atomic.Bool
	settings   *settingsApplier
	errc       chan error // the server's end
	// repl and replNode are the node's replication (nil without
	// cluster.nats; storage_replication.go).
	repl     *replication.Replicator
	replNode *replication.NodeReplication
	// stopCold ends the retries of a cold store unreachable at start-up.
	stopCold context.CancelFunc
	// tls is the cluster's mutual TLS (nil without cluster.tls): the
	// internal listener's and the node's requests to other nodes.
	tls *remote.ClusterTLS
	// backups are the backup snapshots a router asks for
	// (cluster_backup.go).
	backups *backup.Sessions
}

// startStorageNode connects to etcd (waiting for it until ctx ends),
// opens the storage with the cluster's number of groups and shard tag,
// applies the collection settings etcd holds and serves the internal API
// on the listener. It does not register yet (run does).
func startStorageNode(ctx context.Context, cfg *Config, log *slog.Logger) (n *storageNode, err error) {
	n = &storageNode{cfg: cfg, log: log, errc: make(chan error, 1)}
	defer func() {
		if err != nil {
			n.close()
		}
	}()
	if n.tls, err = cfg.clusterTLS(log); err != nil {
		return n, err
	}
	ccfg := cfg.coordConfig(cfg.Node.ID, log)
	if len(cfg.Cluster.NATS) > 0 {
		// With replication the coordinator promotes a replica of a down
		// primary's groups.
		ccfg.Promoter = promoter{n: n, client: remote.NewInternalClient(n.tls, 5*time.Second)}
	}
	n.co, err = coord.Open(ctx, ccfg)
	if err != nil {
		return n, err
	}
	so := cfg.storageOptions(log)
	retryCold := cfg.openCold(so, log)
	n.db, err = openClusterStorage(cfg.DataDir, so, n.co.Info())
	if err != nil {
		return n, err
	}
	if retryCold != nil {
		var coldCtx context.Context
		coldCtx, n.stopCold = context.WithCancel(context.Background())
		go retryCold(coldCtx, n.db)
	}
	n.view, err = n.co.Watch(ctx)
	if err != nil {
		return n, err
	}
	n.settings = newSettingsApplier(n.db, n.co, n.view, log)
	if err := n.settings.apply(ctx); err != nil {
		return n, err
	}
	n.settings.follow()

	n.ln, err = net.Listen("tcp", cfg.Listen)
	if err != nil {
		return n, fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	n.advertise = advertiseURL(cfg.Node.Advertise, cfg.internalScheme(), n.ln.Addr())
	if err := n.startReplication(ctx); err != nil {
		return n, err
	}
	n.moves = remote.NewMoves(remote.StorageGroups(n.db), coordGroups{n.co, n.view},
		remote.MoveOptions{NodeID: cfg.Node.ID, Logger: log, Position: n.replicaPosition(), ReplicaReady: n.replicaReady(), TLS: n.tls})
	n.runReplication()
	nopts := remote.NodeOptions{NodeID: cfg.Node.ID, MaxBodyBytes: cfg.HTTP.MaxBodyBytes, Gate: n.moves, Logger: log,
		NewSeriesPerMinute: nodeSeriesLimit(cfg.Limits.NewSeriesPerMinute), Now: cfg.now}
	if n.replNode != nil {
		// Acknowledgement mode "replicated": a write answers once
		// JetStream holds it for the replicas.
		nopts.Log, nopts.WaitReplicated = n.replNode, true
	}
	n.node = remote.NewNode(n.db, n.view, nopts)
	n.backups = n.newBackups()
	n.moves.Routes(n.node.Handle)
	n.srv = remote.NewServer(n.ln.Addr().String(), n.handler())
	if n.tls != nil {
		// h2 over TLS requiring a certificate of the cluster's CA; a
		// refused handshake (a client without one, of another CA, or
		// speaking h2c) is logged as a warning naming the reason.
		remote.UseClusterTLS(n.srv, n.tls)
		n.srv.ErrorLog = slog.NewLogLogger(log.Handler(), slog.LevelWarn)
	}
	go func() { n.errc <- remote.ServeInternal(n.srv, n.ln) }()
	return n, nil
}

// handler is the node's whole HTTP surface: the internal API, and
// /health, /ready and /metrics as serve has them (the storage's state),
// with the node's own counters added to /metrics.
func (n *storageNode) handler() http.Handler {
	opts := n.cfg.httpOptions(n.ln.Addr().String(), n.log)
	opts.Ready = n.registered.Load
	probes := httpapi.New(n.db, opts)
	mux := http.NewServeMux()
	mux.Handle("/internal/v1/", n.node.Handler())
	mux.HandleFunc("POST "+settingsSyncPath, n.settings.syncHandler)
	mux.HandleFunc("GET "+pathApplied, n.serveApplied)
	mux.HandleFunc("GET "+pathReplication, n.serveReplication)
	n.backupRoutes(mux)
	mux.Handle("GET /health", probes)
	mux.Handle("GET /ready", probes)
	mux.Handle("GET /metrics", withMoreMetrics(probes, func(b *bytes.Buffer) {
		writeNodeMetrics(b, n.node.Metrics())
		n.writeNodeReplication(b)
	}))
	return mux
}

// run registers the node, keeps it registered, campaigns for the
// coordinator until ctx ends, then stops gracefully: leave the cluster,
// finish the requests in flight, flush memory to files, close.
func (n *storageNode) run(ctx context.Context) int {
	campaign, endCampaign := context.WithCancel(ctx)
	coordDone := make(chan struct{})
	go func() {
		defer close(coordDone)
		n.co.RunCoordinator(campaign, groupMover(n))
	}()
	sweepsDone := make(chan struct{})
	go func() {
		defer close(sweepsDone)
		n.moves.RunSweeps(campaign, n.view.Changed, time.Minute)
	}()
	registration, endRegistration := context.WithCancel(ctx)
	regDone := make(chan *coord.Registration, 1)
	go func() { regDone <- n.stayRegistered(registration) }()

	code := 0
	select {
	case <-ctx.Done():
		n.log.Info("shutting down")
	case err := <-n.errc:
		n.log.Error("internal API server stopped", "err", err)
		code = 1
	}
	endCampaign()
	endRegistration()
	<-coordDone
	<-sweepsDone
	// Leave the cluster first: routers see the node down at once and
	// answer 503 for its groups instead of waiting on it.
	n.registered.Store(false)
	if reg := <-regDone; reg != nil {
		if err := reg.Close(); err != nil {
			n.log.Warn("leaving the cluster", "err", err)
		}
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := n.srv.Shutdown(sctx); err != nil {
		n.log.Error("internal API shutdown", "err", err)
		code = 1
	}
	if err := n.close(); err != nil {
		n.log.Error("close", "err", err)
		code = 1
	}
	n.log.Info("stopped")
	return code
}

// stayRegistered registers the node and registers it again whenever its
// lease is lost (etcd unreachable for longer than the lease), until ctx
// ends; it returns the live registration, if any.
func (n *storageNode) stayRegistered(ctx context.Context) *coord.Registration {
	wait := 100 * time.Millisecond
	for {
		reg, err := n.co.Register(ctx, coord.NodeInfo{ID: n.cfg.Node.ID, Addr: n.advertise})
		if err == nil {
			n.registered.Store(true)
			wait = 100 * time.Millisecond
			select {
			case <-ctx.Done():
				return reg
			case <-reg.Lost():
				n.registered.Store(false)
				n.log.Warn("registration lost; registering again")
				reg.Close()
				continue
			}
		}
		if ctx.Err() != nil {
			return nil
		}
		n.log.Warn("cannot register in etcd; retrying", "err", err, "retry_in", wait)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Second)
	}
}

// close releases what start acquired, in reverse order.
func (n *storageNode) close() error {
	var errs []error
	if n.settings != nil {
		n.settings.stop()
	}
	n.stopReplication()
	if n.stopCold != nil {
		n.stopCold()
	}
	if n.backups != nil {
		if err := n.backups.Close(); err != nil {
			errs = append(errs, fmt.Errorf("release backup snapshots: %w", err))
		}
	}
	if n.ln != nil && n.srv == nil {
		n.ln.Close()
	}
	if n.db != nil {
		if err := n.db.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close storage: %w", err))
		}
	}
	if n.co != nil {
		if err := n.co.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close etcd client: %w", err))
		}
	}
	return errors.Join(errs...)
}

// openClusterStorage opens a storage node's data directory with the
// cluster's number of groups and shard tag. It refuses a directory
// created with another number of groups (by soltix serve or for another
// cluster): its groups would not be the map's.
func openClusterStorage(dir string, opts *storage.Options, info coord.Info) (*storage.DB, error) {
	opts.NumGroups, opts.ShardTag = info.NumGroups, info.ShardTag
	db, err := storage.Open(dir, opts)
	if err != nil {
		return nil, fmt.Errorf("open storage in %s: %w", dir, err)
	}
	if db.NumGroups() != info.NumGroups {
		n := db.NumGroups()
		db.Close()
		return nil, fmt.Errorf("data dir %s holds %d groups but the cluster has %d: it belongs to another cluster or to soltix serve", dir, n, info.NumGroups)
	}
	return db, nil
}

// groupMover is what the coordinator calls to move a group between nodes
// (remote.Mover: copy, catch up, switch the map at a new epoch).
func groupMover(n *storageNode) coord.Mover {
	return remote.NewMover(coordGroups{n.co, n.view}, coordGroups{n.co, n.view}, remote.MoverOptions{Logger: n.log, TLS: n.tls})
}

// coordConfig is the etcd side of the configuration; name identifies the
// process as a coordinator candidate.
func (c *Config) coordConfig(name string, log *slog.Logger) coord.Config {
	return coord.Config{
		Endpoints:         c.Cluster.Etcd,
		Cluster:           c.Cluster.Name,
		NumGroups:         c.Cluster.NumGroups,
		ReplicationFactor: c.Cluster.ReplicationFactor,
		ShardTag:          c.Storage.ShardTag,
		MinNodes:          c.Cluster.MinNodes,
		LeaseTTL:          time.Duration(c.Cluster.LeaseTTL),
		Name:              name,
		Logger:            log,
	}
}

// nodeSeriesLimit is remote.NodeOptions.NewSeriesPerMinute for
// limits.new_series_per_minute: 0 takes httpapi's default, -1 (no limit)
// is 0.
func nodeSeriesLimit(n int) int {
	switch {
	case n == 0:
		return httpapi.DefaultNewSeriesPerMinute
	case n < 0:
		return 0
	}
	return n
}
