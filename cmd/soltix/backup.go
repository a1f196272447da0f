package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/soltixdb/soltix/backup"
)

const backupIntro = `Usage: soltix backup --to DIR|s3://BUCKET/PREFIX [--server URL] [--groups 3,7]

Take an online backup of a running 'soltix serve', or of a cluster through
one of its routers, into DIR or an S3 prefix (missing or empty): the
server snapshots its files without stopping writes, and every file is
copied and checked against its CRC-32C (an S3 upload is read back and
checked as well). Every write acknowledged before the backup began is in
it; in a cluster, every write of a group acknowledged before its primary's
snapshot began, one node after the other. The manifest (backup.json) is
written last: a backup without it is no backup. --groups (a cluster's
only) backs up those groups. S3 is reached as the cold tier is: the
--s3-* flags, else the standard AWS variables (AWS_ENDPOINT_URL_S3,
AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_PROFILE) and
files. A token for a server with authentication comes from SOLTIX_TOKEN.
See docs/backup.md.
`

const restoreIntro = `Usage: soltix restore --from DIR|s3://BUCKET/PREFIX --data-dir DIR
                      [--groups 3,7 | --server ROUTER --node ID] [--config FILE]

Restore a backup taken with 'soltix backup' into a data directory that is
missing or empty (a non-empty one is refused). Every file is checked
against the backup's manifest first; a missing, truncated or corrupted file
fails the restore, naming the file, before anything is written, and a
failed restore leaves the data directory empty. The server must not be
running on the data directory. --groups restores only those groups;
--server ROUTER --node ID the groups the cluster's map names storage node
ID the primary of, into that node's data directory (docs/backup.md: a
cluster is restored node by node with the nodes stopped). --config gives the storage
settings of the node that will serve it (partition, block size); the
number of groups and the shard tag come from the backup. S3 is reached as
for 'soltix backup'.
`

// s3Flags are the S3 settings of backup and restore.
type s3Flags struct {
	endpoint, region string
	pathStyle        bool
}

func (f *s3Flags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.endpoint, "s3-endpoint", "", "S3 endpoint `URL` of an s3:// location (default: AWS_ENDPOINT_URL_S3, else AWS)")
	fs.StringVar(&f.region, "s3-region", "", "S3 `region` (default: AWS_REGION or the profile's, else us-east-1)")
	fs.BoolVar(&f.pathStyle, "s3-path-style", false, "address the bucket in the path (most S3-compatible servers need it)")
}

func (f *s3Flags) options() backup.S3Options {
	return backup.S3Options{Endpoint: f.endpoint, Region: f.region, PathStyle: f.pathStyle}
}

// tokenTransport adds SOLTIX_TOKEN as a Bearer token to every request.
type tokenTransport struct {
	token string
	base  http.RoundTripper
}

func (t tokenTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+t.token)
	return t.base.RoundTrip(r)
}

// backupClient is the HTTP client of soltix backup: with SOLTIX_TOKEN
// when it is set.
func backupClient(getenv func(string) string) *http.Client {
	if tok := getenv("SOLTIX_TOKEN"); tok != "" {
		return &http.Client{Transport: tokenTransport{token: tok, base: http.DefaultTransport}}
	}
	return &http.Client{}
}

// backupCmd takes a backup of a server.
func backupCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("backup", flag.ContinueOnError)
	def := os.Getenv("SOLTIX_SERVER")
	if def == "" {
		def = "http://127.0.0.1:5050"
	}
	server := fs.String("server", def, "back up the server or router at `URL` (SOLTIX_SERVER)")
	to := fs.String("to", "", "write the backup into `DIR` or s3://BUCKET/PREFIX, missing or empty")
	groupList := fs.String("groups", "", "back up only these `groups` of a cluster (e.g. 3,7)")
	timeout := fs.Duration("timeout", 0, "give up after this long (0: no limit)")
	var s3 s3Flags
	s3.register(fs)
	if code, ok := parseFlags(fs, args, backupIntro, stdout, stderr); !ok {
		return code
	}
	var groups []int
	switch {
	case fs.NArg() > 0:
		badUsage(stderr, "backup", fmt.Sprintf("unexpected argument %q", fs.Arg(0)))
		return 2
	case *to == "":
		badUsage(stderr, "backup", "--to is required")
		return 2
	case *groupList != "":
		var err error
		if groups, err = backup.ParseGroups(*groupList, 0); err != nil {
			badUsage(stderr, "backup", "--groups: "+err.Error())
			return 2
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *timeout)
		defer cancel()
	}
	start := time.Now()
	client := backupClient(os.Getenv)
	nodes, cluster, err := clusterPlan(ctx, client, *server, groups)
	if err != nil {
		fmt.Fprintln(stderr, "soltix backup:", err)
		return 1
	}
	if nodes == nil {
		nodes = []backup.Node{{Base: *server}}
	}
	dst, err := backup.OpenTarget(ctx, *to, s3.options())
	if err != nil {
		fmt.Fprintln(stderr, "soltix backup:", err)
		return 1
	}
	defer dst.Close()
	man, err := backup.TakeTo(ctx, client, dst, cluster, nodes...)
	if err != nil {
		fmt.Fprintln(stderr, "soltix backup:", err)
		return 1
	}
	files, bytes := 0, int64(0)
	for _, g := range man.Groups {
		for _, f := range g.Files {
			files++
			bytes += f.Size
		}
	}
	what := *server
	if cluster != nil {
		what = fmt.Sprintf("the cluster behind %s (%d nodes)", *server, len(nodes))
	}
	fmt.Fprintf(stdout, "backup of %s at %s into %s: %d groups, %d files, %d bytes in %v\n",
		what, man.Started.Format(time.RFC3339Nano), dst, len(man.Groups), files, bytes, time.Since(start).Round(time.Millisecond))
	return 0
}

// restoreCmd restores a backup into an empty data directory.
func restoreCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("restore", flag.ContinueOnError)
	from := fs.String("from", "", "restore the backup in `DIR` or s3://BUCKET/PREFIX")
	dataDir := fs.String("data-dir", "", "into this data `DIR`, missing or empty")
	groupList := fs.String("groups", "", "restore only these `groups` (e.g. 3,7)")
	server := fs.String("server", "", "with --node: read the groups to restore from the cluster map of the router at `URL`")
	nodeID := fs.String("node", "", "restore the groups the cluster map names this storage node `ID` the primary of (needs --server)")
	configPath := fs.String("config", "", "read the storage settings from the YAML config `FILE`")
	var s3 s3Flags
	s3.register(fs)
	if code, ok := parseFlags(fs, args, restoreIntro, stdout, stderr); !ok {
		return code
	}
	var groups []int
	switch {
	case fs.NArg() > 0:
		badUsage(stderr, "restore", fmt.Sprintf("unexpected argument %q", fs.Arg(0)))
		return 2
	case *from == "" || *dataDir == "":
		badUsage(stderr, "restore", "--from and --data-dir are required")
		return 2
	case (*nodeID == "") != (*server == ""):
		badUsage(stderr, "restore", "--node and --server go together")
		return 2
	case *nodeID != "" && *groupList != "":
		badUsage(stderr, "restore", "give --groups or --node, not both")
		return 2
	case *groupList != "":
		var err error
		if groups, err = backup.ParseGroups(*groupList, 0); err != nil {
			badUsage(stderr, "restore", "--groups: "+err.Error())
			return 2
		}
	}
	cfg := defaultConfig()
	if *configPath != "" {
		if err := cfg.loadFile(*configPath); err != nil {
			badUsage(stderr, "restore", err.Error())
			return 2
		}
	}
	log := newLogger(&cfg, stderr)
	opts := cfg.storageOptions(log)
	if *configPath == "" {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	// A backup refers to its groups' cold files by their objects: the
	// restore needs the node's cold store, reachable now.
	if cfg.openCold(opts, log) != nil {
		fmt.Fprintln(stderr, "soltix restore: the cold store of the configuration is not reachable")
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *nodeID != "" {
		var err error
		if groups, err = primaryGroups(ctx, backupClient(os.Getenv), *server, *nodeID); err != nil {
			fmt.Fprintln(stderr, "soltix restore:", err)
			return 1
		}
	}
	src, err := backup.OpenTarget(ctx, *from, s3.options())
	if err != nil {
		fmt.Fprintln(stderr, "soltix restore:", err)
		return 1
	}
	defer src.Close()
	man, err := backup.RestoreFrom(ctx, src, *dataDir, opts, groups)
	if err != nil {
		fmt.Fprintln(stderr, "soltix restore:", err)
		return 1
	}
	fmt.Fprintf(stdout, "restored the backup of %s from %s into %s: %d groups, %d collections with settings\n",
		man.Started.Format(time.RFC3339Nano), src, *dataDir, len(man.Groups), len(man.Settings))
	return 0
}
