package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/soltixdb/soltix/storage"
)

// ClusterConfig is the cluster a storage node or router belongs to. Name,
// NumGroups and ReplicationFactor are read when the cluster is created in
// etcd (by the first process that finds it missing) and fixed afterwards:
// later processes read them from etcd.
type ClusterConfig struct {
	// Etcd are etcd's client URLs ("http://127.0.0.1:2379").
	Etcd []string `yaml:"etcd"`
	// NATS are the NATS servers' URLs ("nats://127.0.0.1:4222"). With
	// them, serve and routers take writes published to
	// soltix.ingest.<collection> (package replication/ingest); storage
	// nodes keep them for replication. serve reads this key of the
	// cluster section too.
	NATS []string `yaml:"nats"`
	// Name is the cluster's name, the prefix of its keys in etcd (default
	// "soltix"), so that several clusters can share one etcd.
	Name string `yaml:"name"`
	// NumGroups is the number of groups devices are hashed into (default
	// 16).
	NumGroups int `yaml:"num_groups"`
	// ReplicationFactor is how many nodes hold each group (default 1).
	ReplicationFactor int `yaml:"replication_factor"`
	// MinNodes is how many storage nodes must be up before the groups of
	// a new cluster are placed (default 1), so that a cluster started with
	// several nodes spreads its groups over all of them at once.
	MinNodes int `yaml:"min_nodes"`
	// LeaseTTL is how long a process may go unheard by etcd before it is
	// down: a crashed storage node's groups answer 503 after it, and the
	// node, restarted, waits for it before registering again (default
	// 5s, at least 2s).
	LeaseTTL Duration `yaml:"lease_ttl"`
	// TLS turns on mutual TLS on the cluster's internal traffic
	// (cluster_tls.go); without it that traffic is cleartext HTTP/2.
	TLS ClusterTLSConfig `yaml:"tls"`
}

// NodeConfig identifies a storage node.
type NodeConfig struct {
	// ID names the node in the cluster map; it must stay the same across
	// restarts of the node (its data directory holds its groups).
	ID string `yaml:"id"`
	// Advertise is the base URL other processes reach the node at
	// (default http://LISTEN, with the host name when LISTEN's host is
	// empty or unspecified).
	Advertise string `yaml:"advertise"`
}

// Defaults of the cluster keys.
const (
	defaultClusterName       = "soltix"
	defaultClusterGroups     = 16
	defaultReplicationFactor = 1
	// maxClusterGroups bounds cluster.num_groups: the map holds one entry
	// per group and every storage node a directory per group it holds.
	maxClusterGroups = 4096
	// defaultLeaseTTL, minLeaseTTL and maxLeaseTTL bound
	// cluster.lease_ttl: etcd counts leases in whole seconds, with a
	// minimum of about 2 s.
	defaultLeaseTTL = 5 * time.Second
	minLeaseTTL     = 2 * time.Second
	maxLeaseTTL     = 5 * time.Minute
)

// nameRE is what a node id or a cluster name may be: they are parts of
// etcd keys and of log lines.
var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)

// clusterEnv applies the SOLTIX_* variables of the cluster keys.
func (c *Config) clusterEnv(getenv func(string) string) error {
	if v := getenv("SOLTIX_ETCD"); v != "" {
		c.Cluster.Etcd = splitList(v)
	}
	if v := getenv("SOLTIX_NATS"); v != "" {
		c.Cluster.NATS = splitList(v)
	}
	if v := getenv("SOLTIX_CLUSTER_NAME"); v != "" {
		c.Cluster.Name = v
	}
	if v := getenv("SOLTIX_NODE_ID"); v != "" {
		c.Node.ID = v
	}
	if v := getenv("SOLTIX_ADVERTISE"); v != "" {
		c.Node.Advertise = v
	}
	c.Cluster.TLS.env(getenv)
	if err := errors.Join(envInt(getenv, "SOLTIX_CLUSTER_NUM_GROUPS", &c.Cluster.NumGroups),
		envInt(getenv, "SOLTIX_CLUSTER_REPLICATION_FACTOR", &c.Cluster.ReplicationFactor),
		envInt(getenv, "SOLTIX_CLUSTER_MIN_NODES", &c.Cluster.MinNodes),
		envDuration(getenv, "SOLTIX_CLUSTER_LEASE_TTL", &c.Cluster.LeaseTTL)); err != nil {
		return err
	}
	if v := getenv("SOLTIX_TEST_NOW"); v != "" {
		if _, err := time.Parse(time.RFC3339Nano, v); err != nil {
			return fmt.Errorf("SOLTIX_TEST_NOW: %w", err)
		}
		c.now = testClock(getenv)
	}
	return nil
}

// splitList splits a comma-separated list, dropping empty elements.
func splitList(v string) []string {
	var out []string
	for _, e := range strings.Split(v, ",") {
		if e = strings.TrimSpace(e); e != "" {
			out = append(out, e)
		}
	}
	return out
}

// roleFlagValues are the flags of the cluster roles (nil when a role has
// no such flag).
type roleFlagValues struct {
	configPath, listen, dataDir, walSync, walRecovery *string
	nodeID, advertise, etcd, nats                     *string
	tlsCert, tlsKey                                   *string
	clusterCert, clusterKey, clusterCA                *string
}

// roleFlags returns the flag set of a cluster role, "storage" or
// "router". It prints nothing: callers print help and errors.
func roleFlags(role string, getenv func(string) string) (*flag.FlagSet, roleFlagValues) {
	fs := flag.NewFlagSet(role, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	var f roleFlagValues
	f.configPath = fs.String("config", getenv("SOLTIX_CONFIG"), "read the YAML config `FILE` (or SOLTIX_CONFIG's)")
	f.etcd = fs.String("etcd", "", "etcd's client `URLS`, comma-separated, like http://127.0.0.1:2379 (cluster.etcd, SOLTIX_ETCD); required")
	if role == "storage" {
		f.nats = fs.String("nats", "", "the NATS servers' `URLS`, comma-separated, like nats://127.0.0.1:4222, kept for replication (cluster.nats, SOLTIX_NATS)")
	} else {
		f.nats = fs.String("nats", "", natsFlagUsage)
	}
	f.clusterCert = fs.String("cluster-tls-cert", "", "mutual TLS between routers and storage nodes: this process's PEM certificate `FILE`, signed by --cluster-tls-ca (cluster.tls.cert_file, SOLTIX_CLUSTER_TLS_CERT_FILE), reloaded when it changes")
	f.clusterKey = fs.String("cluster-tls-key", "", "the PEM private key `FILE` of --cluster-tls-cert (cluster.tls.key_file, SOLTIX_CLUSTER_TLS_KEY_FILE)")
	f.clusterCA = fs.String("cluster-tls-ca", "", "the PEM `FILE` of the CA that signs every node's and router's certificate (cluster.tls.ca_file, SOLTIX_CLUSTER_TLS_CA_FILE)")
	if role == "storage" {
		f.nodeID = fs.String("node-id", "", "this node's `ID` in the cluster map, the same at every restart: letters, digits, '.', '_', '-' (node.id, SOLTIX_NODE_ID); required")
		f.listen = fs.String("listen", "", "serve the internal API on `ADDR`, host:port; port 0 picks a free one (listen, SOLTIX_LISTEN); required")
		f.advertise = fs.String("advertise", "", "the `URL` routers and other nodes reach this node at (node.advertise, SOLTIX_ADVERTISE; default http://LISTEN, or https://LISTEN with --cluster-tls-cert)")
		f.dataDir = fs.String("data-dir", "", "keep this node's data in `DIR` (data_dir, SOLTIX_DATA_DIR); required")
		f.walSync = fs.String("wal-sync", "", "fsync the WAL by `POLICY`: always, or never (unsafe: a crash loses acknowledged writes) (default always)")
		f.walRecovery = fs.String("wal-recovery", "", "on WAL corruption that is not a torn tail, `MODE`: strict (refuse to start), or truncate (drop everything from the corruption on, logged) (default strict)")
	} else {
		f.listen = fs.String("listen", "", "serve the external API on `ADDR`, host:port; port 0 picks a free one (listen, SOLTIX_LISTEN); required")
		f.tlsCert = fs.String("tls-cert", "", "serve HTTPS with the PEM certificate `FILE` (tls.cert_file, SOLTIX_TLS_CERT_FILE), reloaded when it changes")
		f.tlsKey = fs.String("tls-key", "", "the PEM private key `FILE` of --tls-cert (tls.key_file, SOLTIX_TLS_KEY_FILE)")
	}
	return fs, f
}

// loadRoleConfig builds the configuration of a cluster role from its
// arguments: defaults, then the environment, then --config, then flags.
func loadRoleConfig(role string, args []string, getenv func(string) string) (Config, error) {
	cfg := defaultConfig()
	cfg.Listen, cfg.DataDir = "", ""
	if err := cfg.envOverrides(getenv); err != nil {
		return cfg, err
	}
	fs, f := roleFlags(role, getenv)
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *f.configPath != "" {
		if err := cfg.loadFile(*f.configPath); err != nil {
			return cfg, err
		}
	}
	set := func(dst *string, v *string) {
		if v != nil && *v != "" {
			*dst = *v
		}
	}
	set(&cfg.Listen, f.listen)
	set(&cfg.DataDir, f.dataDir)
	set(&cfg.Storage.WALSync, f.walSync)
	set(&cfg.Storage.WALRecovery, f.walRecovery)
	set(&cfg.Node.ID, f.nodeID)
	set(&cfg.Node.Advertise, f.advertise)
	set(&cfg.TLS.CertFile, f.tlsCert)
	set(&cfg.TLS.KeyFile, f.tlsKey)
	set(&cfg.Cluster.TLS.CertFile, f.clusterCert)
	set(&cfg.Cluster.TLS.KeyFile, f.clusterKey)
	set(&cfg.Cluster.TLS.CAFile, f.clusterCA)
	if *f.etcd != "" {
		cfg.Cluster.Etcd = splitList(*f.etcd)
	}
	if *f.nats != "" {
		cfg.Cluster.NATS = splitList(*f.nats)
	}
	if err := cfg.validate(); err != nil {
		return cfg, err
	}
	return cfg, cfg.validateCluster(role)
}

// validateCluster completes the cluster keys with their defaults and
// refuses what a role cannot run with.
func (c *Config) validateCluster(role string) error {
	cl := &c.Cluster
	if len(cl.Etcd) == 0 {
		return fmt.Errorf("missing --etcd (cluster.etcd, SOLTIX_ETCD): etcd's client URLs, like http://127.0.0.1:2379")
	}
	for _, e := range cl.Etcd {
		if err := checkBaseURL(e); err != nil {
			return fmt.Errorf("cluster.etcd: %w", err)
		}
	}
	if cl.Name == "" {
		cl.Name = defaultClusterName
	}
	if !nameRE.MatchString(cl.Name) {
		return fmt.Errorf("cluster.name %q: want 1 to 63 letters, digits, '.', '_' or '-', starting with a letter or digit", cl.Name)
	}
	switch {
	case cl.NumGroups == 0:
		cl.NumGroups = defaultClusterGroups
	case cl.NumGroups < 0 || cl.NumGroups > maxClusterGroups:
		return fmt.Errorf("cluster.num_groups must be between 1 and %d, not %d", maxClusterGroups, cl.NumGroups)
	}
	switch {
	case cl.ReplicationFactor == 0:
		cl.ReplicationFactor = defaultReplicationFactor
	case cl.ReplicationFactor < 0:
		return fmt.Errorf("cluster.replication_factor must be at least 1, not %d", cl.ReplicationFactor)
	}
	switch ttl := time.Duration(cl.LeaseTTL); {
	case ttl == 0:
		cl.LeaseTTL = Duration(defaultLeaseTTL)
	case ttl < minLeaseTTL || ttl > maxLeaseTTL || ttl%time.Second != 0:
		return fmt.Errorf("cluster.lease_ttl must be whole seconds between %s and %s, not %s", minLeaseTTL, maxLeaseTTL, ttl)
	}
	if err := cl.TLS.validate(); err != nil {
		return err
	}
	if cl.MinNodes < 0 {
		return fmt.Errorf("cluster.min_nodes must not be negative, not %d", cl.MinNodes)
	}
	if c.Storage.NumGroups != 0 {
		return fmt.Errorf("storage.num_groups is for serve; a cluster's number of groups is cluster.num_groups")
	}
	if d, _ := c.Storage.defaultSettings(); d != (storage.CollectionSettings{}) {
		if !c.designDefaults {
			return fmt.Errorf("storage.defaults is for serve; a cluster keeps collection settings in etcd, for every node alike: set them through a router (PUT /api/v1/collections/NAME/settings, or collections.NAME in the router's config file)")
		}
		// The design's storage.retention_days or aggregation.enabled:
		// named as not honoured at start-up (logDesignNotes).
		c.Storage.Defaults = storage.SettingsSpec{}
	}
	if c.Listen == "" {
		return fmt.Errorf("missing --listen (listen, SOLTIX_LISTEN): the host:port to serve on")
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return fmt.Errorf("listen %q: want host:port: %w", c.Listen, err)
	}
	if role != "storage" {
		return nil
	}
	if c.Node.ID == "" {
		return fmt.Errorf("missing --node-id (node.id, SOLTIX_NODE_ID): the name of this node in the cluster map")
	}
	if !nameRE.MatchString(c.Node.ID) {
		return fmt.Errorf("node id %q: want 1 to 63 letters, digits, '.', '_' or '-', starting with a letter or digit", c.Node.ID)
	}
	if c.DataDir == "" {
		return fmt.Errorf("missing --data-dir (data_dir, SOLTIX_DATA_DIR): the directory of this node's data")
	}
	if c.Node.Advertise != "" {
		if err := checkBaseURL(c.Node.Advertise); err != nil {
			return fmt.Errorf("node.advertise: %w", err)
		}
	}
	return c.checkAdvertiseScheme()
}

// checkBaseURL accepts an http or https URL with a host and no path,
// query or user.
func checkBaseURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") ||
		u.RawQuery != "" || u.User != nil {
		return fmt.Errorf("%q is not a URL like http://host:port", s)
	}
	return nil
}

// natsFlagUsage describes --nats of serve and router.
const natsFlagUsage = "take writes published to soltix.ingest.<collection> (NATS, and MQTT through the server's MQTT listener) from the NATS servers at `URLS`, comma-separated, like nats://127.0.0.1:4222 (cluster.nats, SOLTIX_NATS)"

// checkNATSURLs accepts NATS URLs: nats, tls, ws or wss, with a host and
// no path or query.
func checkNATSURLs(urls []string) error {
	for _, s := range urls {
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "nats" && u.Scheme != "tls" && u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" ||
			(u.Path != "" && u.Path != "/") || u.RawQuery != "" {
			return fmt.Errorf("cluster.nats: %q is not a URL like nats://host:4222", s)
		}
	}
	return nil
}

// advertiseURL is the URL a storage node registers: node.advertise when
// set, else scheme (http, or https with cluster.tls), :// and the address
// it listens on, with the host name in place of an unspecified host.
func advertiseURL(advertise, scheme string, bound net.Addr) string {
	if advertise != "" {
		return strings.TrimSuffix(advertise, "/")
	}
	host, port, err := net.SplitHostPort(bound.String())
	if err != nil {
		return scheme + "://" + bound.String()
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		if h, err := os.Hostname(); err == nil && h != "" {
			host = h
		} else {
			host = "127.0.0.1"
		}
	}
	return scheme + "://" + net.JoinHostPort(host, port)
}

// testClock returns the fixed clock of SOLTIX_TEST_NOW (an RFC 3339
// time), or nil when it is not set. End-to-end tests use it to give every
// process of a cluster the same now(); it is not for production.
func testClock(getenv func(string) string) func() time.Time {
	v := getenv("SOLTIX_TEST_NOW")
	if v == "" {
		return nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return nil // refused by clusterEnv
	}
	return func() time.Time { return t }
}
