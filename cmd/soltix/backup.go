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
	"strings"
	"syscall"
	"time"

	"github.com/soltixdb/soltix/backup"
)

const backupIntro = `Usage: soltix backup --to DIR [--server URL]

Take an online backup of a running 'soltix serve' into DIR (missing or
empty): the server snapshots its files without stopping writes, and every
file is copied and checked against its CRC-32C. Every write acknowledged
before the backup began is in it. The manifest (DIR/backup.json) is
written last: a directory without it is no backup. See docs/operations.md
"Backup and restore".
`

const restoreIntro = `Usage: soltix restore --from DIR --data-dir DIR [--config FILE]

Restore a backup taken with 'soltix backup' into a data directory that is
missing or empty (a non-empty one is refused). Every file is checked
against the backup's manifest first; a missing, truncated or corrupted file
fails the restore, naming the file, and leaves the data directory empty.
The server must not be running on the data directory. --config gives the
storage settings of the node that will serve it (partition, block size);
the number of groups and the shard tag come from the backup.
`

// backupCmd takes a backup of a server.
func backupCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("backup", flag.ContinueOnError)
	def := os.Getenv("SOLTIX_SERVER")
	if def == "" {
		def = "http://127.0.0.1:5050"
	}
	server := fs.String("server", def, "back up the server at `URL` (SOLTIX_SERVER)")
	to := fs.String("to", "", "write the backup into `DIR`, missing or empty")
	timeout := fs.Duration("timeout", 0, "give up after this long (0: no limit)")
	if code, ok := parseFlags(fs, args, backupIntro, stdout, stderr); !ok {
		return code
	}
	switch {
	case fs.NArg() > 0:
		badUsage(stderr, "backup", fmt.Sprintf("unexpected argument %q", fs.Arg(0)))
		return 2
	case *to == "":
		badUsage(stderr, "backup", "--to is required")
		return 2
	case strings.HasPrefix(*to, "s3://"):
		badUsage(stderr, "backup", "s3:// targets are not supported yet: back up to a directory and copy it")
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *timeout)
		defer cancel()
	}
	start := time.Now()
	man, err := backup.Take(ctx, &http.Client{}, *server, *to)
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
	fmt.Fprintf(stdout, "backup of %s at %s into %s: %d groups, %d files, %d bytes in %v\n",
		*server, man.Started.Format(time.RFC3339Nano), *to, len(man.Groups), files, bytes, time.Since(start).Round(time.Millisecond))
	return 0
}

// restoreCmd restores a backup into an empty data directory.
func restoreCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("restore", flag.ContinueOnError)
	from := fs.String("from", "", "restore the backup in `DIR`")
	dataDir := fs.String("data-dir", "", "into this data `DIR`, missing or empty")
	configPath := fs.String("config", "", "read the storage settings from the YAML config `FILE`")
	if code, ok := parseFlags(fs, args, restoreIntro, stdout, stderr); !ok {
		return code
	}
	switch {
	case fs.NArg() > 0:
		badUsage(stderr, "restore", fmt.Sprintf("unexpected argument %q", fs.Arg(0)))
		return 2
	case *from == "" || *dataDir == "":
		badUsage(stderr, "restore", "--from and --data-dir are required")
		return 2
	case strings.HasPrefix(*from, "s3://"):
		badUsage(stderr, "restore", "s3:// sources are not supported yet: copy the backup to a directory first")
		return 2
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
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	man, err := backup.Restore(ctx, *from, *dataDir, opts)
	if err != nil {
		fmt.Fprintln(stderr, "soltix restore:", err)
		return 1
	}
	fmt.Fprintf(stdout, "restored the backup of %s from %s into %s: %d groups, %d collections with settings\n",
		man.Started.Format(time.RFC3339Nano), *from, *dataDir, len(man.Groups), len(man.Settings))
	return 0
}
