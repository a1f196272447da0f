// Command soltix is the Soltix time-series database. One binary plays every
// role:
//
//	soltix serve   [--config FILE] [--listen ADDR] [--data-dir DIR] [--nats URLS]   a complete single-node database
//	soltix storage --node-id ID --listen ADDR --data-dir DIR --etcd URLS [--nats URLS]   a cluster's storage node
//	soltix router  --listen ADDR --etcd URLS [--nats URLS]                a cluster's router
//	soltix query   [--server URL] [--format table|json|csv] 'SELECT ...'
//	soltix bench   [--dataset cpu|iot] [--server URL] ...
//	soltix backup  --to DIR [--server URL]
//	soltix restore --from DIR --data-dir DIR [--config FILE]
//	soltix version
//
// Every command's --help (or -h) prints its usage to stdout and exits 0; a
// bad flag exits 2.
//
// A cluster is etcd, storage nodes and routers: storage_role.go and
// router_role.go wire packages coord (etcd), remote (the HTTP/2 between
// them), storage and httpapi. See README.md and docs/cluster.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime/debug"
	"sort"
	"syscall"
	"time"

	"github.com/soltixdb/soltix/backup"
	"github.com/soltixdb/soltix/httpapi"
	"github.com/soltixdb/soltix/replication/ingest"
	"github.com/soltixdb/soltix/storage"
)

const usage = `Soltix, a time-series database.

Usage:
  soltix serve [--config FILE] [--listen ADDR] [--data-dir DIR]
               [--wal-sync always|never] [--wal-recovery strict|truncate]
               [--nats URL[,URL]]
        Run a complete single-node database (default 127.0.0.1:5050, data
        in ./data); with --nats, also take writes published over NATS and
        MQTT.
  soltix storage --node-id ID --listen ADDR [--advertise URL]
                 --data-dir DIR --etcd URL[,URL] [--nats URL[,URL]]
                 [--config FILE]
        Run a storage node of a cluster: it holds the groups etcd's map
        gives it and serves them to routers.
  soltix router --listen ADDR --etcd URL[,URL] [--nats URL[,URL]]
                [--config FILE]
        Run a router of a cluster: the whole external API of serve, over
        the cluster's storage nodes; with --nats, also take writes
        published over NATS and MQTT.
  soltix query [--server URL] [--format table|json|csv] [--epoch ns|us|ms|s]
               'SELECT ...'
        Run a query against a server and print the result.
  soltix bench [--dataset cpu|iot] [--file F] [--clients N] [--batch N]
               [--gzip] [--server URL] [--json]
        Load generated TSBS-like data over HTTP and time it and the TSBS
        devops queries.
  soltix backup --to DIR [--server URL]
        Take an online backup of a running serve into an empty directory.
  soltix restore --from DIR --data-dir DIR [--config FILE]
        Restore a backup into an empty data directory.
  soltix token new | hash
        Make a random token and its SHA-256 digest for auth.tokens, or
        print the digest of the token read on stdin.
  soltix version
        Print the version, VCS revision and Go version of this build.

'soltix COMMAND --help' describes every flag of a command.

Environment: SOLTIX_CONFIG, SOLTIX_LISTEN, SOLTIX_DATA_DIR, SOLTIX_WAL_SYNC,
SOLTIX_WAL_RECOVERY, SOLTIX_SHARD_TAG, SOLTIX_MAX_BODY_BYTES,
SOLTIX_MAX_INFLIGHT_BODY_BYTES, SOLTIX_ALLOWED_ORIGINS, SOLTIX_ALLOWED_HOSTS,
SOLTIX_FLUSH_INTERVAL, SOLTIX_MEMORY_LIMIT, SOLTIX_LOG_LEVEL, SOLTIX_LOG_FORMAT,
SOLTIX_TLS_CERT_FILE, SOLTIX_TLS_KEY_FILE, SOLTIX_INSECURE, SOLTIX_NATS,
SOLTIX_SERVER for query, and for the cluster roles SOLTIX_ETCD,
SOLTIX_CLUSTER_NAME, SOLTIX_CLUSTER_NUM_GROUPS,
SOLTIX_CLUSTER_REPLICATION_FACTOR, SOLTIX_CLUSTER_TLS_CERT_FILE,
SOLTIX_CLUSTER_TLS_KEY_FILE, SOLTIX_CLUSTER_TLS_CA_FILE, SOLTIX_NODE_ID and
SOLTIX_ADVERTISE. Flags override the config file, which overrides the
environment.
`

const serveIntro = `Usage: soltix serve [flags]

Run a complete single-node database until SIGINT or SIGTERM, then stop
gracefully: finish the requests in flight, flush memory to files, exit 0.
Configuration comes from defaults, SOLTIX_* environment variables, the YAML
file of --config, then these flags (docs/operations.md lists every key).
`

const versionIntro = `Usage: soltix version

Print the version of this build, the VCS revision, its time and whether the
tree had uncommitted changes (from the build information go build records),
and the Go version. 'soltix --version' and 'soltix -v' do the same.
`

// version is set at build time with -ldflags "-X main.version=...";
// otherwise the version comes from the build information.
var version = "dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "serve":
		return serve(args[1:], stdout, stderr)
	case "query":
		return queryCmd(args[1:], stdout, stderr)
	case "version", "--version", "-version", "-v":
		return versionCmd(args[1:], stdout, stderr)
	case "help", "-h", "-help", "--help":
		if len(args) == 2 && args[0] == "help" {
			switch args[1] {
			case "serve", "storage", "router", "query", "bench", "backup", "restore", "token", "version":
				return run([]string{args[1], "--help"}, stdout, stderr)
			}
		}
		fmt.Fprint(stdout, usage)
		return 0
	case "bench":
		return benchCmd(args[1:], stdout, stderr)
	case "storage":
		return storageCmd(args[1:], stdout, stderr)
	case "router":
		return routerCmd(args[1:], stdout, stderr)
	case "backup":
		return backupCmd(args[1:], stdout, stderr)
	case "restore":
		return restoreCmd(args[1:], stdout, stderr)
	case "token":
		return tokenCmd(args[1:], os.Stdin, stdout, stderr)
	}
	fmt.Fprintf(stderr, "soltix: unknown command %q\n\n%s", args[0], usage)
	return 2
}

// versionCmd prints versionText of this binary.
func versionCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("version", flag.ContinueOnError)
	if code, ok := parseFlags(fs, args, versionIntro, stdout, stderr); !ok {
		return code
	}
	if fs.NArg() > 0 {
		badUsage(stderr, "version", fmt.Sprintf("unexpected argument %q", fs.Arg(0)))
		return 2
	}
	bi, ok := debug.ReadBuildInfo()
	fmt.Fprint(stdout, versionText(version, bi, ok))
	return 0
}

func newLogger(cfg *Config, w io.Writer) *slog.Logger {
	level, _ := cfg.logLevel()
	o := &slog.HandlerOptions{Level: level}
	if cfg.Log.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, o))
	}
	return slog.New(slog.NewTextHandler(w, o))
}

// serve runs the single-node database until SIGINT or SIGTERM, then shuts
// down gracefully: stop accepting requests, let those in flight finish,
// flush memory to files, sync, exit 0.
func serve(args []string, stdout, stderr io.Writer) int {
	cfg, err := loadConfig("serve", args, os.Getenv)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs, _ := serveFlags("serve", defaultConfig(), os.Getenv)
			writeUsage(stdout, fs, serveIntro)
			return 0
		}
		badUsage(stderr, "serve", err.Error())
		return 2
	}
	log := newLogger(&cfg, stderr)
	slog.SetDefault(log)
	cfg.logDesignNotes("serve", log)
	if err := checkExposure(&cfg, true, log); err != nil {
		log.Error("refusing to start", "err", err)
		return 1
	}
	tlsConfig, err := cfg.serverTLS(log)
	if err != nil {
		log.Error("cannot load the tls certificate", "err", err)
		return 1
	}
	applyMemoryLimit(&cfg, os.Getenv, log)

	so := cfg.storageOptions(log)
	retryCold := cfg.openCold(so, log)
	db, err := storage.Open(cfg.DataDir, so)
	if err != nil {
		log.Error("cannot open storage", "data_dir", cfg.DataDir, "err", err)
		return 1
	}
	coldCtx, stopCold := context.WithCancel(context.Background())
	defer stopCold()
	if retryCold != nil {
		go retryCold(coldCtx, db)
	}
	if err := applyCollections(db, cfg.Collections); err != nil {
		log.Error("cannot apply collection settings", "err", err)
		db.Close()
		return 1
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		log.Error("cannot listen", "addr", cfg.Listen, "err", err)
		db.Close()
		return 1
	}
	opts := cfg.httpOptions(ln.Addr().String(), log)
	ing, err := startIngest(&cfg, "soltix serve", db, log)
	if err != nil {
		log.Error("cannot start the NATS ingestion", "err", err)
		ln.Close()
		db.Close()
		return 1
	}
	if ing != nil {
		opts.Metrics = append(opts.Metrics, ing.WriteMetrics)
	}
	backups := backup.NewSessions(db, backup.Options{Logger: log})
	opts.Backup = backups
	handler := httpapi.New(db, opts)
	ln = httpapi.LimitConnections(ln, cfg.HTTP.MaxConnections)
	// HTTP/1.1 and h2c on one port, with the connection limits; or
	// HTTP/1.1 and h2 over TLS.
	srv := httpapi.NewServer(handler, cfg.serverConfig(log))
	if tlsConfig != nil {
		httpapi.UseTLS(srv, tlsConfig)
	}

	// Signals are caught before the first request can be served: a SIGINT
	// that follows an answer always shuts down gracefully.
	sigc := make(chan os.Signal, 1)
	signal.Notify(sigc, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigc)
	fmt.Fprintf(stdout, "soltix %s serving on %s://%s (data in %s)\n", buildVersion(), cfg.scheme(), ln.Addr(), cfg.DataDir)
	errc := make(chan error, 1)
	go func() { errc <- httpapi.Serve(srv, ln) }()
	code := 0
	select {
	case sig := <-sigc:
		log.Info("shutting down", "signal", sig.String())
	case err := <-errc:
		log.Error("http server stopped", "err", err)
		code = 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		log.Error("http shutdown", "err", err)
		code = 1
	}
	if err := stopIngest(ctx, ing); err != nil {
		log.Error("NATS ingestion stop", "err", err)
		code = 1
	}
	stopCold()
	if err := backups.Close(); err != nil {
		log.Error("release backup snapshots", "err", err)
		code = 1
	}
	if err := db.Close(); err != nil {
		log.Error("storage close", "err", err)
		code = 1
	}
	log.Info("stopped")
	return code
}

// startIngest starts the NATS ingestion into store when cluster.nats is
// set (nil otherwise). The NATS servers need not be up: the subscriber
// connects when they are.
func startIngest(cfg *Config, name string, store httpapi.Store, log *slog.Logger) (*ingest.Subscriber, error) {
	if len(cfg.Cluster.NATS) == 0 {
		return nil, nil
	}
	ing, err := ingest.Start(cfg.Cluster.NATS, store, cfg.ingestOptions(name, log))
	if err != nil {
		return nil, err
	}
	log.Info("taking writes from NATS", "nats", cfg.Cluster.NATS, "subject", ingest.SubjectPrefix+"*", "queue", ingest.QueueGroup)
	return ing, nil
}

// stopIngest stops the ingestion (nil: none) before the store closes:
// the messages it holds are written or dead-lettered.
func stopIngest(ctx context.Context, ing *ingest.Subscriber) error {
	if ing == nil {
		return nil
	}
	return ing.Close(ctx)
}

// settingsStore is where collection settings are kept: the storage of
// serve, etcd (routerSettings) for a router.
type settingsStore interface {
	CollectionSettings(collection string) storage.CollectionSettings
	SetSettings(ctx context.Context, collection string, s storage.CollectionSettings) error
}

// applyCollections applies the config file's collection settings.
func applyCollections(db settingsStore, specs map[string]storage.SettingsSpec) error {
	names := make([]string, 0, len(specs))
	for name := range specs {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		s, err := specs[name].Apply(db.CollectionSettings(name))
		if err != nil {
			return fmt.Errorf("collections.%s: %w", name, err)
		}
		if s == db.CollectionSettings(name) {
			continue
		}
		if err := db.SetSettings(context.Background(), name, s); err != nil {
			return fmt.Errorf("collections.%s: %w", name, err)
		}
	}
	return nil
}
