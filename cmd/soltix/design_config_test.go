package main

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/storage"
)

// TestDesignConfigKeys loads a config file holding one key of the
// original Soltix design at a time: a key that is honoured changes the
// effective configuration as docs/config-compat.md says; a key that is not
// is named at start-up with its reason; a wrong value or an unknown key of
// a design section is an error naming it.
func TestDesignConfigKeys(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, yaml string
		role       string // serve (default), storage or router
		args       []string
		check      func(c Config) bool // the effective config, for honoured keys
		refused    string              // the key named as not honoured at start-up
		err        string              // a load error naming this
	}{
		{name: "server.port", yaml: "server: {port: 6060}", check: func(c Config) bool { return c.Listen == "127.0.0.1:6060" }},
		{name: "server.http_port", yaml: "server: {http_port: 6061}", check: func(c Config) bool { return c.Listen == "127.0.0.1:6061" }},
		{name: "server.host and port", yaml: "server: {host: 0.0.0.0, port: 6062}\ninsecure: true", check: func(c Config) bool { return c.Listen == "0.0.0.0:6062" }},
		{name: "--listen wins over server.port", yaml: "server: {port: 6063}", args: []string{"--listen", "127.0.0.1:7070"}, check: func(c Config) bool { return c.Listen == "127.0.0.1:7070" }},
		{name: "server.port not a port", yaml: "server: {port: 99999}", err: "server.port"},
		{name: "server.grpc_port", yaml: "server: {grpc_port: 5556}", refused: "server.grpc_port"},
		{name: "storage.data_dir", yaml: "storage: {data_dir: /var/lib/x, partition: 1h}", check: func(c Config) bool {
			return c.DataDir == "/var/lib/x" && c.Storage.Partition == Duration(time.Hour)
		}},
		{name: "storage.retention_days", yaml: "storage: {retention_days: 30}", check: func(c Config) bool {
			return c.storageOptions(nil).DefaultSettings.Retention[model.LevelRaw] == 30*24*time.Hour && len(c.Collections) == 0
		}},
		{name: "storage.retention_days 0", yaml: "storage: {retention_days: 0}", check: func(c Config) bool {
			return len(c.Collections) == 0 && c.storageOptions(nil).DefaultSettings == storage.CollectionSettings{}
		}},
		{name: "storage.retention_days for storage", role: "storage", yaml: "storage: {retention_days: 30, data_dir: /tmp/x}\nlisten: 127.0.0.1:0\nnode: {id: n1}\ncluster: {etcd: [http://127.0.0.1:2379]}",
			refused: "storage.retention_days"},
		{name: "storage.retention_days for router", role: "router", yaml: "storage: {retention_days: 30}\nlisten: 127.0.0.1:0\ncluster: {etcd: [http://127.0.0.1:2379]}",
			refused: "storage.retention_days"},
		{name: "both retention_days and storage.defaults", yaml: "storage: {retention_days: 3, defaults: {rollups: false}}", err: "storage.retention_days and storage.defaults"},
		{name: "storage.defaults bad level", yaml: "storage: {defaults: {retention: {5m: 3d}}}", err: "storage.defaults"},
		{name: "storage.defaults for storage", role: "storage", yaml: "storage: {defaults: {rollups: false}}\ndata_dir: /tmp/x\nlisten: 127.0.0.1:0\nnode: {id: n1}\ncluster: {etcd: [http://127.0.0.1:2379]}",
			err: "storage.defaults is for serve"},
		{name: "wal.enabled true", yaml: "wal: {enabled: true}", check: func(c Config) bool { return c.Storage.WALSync == "always" }},
		{name: "wal.enabled false", yaml: "wal: {enabled: false}", refused: "wal.enabled"},
		{name: "wal.rotation_size", yaml: "wal: {rotation_size: 16MiB}", check: func(c Config) bool { return c.Storage.WALSegmentBytes == 16<<20 }},
		{name: "wal.rotation_size bytes", yaml: "wal: {rotation_size: 1048576}", check: func(c Config) bool {
			return c.storageOptions(nil).WALSegmentSize == 1<<20
		}},
		{name: "wal.rotation_size bad", yaml: "wal: {rotation_size: big}", err: "wal.rotation_size"},
		{name: "wal.rotation_time", yaml: "wal: {rotation_time: 5m}", check: func(c Config) bool {
			return c.Storage.WALSegmentAge == Duration(5*time.Minute) && c.storageOptions(nil).WALSegmentAge == 5*time.Minute
		}},
		{name: "wal.rotation_time bad", yaml: "wal: {rotation_time: soon}", err: "wal.rotation_time"},
		{name: "aggregation.enabled true", yaml: "aggregation: {enabled: true}", check: func(c Config) bool { return len(c.design) == 1 && c.design[0].Refused == "" }},
		{name: "aggregation.enabled false", yaml: "aggregation: {enabled: false}", check: func(c Config) bool { return c.storageOptions(nil).DefaultSettings.NoRollups }},
		{name: "aggregation.enabled false for router", role: "router", yaml: "aggregation: {enabled: false}\nlisten: 127.0.0.1:0\ncluster: {etcd: [http://127.0.0.1:2379]}",
			refused: "aggregation.enabled"},
		{name: "aggregation.levels ours", yaml: "aggregation: {levels: [hourly, daily, monthly, yearly]}", check: func(c Config) bool { return c.design[0].Refused == "" }},
		{name: "aggregation.levels finer", yaml: "aggregation: {levels: [1m, 1h]}", refused: "aggregation.levels"},
		{name: "aggregation.levels fewer", yaml: "aggregation: {levels: [1h, 1d]}", refused: "aggregation.levels"},
		{name: "metadata.etcd_urls for serve", yaml: "metadata: {etcd_urls: [http://127.0.0.1:2379]}", refused: "metadata.etcd_urls"},
		{name: "metadata.etcd_urls for router", role: "router", yaml: "metadata: {etcd_urls: [http://127.0.0.1:2379]}\nlisten: 127.0.0.1:0",
			check: func(c Config) bool { return slices.Equal(c.Cluster.Etcd, []string{"http://127.0.0.1:2379"}) }},
		{name: "metadata.etcd_urls string", role: "router", yaml: "metadata: {etcd_urls: \"http://a:2379,http://b:2379\"}\nlisten: 127.0.0.1:0",
			check: func(c Config) bool { return slices.Equal(c.Cluster.Etcd, []string{"http://a:2379", "http://b:2379"}) }},
		{name: "message_bus.nats_url", yaml: "message_bus: {nats_url: nats://127.0.0.1:4222}", check: func(c Config) bool {
			return slices.Equal(c.Cluster.NATS, []string{"nats://127.0.0.1:4222"})
		}},
		{name: "message_bus.nats_url bad", yaml: "message_bus: {nats_url: http://x}", err: "cluster.nats"},
		{name: "compression.method snappy", yaml: "compression: {method: snappy}", check: func(c Config) bool { return c.design[0].Refused == "" }},
		{name: "compression.method other", yaml: "compression: {method: zstd}", refused: "compression.method"},
		{name: "unknown design key", yaml: "wal: {fsync: true}", err: "wal.fsync"},
		{name: "design section not a mapping", yaml: "wal: on", err: "wal"},
		{name: "both listen and server.port", yaml: "server: {port: 6060}\nlisten: 127.0.0.1:6061", err: "server.port and listen"},
		{name: "both data_dir keys", yaml: "storage: {data_dir: /a}\ndata_dir: /b", err: "storage.data_dir and data_dir"},
		{name: "both wal sizes", yaml: "wal: {rotation_size: 1MiB}\nstorage: {wal_segment_bytes: 1024}", err: "wal.rotation_size and storage.wal_segment_bytes"},
		{name: "both nats", yaml: "message_bus: {nats_url: nats://a:4222}\ncluster: {nats: [nats://b:4222]}", err: "message_bus.nats_url and cluster.nats"},
		{name: "our unknown keys still refused", yaml: "storage: {data_dir: /a, colour: blue}", err: "colour"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, "c"+string(rune('a'+i%26))+strings.Repeat("x", i/26)+".yaml")
			if err := os.WriteFile(path, []byte(tc.yaml+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			args := append([]string{"--config", path}, tc.args...)
			var cfg Config
			var err error
			role := tc.role
			if role == "" {
				role = "serve"
				cfg, err = loadConfig("serve", args, func(string) string { return "" })
			} else {
				cfg, err = loadRoleConfig(role, args, func(string) string { return "" })
			}
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("load %q: error %v, want one naming %q", tc.yaml, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("load %q: %v", tc.yaml, err)
			}
			var logs bytes.Buffer
			cfg.logDesignNotes(role, newLogger(&cfg, &logs))
			warned := strings.Contains(logs.String(), "not honoured")
			if tc.refused != "" {
				if !warned || !strings.Contains(logs.String(), "key="+tc.refused+" ") || !strings.Contains(logs.String(), "why=") {
					t.Errorf("start-up log of %q does not name %s as not honoured with a reason:\n%s", tc.yaml, tc.refused, logs.String())
				}
				return
			}
			if warned {
				t.Errorf("start-up log of %q refuses a key that is honoured:\n%s", tc.yaml, logs.String())
			}
			if !strings.Contains(logs.String(), "mapped") {
				t.Errorf("start-up log of %q does not say what the key was mapped to:\n%s", tc.yaml, logs.String())
			}
			if !tc.check(cfg) {
				t.Errorf("load %q: effective config %+v", tc.yaml, cfg)
			}
		})
	}
}

// TestDesignConfigEmptyFile: an empty config file changes nothing.
func TestDesignConfigEmptyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "empty.yaml")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := loadConfig("serve", []string{"--config", path}, func(string) string { return "" })
	if err != nil || cfg.Listen != defaultConfig().Listen || len(cfg.design) != 0 {
		t.Fatalf("empty config: %+v, %v", cfg, err)
	}
}

// TestStorageDefaults: our own storage.defaults sets the engine's default
// collection settings.
func TestStorageDefaults(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(path, []byte("storage: {defaults: {rollups: false, retention: {raw: 3d, 1h: 30d}}}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := loadConfig("serve", []string{"--config", path}, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	d := cfg.storageOptions(nil).DefaultSettings
	if !d.NoRollups || d.Retention[model.LevelRaw] != 72*time.Hour || d.Retention[model.Level1h] != 720*time.Hour {
		t.Fatalf("default settings %+v", d)
	}
}
