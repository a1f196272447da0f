package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/soltixdb/soltix"
	"github.com/soltixdb/soltix/httpapi"
	"github.com/soltixdb/soltix/planner"
	"github.com/soltixdb/soltix/replication/ingest"
	"github.com/soltixdb/soltix/storage"
	"github.com/soltixdb/soltix/storage/colfile"
	"github.com/soltixdb/soltix/storage/wal"
)

// Config is the whole configuration of a node. It is read from, in
// increasing priority: built-in defaults, SOLTIX_* environment variables,
// the YAML file named by --config (or SOLTIX_CONFIG), and flags.
type Config struct {
	Listen  string        `yaml:"listen"`
	DataDir string        `yaml:"data_dir"`
	Storage StorageConfig `yaml:"storage"`
	HTTP    HTTPConfig    `yaml:"http"`
	Query   QueryConfig   `yaml:"query"`
	Limits  LimitsConfig  `yaml:"limits"`
	Log     LogConfig     `yaml:"log"`
	// MemoryLimit is the Go heap's soft limit ("512MiB", "2GB", "off");
	// empty means 96 bytes per max_memory_points, at least 256 MiB, and
	// at least 1.5 × storage.max_memory_bytes when that is set.
	// GOMEMLIMIT in the environment takes precedence.
	MemoryLimit string `yaml:"memory_limit"`
	// Collections sets per-collection rollups and retention at start-up,
	// over what the admin API stored.
	Collections map[string]storage.SettingsSpec `yaml:"collections"`
	// Cold configures the cold tier on S3 (cold_config.go); serve and
	// storage nodes use it.
	Cold ColdConfig `yaml:"cold"`
	// Cluster and Node configure the cluster roles, storage and router
	// (cluster_config.go); serve ignores them but cluster.nats.
	Cluster ClusterConfig `yaml:"cluster"`
	Node    NodeConfig    `yaml:"node"`
	// Auth and TLS secure the external API (auth_config.go); Insecure
	// lets serve run without tokens on a non-loopback address.
	Auth     AuthConfig `yaml:"auth"`
	TLS      TLSConfig  `yaml:"tls"`
	Insecure bool       `yaml:"insecure"`
	// now is the fixed clock of SOLTIX_TEST_NOW (nil: time.Now).
	now func() time.Time
	// design is what the config file's keys of the original Soltix
	// design became (design_config.go), told at start-up.
	design []designNote
	// designDefaults says storage.defaults came from the design's keys
	// (storage.retention_days, aggregation.enabled), not from the file's
	// own storage.defaults.
	designDefaults bool
}

// StorageConfig configures the storage engine (see storage.Options).
type StorageConfig struct {
	NumGroups       int      `yaml:"num_groups"`
	Partition       Duration `yaml:"partition"`
	ShardTag        string   `yaml:"shard_tag"`
	WALSync         string   `yaml:"wal_sync"` // always | never
	WALSegmentBytes int64    `yaml:"wal_segment_bytes"`
	// WALSegmentAge is the age at which a non-empty WAL segment is rotated
	// (0: the WAL's default, 15 minutes).
	WALSegmentAge   Duration `yaml:"wal_segment_age"`
	WALRecovery     string   `yaml:"wal_recovery"` // strict | truncate
	FlushInterval   Duration `yaml:"flush_interval"`
	MaxMemoryPoints int      `yaml:"max_memory_points"`
	// MaxMemoryBytes bounds the estimated bytes of the values in memory
	// and the series index ("1GiB"; empty: 96 bytes per max_memory_points;
	// "off": no bound in bytes), see storage.Options.MaxMemoryBytes.
	MaxMemoryBytes string `yaml:"max_memory_bytes"`
	// WriteStallTimeout is how long a write waits for memory over its
	// bound before a 503 (storage.Options.WriteStallTimeout).
	WriteStallTimeout Duration `yaml:"write_stall_timeout"`
	CompactFiles      int      `yaml:"compact_files"`
	// BlockSize is the number of values per colstore block (0: the
	// engine's default); tests use small blocks.
	BlockSize int `yaml:"block_size"`
	// CompactBlockSize is the number of values per block of compacted
	// files (0: the engine's default, storage.DefaultCompactBlockSize,
	// or block_size when that is set).
	CompactBlockSize int `yaml:"compact_block_size"`
	// Defaults are the settings of every collection without settings of
	// its own (storage.Options.DefaultSettings), written as collections.
	// <name> is: rollups, retention, cold_after. serve only: a cluster's
	// collection settings are kept in etcd, for every node alike.
	Defaults storage.SettingsSpec `yaml:"defaults"`
}

// HTTPConfig configures the HTTP API and its limits (see httpapi.Options
// and httpapi.ServerConfig; zero values take their defaults).
type HTTPConfig struct {
	MaxBodyBytes         int64    `yaml:"max_body_bytes"`
	MaxInflightBodyBytes int64    `yaml:"max_inflight_body_bytes"`
	BodyTimeout          Duration `yaml:"body_timeout"`
	ReadHeaderTimeout    Duration `yaml:"read_header_timeout"`
	IdleTimeout          Duration `yaml:"idle_timeout"`
	MaxHeaderBytes       int      `yaml:"max_header_bytes"`
	MaxConnections       int      `yaml:"max_connections"`
	AllowedOrigins       []string `yaml:"allowed_origins"`
	AllowedHosts         []string `yaml:"allowed_hosts"`
}

// QueryConfig bounds every query (see httpapi.Options and planner.Options).
type QueryConfig struct {
	// Timeout is the deadline of a query; a request's timeout parameter
	// may only shorten it. A query past it answers 503.
	Timeout Duration `yaml:"timeout"`
	// MaxRows and MaxPoints bound the rows a query returns and the points
	// it reads; a query over them answers 422.
	MaxRows   int64 `yaml:"max_rows"`
	MaxPoints int64 `yaml:"max_points"`
	// MaxBytes bounds the bytes of a query's answer (long strings); a
	// query over it answers 422.
	MaxBytes int64 `yaml:"max_bytes"`
}

// LimitsConfig holds the limits on requests handled at once, the points
// of a write and the growth of collections (see httpapi.Options and
// docs/limits.md); 0 takes the default, -1 turns a limit off.
type LimitsConfig struct {
	MaxConcurrentQueries int `yaml:"max_concurrent_queries"`
	MaxConcurrentWrites  int `yaml:"max_concurrent_writes"`
	MaxLines             int `yaml:"max_lines"`
	NewSeriesPerMinute   int `yaml:"new_series_per_minute"`
}

// LogConfig configures logging.
type LogConfig struct {
	Level  string `yaml:"level"`  // debug | info | warn | error
	Format string `yaml:"format"` // text | json
}

// Duration is a time.Duration written as "10m" in YAML.
type Duration time.Duration

// UnmarshalYAML implements yaml.Unmarshaler.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*d = Duration(v)
	return nil
}

func defaultConfig() Config {
	return Config{
		Listen:  "127.0.0.1:5050",
		DataDir: "./data",
		Storage: StorageConfig{WALSync: "always", WALRecovery: "strict"},
		Query: QueryConfig{
			Timeout:   Duration(httpapi.DefaultQueryTimeout),
			MaxRows:   planner.DefaultMaxRows,
			MaxPoints: planner.DefaultMaxPoints,
			MaxBytes:  planner.DefaultMaxBytes,
		},
		Log: LogConfig{Level: "info", Format: "text"},
	}
}

// envOverrides applies SOLTIX_* variables.
func (c *Config) envOverrides(getenv func(string) string) error {
	str := func(name string, dst *string) {
		if v := getenv(name); v != "" {
			*dst = v
		}
	}
	str("SOLTIX_LISTEN", &c.Listen)
	str("SOLTIX_DATA_DIR", &c.DataDir)
	str("SOLTIX_WAL_SYNC", &c.Storage.WALSync)
	str("SOLTIX_WAL_RECOVERY", &c.Storage.WALRecovery)
	str("SOLTIX_SHARD_TAG", &c.Storage.ShardTag)
	str("SOLTIX_LOG_LEVEL", &c.Log.Level)
	str("SOLTIX_LOG_FORMAT", &c.Log.Format)
	str("SOLTIX_MEMORY_LIMIT", &c.MemoryLimit)
	str("SOLTIX_TLS_CERT_FILE", &c.TLS.CertFile)
	str("SOLTIX_TLS_KEY_FILE", &c.TLS.KeyFile)
	if v := getenv("SOLTIX_INSECURE"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("SOLTIX_INSECURE: %w", err)
		}
		c.Insecure = b
	}
	if err := c.clusterEnv(getenv); err != nil {
		return err
	}
	if err := errors.Join(envInt(getenv, "SOLTIX_MAX_BODY_BYTES", &c.HTTP.MaxBodyBytes),
		envInt(getenv, "SOLTIX_MAX_INFLIGHT_BODY_BYTES", &c.HTTP.MaxInflightBodyBytes)); err != nil {
		return err
	}
	list := func(name string, dst *[]string) {
		if v := getenv(name); v != "" {
			*dst = nil
			for _, e := range strings.Split(v, ",") {
				if e = strings.TrimSpace(e); e != "" {
					*dst = append(*dst, e)
				}
			}
		}
	}
	list("SOLTIX_ALLOWED_ORIGINS", &c.HTTP.AllowedOrigins)
	list("SOLTIX_ALLOWED_HOSTS", &c.HTTP.AllowedHosts)
	return errors.Join(envInt(getenv, "SOLTIX_QUERY_MAX_ROWS", &c.Query.MaxRows),
		envInt(getenv, "SOLTIX_QUERY_MAX_POINTS", &c.Query.MaxPoints),
		envInt(getenv, "SOLTIX_QUERY_MAX_BYTES", &c.Query.MaxBytes),
		envDuration(getenv, "SOLTIX_QUERY_TIMEOUT", &c.Query.Timeout),
		envDuration(getenv, "SOLTIX_FLUSH_INTERVAL", &c.Storage.FlushInterval))
}

// envInt sets *dst from the environment variable name, when it is set: an
// error names the variable.
func envInt[T int | int64](getenv func(string) string, name string, dst *T) error {
	v := getenv(name)
	if v == "" {
		return nil
	}
	size := 64
	if _, ok := any(*dst).(int); ok {
		size = strconv.IntSize
	}
	n, err := strconv.ParseInt(v, 10, size)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	*dst = T(n)
	return nil
}

// envDuration is envInt for a duration ("30s", "10m").
func envDuration(getenv func(string) string, name string, dst *Duration) error {
	v := getenv(name)
	if v == "" {
		return nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	*dst = Duration(d)
	return nil
}

// loadFile merges a YAML file into c; unknown keys are an error, but for
// the keys of the original Soltix design, which are mapped onto ours
// (design_config.go).
func (c *Config) loadFile(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read config: %w", err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return fmt.Errorf("parse config %s: %w", path, err)
	}
	found, err := c.takeDesignKeys(&doc)
	if err != nil {
		return fmt.Errorf("parse config %s: %w", path, err)
	}
	if found {
		// What is left once the design's keys are out must be ours.
		if b, err = yaml.Marshal(&doc); err != nil {
			return fmt.Errorf("parse config %s: %w", path, err)
		}
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("parse config %s: %w", path, err)
	}
	return nil
}

// loadConfig builds the configuration of a server command from its
// arguments: defaults, then the environment, then --config, then flags.
func loadConfig(name string, args []string, getenv func(string) string) (Config, error) {
	cfg := defaultConfig()
	if err := cfg.envOverrides(getenv); err != nil {
		return cfg, err
	}
	fs, f := serveFlags(name, cfg, getenv)
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
	if *f.listen != "" {
		cfg.Listen = *f.listen
	}
	if *f.dataDir != "" {
		cfg.DataDir = *f.dataDir
	}
	if *f.walSync != "" {
		cfg.Storage.WALSync = *f.walSync
	}
	if *f.walRecovery != "" {
		cfg.Storage.WALRecovery = *f.walRecovery
	}
	if *f.nats != "" {
		cfg.Cluster.NATS = splitList(*f.nats)
	}
	if *f.tlsCert != "" {
		cfg.TLS.CertFile = *f.tlsCert
	}
	if *f.tlsKey != "" {
		cfg.TLS.KeyFile = *f.tlsKey
	}
	if *f.insecure {
		cfg.Insecure = true
	}
	return cfg, cfg.validate()
}

// serveFlagValues are the flags of a server command.
type serveFlagValues struct {
	configPath, listen, dataDir, walSync, walRecovery, nats *string
	tlsCert, tlsKey                                         *string
	insecure                                                *bool
}

// serveFlags returns the flag set of a server command, describing the
// defaults of cfg. It prints nothing: callers print help and errors.
func serveFlags(name string, cfg Config, getenv func(string) string) (*flag.FlagSet, serveFlagValues) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	var f serveFlagValues
	f.configPath = fs.String("config", getenv("SOLTIX_CONFIG"), "read the YAML config `FILE` (or SOLTIX_CONFIG's)")
	f.listen = fs.String("listen", "", "listen on `ADDR`, host:port; port 0 picks a free one (default "+cfg.Listen+")")
	f.dataDir = fs.String("data-dir", "", "keep the data in `DIR` (default "+cfg.DataDir+")")
	f.walSync = fs.String("wal-sync", "", "fsync the WAL by `POLICY`: always, or never (unsafe: a crash loses acknowledged writes) (default always)")
	f.walRecovery = fs.String("wal-recovery", "", "on WAL corruption that is not a torn tail, `MODE`: strict (refuse to start), or truncate (drop everything from the corruption on, logged) (default strict)")
	f.nats = fs.String("nats", "", natsFlagUsage)
	f.tlsCert = fs.String("tls-cert", "", "serve HTTPS with the PEM certificate `FILE` (tls.cert_file, SOLTIX_TLS_CERT_FILE), reloaded when it changes")
	f.tlsKey = fs.String("tls-key", "", "the PEM private key `FILE` of --tls-cert (tls.key_file, SOLTIX_TLS_KEY_FILE)")
	f.insecure = fs.Bool("insecure", false, "serve without auth.tokens on an address other machines can reach (insecure, SOLTIX_INSECURE); refused otherwise")
	return fs, f
}

func (c *Config) validate() error {
	switch c.Storage.WALSync {
	case "always", "never":
	default:
		return fmt.Errorf("wal_sync must be always or never, not %q", c.Storage.WALSync)
	}
	if _, err := wal.ParseRecovery(c.Storage.WALRecovery); err != nil {
		return err
	}
	if _, err := c.logLevel(); err != nil {
		return err
	}
	if _, _, err := c.memoryLimit(func(string) string { return "" }); err != nil {
		return err
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		return fmt.Errorf("log format must be text or json, not %q", c.Log.Format)
	}
	switch {
	case c.Query.Timeout <= 0:
		return fmt.Errorf("query.timeout must be positive, not %s", time.Duration(c.Query.Timeout))
	case c.Query.MaxRows <= 0:
		return fmt.Errorf("query.max_rows must be positive, not %d", c.Query.MaxRows)
	case c.Query.MaxPoints <= 0:
		return fmt.Errorf("query.max_points must be positive, not %d", c.Query.MaxPoints)
	case c.Query.MaxBytes <= 0:
		return fmt.Errorf("query.max_bytes must be positive, not %d", c.Query.MaxBytes)
	}
	for _, l := range []struct {
		name string
		v    int
	}{{"max_concurrent_queries", c.Limits.MaxConcurrentQueries}, {"max_concurrent_writes", c.Limits.MaxConcurrentWrites},
		{"max_lines", c.Limits.MaxLines}, {"new_series_per_minute", c.Limits.NewSeriesPerMinute}} {
		if l.v < -1 {
			return fmt.Errorf("limits.%s must be positive, 0 (the default) or -1 (no limit), not %d", l.name, l.v)
		}
	}
	if err := c.Storage.validate(); err != nil {
		return err
	}
	if err := c.Cold.validate(); err != nil {
		return err
	}
	if err := checkNATSURLs(c.Cluster.NATS); err != nil {
		return err
	}
	if _, err := c.Auth.tokens(); err != nil {
		return err
	}
	if err := c.TLS.validate(); err != nil {
		return err
	}
	return c.HTTP.validate()
}

// minPartition is the shortest storage.partition: every partition a flush
// touches becomes a file, so a partition of nanoseconds writes a file per
// point.
const minPartition = time.Minute

// validate refuses storage settings a server cannot run with; zero means
// the engine's default for each.
func (s *StorageConfig) validate() error {
	switch p := time.Duration(s.Partition); {
	case p < 0, p > 0 && p < minPartition:
		return fmt.Errorf("storage.partition %s is shorter than %s (every partition a flush touches becomes a file)", p, minPartition)
	case s.FlushInterval < 0:
		return fmt.Errorf("storage.flush_interval must be positive, not %s", time.Duration(s.FlushInterval))
	case s.WriteStallTimeout < 0:
		return fmt.Errorf("storage.write_stall_timeout must not be negative, not %s", time.Duration(s.WriteStallTimeout))
	case s.MaxMemoryPoints < 0:
		return fmt.Errorf("storage.max_memory_points must not be negative, not %d", s.MaxMemoryPoints)
	case s.MaxMemoryBytes != "" && s.MaxMemoryBytes != "off":
		if n, err := parseSize(s.MaxMemoryBytes); err != nil || n <= 0 {
			return fmt.Errorf("storage.max_memory_bytes must be a positive size (\"1GiB\") or \"off\", not %q", s.MaxMemoryBytes)
		}
	case s.NumGroups < 0:
		return fmt.Errorf("storage.num_groups must not be negative, not %d", s.NumGroups)
	case s.CompactFiles < -1:
		return fmt.Errorf("storage.compact_files must be -1 (never) or more, not %d", s.CompactFiles)
	case s.WALSegmentBytes < 0:
		return fmt.Errorf("storage.wal_segment_bytes must not be negative, not %d", s.WALSegmentBytes)
	case s.WALSegmentAge < 0:
		return fmt.Errorf("storage.wal_segment_age must not be negative, not %s", time.Duration(s.WALSegmentAge))
	case s.BlockSize < 0 || s.BlockSize > colfile.MaxBlockSize:
		return fmt.Errorf("storage.block_size must be between 1 and %d, not %d", colfile.MaxBlockSize, s.BlockSize)
	case s.CompactBlockSize < 0 || s.CompactBlockSize > colfile.MaxBlockSize:
		return fmt.Errorf("storage.compact_block_size must be between 1 and %d, not %d", colfile.MaxBlockSize, s.CompactBlockSize)
	}
	if _, err := s.defaultSettings(); err != nil {
		return err
	}
	return nil
}

// defaultSettings returns the settings storage.defaults gives.
func (s *StorageConfig) defaultSettings() (storage.CollectionSettings, error) {
	d, err := s.Defaults.Apply(storage.CollectionSettings{})
	if err == nil {
		err = d.Validate()
	}
	if err != nil {
		return d, fmt.Errorf("storage.defaults: %w", err)
	}
	return d, nil
}

func (h *HTTPConfig) validate() error {
	body := h.MaxBodyBytes
	if body <= 0 {
		body = httpapi.DefaultMaxBodyBytes
	}
	if h.MaxInflightBodyBytes > 0 && h.MaxInflightBodyBytes < body {
		return fmt.Errorf("http.max_inflight_body_bytes %d is smaller than http.max_body_bytes %d: a body at the limit could never be read", h.MaxInflightBodyBytes, body)
	}
	for name, d := range map[string]Duration{"body_timeout": h.BodyTimeout, "read_header_timeout": h.ReadHeaderTimeout, "idle_timeout": h.IdleTimeout} {
		if d < 0 {
			return fmt.Errorf("http.%s must not be negative, not %s", name, time.Duration(d))
		}
	}
	if h.MaxHeaderBytes < 0 {
		return fmt.Errorf("http.max_header_bytes must not be negative, not %d", h.MaxHeaderBytes)
	}
	for _, o := range h.AllowedOrigins {
		if o == "*" {
			continue
		}
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
			return fmt.Errorf("http.allowed_origins: %q is not an origin like https://grafana.example.com", o)
		}
	}
	for _, hst := range h.AllowedHosts {
		if hst == "" || strings.ContainsAny(hst, "/ ") {
			return fmt.Errorf("http.allowed_hosts: %q is not a host name or host:port", hst)
		}
	}
	return nil
}

// httpOptions returns the handler options of the configuration for a
// server listening on listen.
func (c *Config) httpOptions(listen string, log *slog.Logger) httpapi.Options {
	tokens, _ := c.Auth.tokens()
	return httpapi.Options{
		MaxBodyBytes:         c.HTTP.MaxBodyBytes,
		MaxInflightBodyBytes: c.HTTP.MaxInflightBodyBytes,
		BodyTimeout:          time.Duration(c.HTTP.BodyTimeout),
		Listen:               listen,
		AllowedHosts:         c.HTTP.AllowedHosts,
		AllowedOrigins:       c.HTTP.AllowedOrigins,
		OpenAPI:              soltix.OpenAPI,
		Logger:               log,
		Version:              buildVersion(),
		QueryTimeout:         time.Duration(c.Query.Timeout),
		MaxRows:              c.Query.MaxRows,
		MaxPoints:            c.Query.MaxPoints,
		MaxBytes:             c.Query.MaxBytes,
		Now:                  c.now,
		Tokens:               tokens, // checked by validate
		MaxConcurrentQueries: c.Limits.MaxConcurrentQueries,
		MaxConcurrentWrites:  c.Limits.MaxConcurrentWrites,
		MaxLines:             c.Limits.MaxLines,
		NewSeriesPerMinute:   c.Limits.NewSeriesPerMinute,
	}
}

// ingestOptions returns the options of the NATS ingestion of serve or a
// router named name.
func (c *Config) ingestOptions(name string, log *slog.Logger) ingest.Options {
	return ingest.Options{Name: name, MaxBodyBytes: c.HTTP.MaxBodyBytes, Now: c.now, Logger: log}
}

// serverConfig returns the connection limits of the configuration.
func (c *Config) serverConfig(log *slog.Logger) httpapi.ServerConfig {
	return httpapi.ServerConfig{
		ReadHeaderTimeout: time.Duration(c.HTTP.ReadHeaderTimeout),
		IdleTimeout:       time.Duration(c.HTTP.IdleTimeout),
		MaxHeaderBytes:    c.HTTP.MaxHeaderBytes,
		MaxRequests:       c.HTTP.MaxConnections,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// maxMemoryBytes returns storage.Options.MaxMemoryBytes: 0 (the engine's
// default) when unset, -1 for "off". validate has checked the size.
func (s *StorageConfig) maxMemoryBytes() int64 {
	switch s.MaxMemoryBytes {
	case "":
		return 0
	case "off":
		return -1
	}
	n, _ := parseSize(s.MaxMemoryBytes)
	return n
}

func (c *Config) logLevel() (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.ToUpper(c.Log.Level))); err != nil {
		return 0, fmt.Errorf("log level must be debug, info, warn or error, not %q", c.Log.Level)
	}
	return l, nil
}

func (c *Config) storageOptions(log *slog.Logger) *storage.Options {
	o := &storage.Options{
		NumGroups:         c.Storage.NumGroups,
		PartitionDuration: time.Duration(c.Storage.Partition),
		ShardTag:          c.Storage.ShardTag,
		WALSegmentSize:    c.Storage.WALSegmentBytes,
		WALSegmentAge:     time.Duration(c.Storage.WALSegmentAge),
		FlushInterval:     time.Duration(c.Storage.FlushInterval),
		MaxMemoryPoints:   c.Storage.MaxMemoryPoints,
		MaxMemoryBytes:    c.Storage.maxMemoryBytes(),
		WriteStallTimeout: time.Duration(c.Storage.WriteStallTimeout),
		CompactFiles:      c.Storage.CompactFiles,
		BlockSize:         c.Storage.BlockSize,
		CompactBlockSize:  c.Storage.CompactBlockSize,
		Logger:            log,
		Now:               c.now,
	}
	o.DefaultSettings, _ = c.Storage.defaultSettings() // checked by validate
	if c.Storage.WALSync == "never" {
		o.Sync = wal.SyncNever
	}
	o.WALRecovery, _ = wal.ParseRecovery(c.Storage.WALRecovery) // checked by validate
	return o
}
