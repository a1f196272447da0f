package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/soltixdb/soltix/coord"
	"github.com/soltixdb/soltix/httpapi"
	"github.com/soltixdb/soltix/remote"
)

// routerCmd runs a cluster's router until SIGINT or SIGTERM: the whole
// external API of serve over the storage nodes etcd's map names.
func routerCmd(args []string, stdout, stderr io.Writer) int {
	cfg, code, ok := roleConfig("router", routerIntro, args, stdout, stderr)
	if !ok {
		return code
	}
	log := newLogger(&cfg, stderr)
	cfg.logDesignNotes("router", log)
	slog.SetDefault(log)
	applyMemoryLimit(&cfg, os.Getenv, log)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	return runRouter(ctx, &cfg, log, stdout)
}

// runRouter runs a router configured by cfg until ctx ends.
func runRouter(ctx context.Context, cfg *Config, log *slog.Logger, stdout io.Writer) int {
	host, _ := os.Hostname()
	co, err := coord.Open(ctx, cfg.coordConfig("router-"+host+"-"+strconv.Itoa(os.Getpid()), log))
	if err != nil {
		if ctx.Err() != nil {
			return 0
		}
		log.Error("cannot reach the cluster", "err", err)
		return 1
	}
	defer co.Close()
	view, err := co.Watch(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return 0
		}
		log.Error("cannot load the cluster map", "err", err)
		return 1
	}
	ctls, err := cfg.clusterTLS(log)
	if err != nil {
		log.Error("cannot load the cluster tls certificate", "err", err)
		return 1
	}
	internal := remote.NewInternalClient(ctls, 0)
	settings := newRouterSettings(co, view, internal, log)
	defer settings.close()
	store := newRouterStore(view, settings, cfg.failoverWait(), ctls, log)
	defer store.close()
	if err := applyCollections(store, cfg.Collections); err != nil {
		log.Error("cannot store the config file's collection settings in etcd", "err", err)
		return 1
	}

	if len(co.Tokens()) == 0 {
		_ = checkExposure(cfg, false, log) // a router only warns; etcd's tokens count too
	}
	tlsConfig, err := cfg.serverTLS(log)
	if err != nil {
		log.Error("cannot load the tls certificate", "err", err)
		return 1
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		log.Error("cannot listen", "addr", cfg.Listen, "err", err)
		return 1
	}
	opts := cfg.httpOptions(ln.Addr().String(), log)
	tokens := newRouterTokens(co, view, opts.Tokens, log)
	defer tokens.close()
	opts.TokenStore = tokens
	info := co.Info()
	opts.Cluster = func(ctx context.Context) (*httpapi.ClusterStatus, error) {
		st := clusterStatusOf(cfg.Cluster.Name, info, view.Map())
		st.Replication = "off"
		if len(cfg.Cluster.NATS) > 0 {
			st.Replication = "nats"
			addCopies(ctx, internal, st)
		}
		return st, nil
	}
	opts.ClusterMetrics = store.nodeMetrics
	opts.BackupProxy = newBackupProxy(view, ctls, log)
	ing, err := startIngest(cfg, "soltix router "+host, store, log)
	if err != nil {
		log.Error("cannot start the NATS ingestion", "err", err)
		ln.Close()
		return 1
	}
	if ing != nil {
		opts.Metrics = append(opts.Metrics, ing.WriteMetrics)
	}
	handler := httpapi.New(store, opts)
	ln = httpapi.LimitConnections(ln, cfg.HTTP.MaxConnections)
	srv := httpapi.NewServer(handler, cfg.serverConfig(log))
	if tlsConfig != nil {
		httpapi.UseTLS(srv, tlsConfig)
	}

	fmt.Fprintf(stdout, "soltix %s router serving on %s://%s (cluster %s, %d groups)\n", buildVersion(), cfg.scheme(), ln.Addr(), cfg.Cluster.Name, info.NumGroups)
	errc := make(chan error, 1)
	go func() { errc <- httpapi.Serve(srv, ln) }()
	code := 0
	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case err := <-errc:
		log.Error("http server stopped", "err", err)
		code = 1
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Error("http shutdown", "err", err)
		code = 1
	}
	if err := stopIngest(sctx, ing); err != nil {
		log.Error("NATS ingestion stop", "err", err)
		code = 1
	}
	log.Info("stopped")
	return code
}

// clusterStatusOf is GET /api/v1/cluster's answer from the map m (the
// handler sorts it and derives the groups' states).
func clusterStatusOf(name string, info coord.Info, m coord.Map) *httpapi.ClusterStatus {
	st := &httpapi.ClusterStatus{Name: name, NumGroups: info.NumGroups, ReplicationFactor: info.ReplicationFactor}
	for _, n := range m.Nodes {
		state := httpapi.NodeDown
		if n.Up {
			state = httpapi.NodeUp
		}
		st.Nodes = append(st.Nodes, httpapi.ClusterNode{ID: n.ID, Addr: n.Addr, State: state})
	}
	for _, g := range m.Groups {
		st.Groups = append(st.Groups, httpapi.ClusterGroup{ID: g.ID, Primary: g.Primary, Replicas: g.Replicas, Epoch: g.Epoch, MovingTo: g.MovingTo})
	}
	return st
}

// routerStore is the router's httpapi.Store: the storage nodes for data
// (remote.Client: writes, reads, admin), etcd for collection settings
// (routerSettings).
type routerStore struct {
	*remote.Client
	*routerSettings
}

func newRouterStore(view *coord.View, settings *routerSettings, failoverWait time.Duration, ctls *remote.ClusterTLS, log *slog.Logger) *routerStore {
	return &routerStore{Client: remote.NewClient(view, remote.ClientOptions{Logger: log, FailoverWait: failoverWait, TLS: ctls}), routerSettings: settings}
}

// failoverWait is how long a router holds a write whose groups have no
// primary up: with replication (cluster.nats) a replica is promoted about
// a lease after its primary died, so three leases (the lease to expire,
// the promotion, the new primary catching up) and 5 s; without it, no
// time: the groups wait for their node, and the client is told at once.
func (c *Config) failoverWait() time.Duration {
	if len(c.Cluster.NATS) == 0 {
		return 0
	}
	lease := time.Duration(c.Cluster.LeaseTTL)
	if lease <= 0 {
		lease = defaultLeaseTTL
	}
	return 3*lease + 5*time.Second
}

func (s *routerStore) close() { s.Client.Close() }

// nodeMetrics are the router's counters per storage node.
func (s *routerStore) nodeMetrics() []httpapi.NodeMetrics {
	var out []httpapi.NodeMetrics
	for _, m := range s.Client.NodeMetrics() {
		out = append(out, httpapi.NodeMetrics{Node: m.Node, Addr: m.Addr, Fragments: m.Fragments, Aggregates: m.Aggregates, WriteRequests: m.WriteRequests,
			BytesSent: m.BytesSent, BytesReceived: m.BytesReceived, Errors: m.Errors})
	}
	return out
}

var _ httpapi.Store = (*routerStore)(nil)

// addCopies asks every up storage node for its replication per group
// (GET /internal/v1/replication, 2 s each, at the same time) and adds
// what they answer to the groups of st. A node that does not answer is
// left out.
func addCopies(ctx context.Context, hc *http.Client, st *httpapi.ClusterStatus) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	answers := make([]replicationStatus, len(st.Nodes))
	var wg sync.WaitGroup
	for i, nd := range st.Nodes {
		if nd.State != httpapi.NodeUp || nd.Addr == "" {
			continue
		}
		wg.Go(func() {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, nd.Addr+pathReplication, nil)
			if err != nil {
				return
			}
			resp, err := hc.Do(req)
			if err != nil {
				return
			}
			defer resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				json.NewDecoder(io.LimitReader(resp.Body, 4<<20)).Decode(&answers[i]) //nolint:errcheck // a node that answers badly is left out
			}
		})
	}
	wg.Wait()
	byGroup := map[int]int{}
	for i := range st.Groups {
		byGroup[st.Groups[i].ID] = i
	}
	for i, a := range answers {
		for _, g := range a.Groups {
			j, ok := byGroup[g.Group]
			if !ok {
				continue
			}
			st.Groups[j].Copies = append(st.Groups[j].Copies, httpapi.ClusterCopy{Node: st.Nodes[i].ID, Role: g.Role,
				Last: g.Last, Pending: g.Pending, LagSeconds: g.LagSeconds, Error: g.Error})
		}
	}
}
