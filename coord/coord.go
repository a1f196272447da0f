package coord

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"strconv"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Defaults of Config.
const (
	DefaultCluster           = "soltix"
	DefaultNumGroups         = 16
	DefaultReplicationFactor = 1
	DefaultShardTag          = "device_id"
	DefaultLeaseTTL          = 5 * time.Second
	DefaultDialTimeout       = 5 * time.Second
)

// maxNumGroups bounds num_groups (groups are directories group_NNNN and
// keys groups/NNNN).
const maxNumGroups = 9999

// Config says which etcd and which cluster a process joins.
type Config struct {
	// Endpoints are etcd's client URLs.
	Endpoints []string
	// Cluster names the cluster; its keys live under /soltix/<Cluster>/.
	// Default "soltix".
	Cluster string
	// NumGroups, ReplicationFactor and ShardTag are used only when the
	// cluster is created (defaults 16, 1, "device_id"); afterwards the
	// values stored in etcd win and a differing setting is logged.
	NumGroups         int
	ReplicationFactor int
	ShardTag          string
	// MinNodes is how many nodes must be up before the coordinator assigns
	// the groups of a new cluster (default 1), so that a cluster started
	// with several nodes places its groups on all of them at once instead
	// of on the first node up and then moving them.
	MinNodes int
	// LeaseTTL is the lease of a node registration and of the coordinator
	// election: a process gone this long is down. Default 5 s; etcd
	// rounds it up to whole seconds (and to its minimum, about 2 s).
	LeaseTTL time.Duration
	// DialTimeout bounds each attempt to reach etcd. Default 5 s.
	DialTimeout time.Duration
	// Name identifies this process as a coordinator candidate (Leader
	// returns it). Default hostname-pid.
	Name string
	// Logger receives coord's logs and the etcd client's errors. Default
	// slog.Default().
	Logger *slog.Logger
	// Promoter, when set (replication on), lets the coordinator promote a
	// replica of a group whose primary is down (coordinator.go). Without
	// it a down primary's groups wait for it.
	Promoter Promoter
}

// Info is the cluster's fixed shape, stored in etcd when the cluster is
// created.
type Info struct {
	NumGroups         int
	ReplicationFactor int
	ShardTag          string
}

func (in Info) validate() error {
	switch {
	case in.NumGroups < 1 || in.NumGroups > maxNumGroups:
		return fmt.Errorf("num_groups %d: want 1-%d", in.NumGroups, maxNumGroups)
	case in.ReplicationFactor < 1 || in.ReplicationFactor > 9:
		return fmt.Errorf("replication_factor %d: want 1-9", in.ReplicationFactor)
	case in.ShardTag == "":
		return errors.New("shard_tag is empty")
	}
	return nil
}

// Coord is one process's connection to the cluster's etcd. It keeps one
// View of the cluster map, loaded by Open and followed until Close. Its
// methods are safe for concurrent use.
type Coord struct {
	cfg  Config
	cli  *clientv3.Client
	pfx  string
	info Info
	log  *slog.Logger
	view *View

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup
	// promoteSoon is set by a reconcile pass that left a down primary's
	// group without a promotable replica (coordinator goroutine only).
	promoteSoon bool
	// tokenTxnHook, when set (tests), runs in DeleteTokenKeeping between
	// reading the tokens and committing the removal.
	tokenTxnHook func()
}

// Open connects to etcd (retrying until ctx ends), creates the cluster's
// info key when the cluster is new or reads it otherwise, loads the cluster
// map and starts following it.
func Open(ctx context.Context, cfg Config) (*Coord, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   cfg.Endpoints,
		DialTimeout: cfg.DialTimeout,
		Logger:      zapToSlog(cfg.Logger),
		// Keep-alive pings notice a dead etcd connection under a lease's TTL.
		DialKeepAliveTime:    cfg.LeaseTTL / 2,
		DialKeepAliveTimeout: cfg.LeaseTTL / 2,
	})
	if err != nil {
		return nil, fmt.Errorf("etcd client %v: %w", cfg.Endpoints, err)
	}
	c := &Coord{cfg: cfg, cli: cli, pfx: "/soltix/" + cfg.Cluster + "/", log: cfg.Logger.With("cluster", cfg.Cluster)}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	if err := c.retry(ctx, "cluster info", c.loadInfo); err != nil {
		cli.Close()
		return nil, err
	}
	c.view = newView(c)
	if err := c.retry(ctx, "cluster map", c.view.reload); err != nil {
		cli.Close()
		return nil, err
	}
	c.wg.Add(2)
	go c.view.follow()
	go c.view.dispatchSettings()
	return c, nil
}

func (cfg Config) withDefaults() (Config, error) {
	if len(cfg.Endpoints) == 0 {
		return cfg, errors.New("coord: no etcd endpoints")
	}
	if cfg.Cluster == "" {
		cfg.Cluster = DefaultCluster
	}
	if err := validName(cfg.Cluster); err != nil {
		return cfg, fmt.Errorf("coord: cluster name %q: %w", cfg.Cluster, err)
	}
	if cfg.LeaseTTL <= 0 {
		cfg.LeaseTTL = DefaultLeaseTTL
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = DefaultDialTimeout
	}
	if cfg.MinNodes < 1 {
		cfg.MinNodes = 1
	}
	if cfg.Name == "" {
		host, _ := os.Hostname()
		cfg.Name = host + "-" + strconv.Itoa(os.Getpid())
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return cfg, nil
}

// wanted is the Info this process would create a cluster with.
func (cfg Config) wanted() Info {
	in := Info{NumGroups: cfg.NumGroups, ReplicationFactor: cfg.ReplicationFactor, ShardTag: cfg.ShardTag}
	if in.NumGroups == 0 {
		in.NumGroups = DefaultNumGroups
	}
	if in.ReplicationFactor == 0 {
		in.ReplicationFactor = DefaultReplicationFactor
	}
	if in.ShardTag == "" {
		in.ShardTag = DefaultShardTag
	}
	return in
}

// retry runs op with a DialTimeout deadline per attempt until it succeeds
// or ctx ends, logging failures.
func (c *Coord) retry(ctx context.Context, what string, op func(context.Context) error) error {
	wait := 100 * time.Millisecond
	for {
		actx, cancel := context.WithTimeout(ctx, c.cfg.DialTimeout)
		err := op(actx)
		cancel()
		if err == nil {
			return nil
		}
		var perm permanentError
		if errors.As(err, &perm) {
			return fmt.Errorf("coord: %s: %w", what, perm.err)
		}
		c.log.Warn("coord: etcd not answering, retrying", "op", what, "err", err)
		select {
		case <-ctx.Done():
			return fmt.Errorf("coord: %s from etcd %v: %w", what, c.cfg.Endpoints, errors.Join(ctx.Err(), err))
		case <-time.After(wait):
		}
		wait = min(2*wait, 2*time.Second)
	}
}

// permanentError stops retry: etcd answered, and the answer is wrong.
type permanentError struct{ err error }

func (p permanentError) Error() string { return p.err.Error() }

// loadInfo creates the info key if absent (one transaction:
// If(create_revision(info) == 0) Then(Put(info)) Else(Get(info))) and sets
// c.info from what etcd holds.
func (c *Coord) loadInfo(ctx context.Context) error {
	want := c.cfg.wanted()
	if err := want.validate(); err != nil {
		return permanentError{err}
	}
	key := c.pfx + keyInfo
	resp, err := c.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
		Then(clientv3.OpPut(key, string(encodeInfo(want)))).
		Else(clientv3.OpGet(key)).
		Commit()
	if err != nil {
		return err
	}
	if resp.Succeeded {
		c.info = want
		c.log.Info("coord: cluster created", "num_groups", want.NumGroups,
			"replication_factor", want.ReplicationFactor, "shard_tag", want.ShardTag)
		return nil
	}
	kvs := resp.Responses[0].GetResponseRange().Kvs
	if len(kvs) == 0 {
		return errors.New("info key vanished") // deleted in between: try again
	}
	in, err := decodeInfo(kvs[0].Value)
	if err != nil {
		return permanentError{err}
	}
	c.info = in
	cfg := c.cfg
	if (cfg.NumGroups != 0 && cfg.NumGroups != in.NumGroups) ||
		(cfg.ReplicationFactor != 0 && cfg.ReplicationFactor != in.ReplicationFactor) ||
		(cfg.ShardTag != "" && cfg.ShardTag != in.ShardTag) {
		c.log.Warn("coord: the cluster exists with another shape; etcd's values are used",
			"num_groups", in.NumGroups, "replication_factor", in.ReplicationFactor, "shard_tag", in.ShardTag,
			"configured_num_groups", cfg.NumGroups, "configured_replication_factor", cfg.ReplicationFactor,
			"configured_shard_tag", cfg.ShardTag)
	}
	return nil
}

// Info returns the cluster's fixed shape as stored in etcd.
func (c *Coord) Info() Info { return c.info }

// Close stops following the map and closes the etcd connection. Callers
// first end RunCoordinator (cancel its context and wait) and close their
// Registrations (Close does not revoke them: their leases then expire
// after LeaseTTL).
func (c *Coord) Close() error {
	c.cancel()
	c.wg.Wait()
	return c.cli.Close()
}

// ttlSeconds is LeaseTTL in whole seconds, as etcd leases count.
func (c *Coord) ttlSeconds() int64 {
	return int64(math.Ceil(c.cfg.LeaseTTL.Seconds()))
}

// Leader returns the Name of the elected coordinator, or ErrNoLeader.
func (c *Coord) Leader(ctx context.Context) (string, error) {
	resp, err := c.cli.Get(ctx, c.pfx+electionPrefix+"/", clientv3.WithFirstCreate()...)
	if err != nil {
		return "", fmt.Errorf("coord: leader: %w", err)
	}
	if len(resp.Kvs) == 0 {
		return "", ErrNoLeader
	}
	return string(resp.Kvs[0].Value), nil
}

// ErrNoLeader is returned by Leader when no coordinator is elected.
var ErrNoLeader = errors.New("coord: no coordinator elected")
