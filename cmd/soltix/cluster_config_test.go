package main

import (
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/soltixdb/soltix/coord"
	"github.com/soltixdb/soltix/storage"
)

// TestRoleConfig checks the cluster roles' keys from flags, the YAML file
// and SOLTIX_* variables, their defaults and precedence, and that bad or
// missing values are refused with an error naming them.
func TestRoleConfig(t *testing.T) {
	dir := t.TempDir()
	file := func(body string) string {
		f := filepath.Join(dir, strings.NewReplacer("/", "_", " ", "_", ":", "_").Replace(body[:min(len(body), 40)])+".yaml")
		if err := os.WriteFile(f, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return f
	}
	full := file(`listen: 127.0.0.1:7001
data_dir: /d/file
cluster:
  etcd: [http://10.0.0.1:2379, "https://10.0.0.2:2379"]
  name: prod
  num_groups: 64
  replication_factor: 2
node:
  id: s-file
  advertise: http://s1.internal:7001
`)
	storageArgs := []string{"--node-id", "s1", "--listen", "127.0.0.1:0", "--data-dir", "/d", "--etcd", "http://127.0.0.1:2379"}
	type want struct {
		etcd              []string
		name              string
		groups, rf        int
		id, advertise     string
		listen, dataDir   string
		walSync, recovery string
	}
	tests := []struct {
		role string
		name string
		args []string
		env  map[string]string
		want want
		err  string
	}{
		{role: "storage", name: "flags and defaults", args: storageArgs,
			want: want{etcd: []string{"http://127.0.0.1:2379"}, name: "soltix", groups: 16, rf: 1, id: "s1", listen: "127.0.0.1:0", dataDir: "/d", walSync: "always", recovery: "strict"}},
		{role: "storage", name: "file", args: []string{"--config", full},
			want: want{etcd: []string{"http://10.0.0.1:2379", "https://10.0.0.2:2379"}, name: "prod", groups: 64, rf: 2, id: "s-file",
				advertise: "http://s1.internal:7001", listen: "127.0.0.1:7001", dataDir: "/d/file", walSync: "always", recovery: "strict"}},
		{role: "storage", name: "env", env: map[string]string{"SOLTIX_ETCD": "http://a:1, http://b:2", "SOLTIX_CLUSTER_NAME": "c2",
			"SOLTIX_CLUSTER_NUM_GROUPS": "8", "SOLTIX_CLUSTER_REPLICATION_FACTOR": "3", "SOLTIX_NODE_ID": "n.env", "SOLTIX_ADVERTISE": "http://n:1",
			"SOLTIX_LISTEN": ":7002", "SOLTIX_DATA_DIR": "/env", "SOLTIX_WAL_SYNC": "never"},
			want: want{etcd: []string{"http://a:1", "http://b:2"}, name: "c2", groups: 8, rf: 3, id: "n.env", advertise: "http://n:1",
				listen: ":7002", dataDir: "/env", walSync: "never", recovery: "strict"}},
		{role: "storage", name: "flags over file over env", args: []string{"--config", full, "--node-id", "s-flag", "--etcd", "http://f:1", "--advertise", "http://adv:9"},
			env: map[string]string{"SOLTIX_NODE_ID": "n.env", "SOLTIX_CLUSTER_NAME": "c2"},
			want: want{etcd: []string{"http://f:1"}, name: "prod", groups: 64, rf: 2, id: "s-flag", advertise: "http://adv:9",
				listen: "127.0.0.1:7001", dataDir: "/d/file", walSync: "always", recovery: "strict"}},
		{role: "router", name: "router", args: []string{"--listen", "127.0.0.1:0", "--etcd", "http://127.0.0.1:2379,http://127.0.0.1:2380"},
			want: want{etcd: []string{"http://127.0.0.1:2379", "http://127.0.0.1:2380"}, name: "soltix", groups: 16, rf: 1, listen: "127.0.0.1:0", walSync: "always", recovery: "strict"}},
		{role: "router", name: "router without node id", args: []string{"--listen", ":1", "--etcd", "http://e:1"},
			want: want{etcd: []string{"http://e:1"}, name: "soltix", groups: 16, rf: 1, listen: ":1", walSync: "always", recovery: "strict"}},

		{role: "storage", name: "missing etcd", args: []string{"--node-id", "s1", "--listen", ":1", "--data-dir", "/d"}, err: "missing --etcd"},
		{role: "router", name: "router missing etcd", args: []string{"--listen", ":1"}, err: "missing --etcd"},
		{role: "storage", name: "missing node id", args: []string{"--listen", ":1", "--data-dir", "/d", "--etcd", "http://e:1"}, err: "missing --node-id"},
		{role: "storage", name: "missing listen", args: []string{"--node-id", "s1", "--data-dir", "/d", "--etcd", "http://e:1"}, err: "missing --listen"},
		{role: "router", name: "router missing listen", args: []string{"--etcd", "http://e:1"}, err: "missing --listen"},
		{role: "storage", name: "missing data dir", args: []string{"--node-id", "s1", "--listen", ":1", "--etcd", "http://e:1"}, err: "missing --data-dir"},
		{role: "storage", name: "etcd without scheme", args: append(slices.Clone(storageArgs), "--etcd", "127.0.0.1:2379"), err: `cluster.etcd: "127.0.0.1:2379" is not a URL`},
		{role: "storage", name: "etcd with path", args: append(slices.Clone(storageArgs), "--etcd", "http://e:1/v3"), err: "cluster.etcd"},
		{role: "storage", name: "bad advertise", args: append(slices.Clone(storageArgs), "--advertise", "s1:7001"), err: "node.advertise"},
		{role: "storage", name: "bad node id", args: append(slices.Clone(storageArgs), "--node-id", "a/b"), err: `node id "a/b"`},
		{role: "storage", name: "bad listen", args: append(slices.Clone(storageArgs), "--listen", "7001"), err: `listen "7001"`},
		{role: "storage", name: "bad cluster name", args: storageArgs, env: map[string]string{"SOLTIX_CLUSTER_NAME": "a b"}, err: "cluster.name"},
		{role: "storage", name: "bad num groups env", args: storageArgs, env: map[string]string{"SOLTIX_CLUSTER_NUM_GROUPS": "many"}, err: "SOLTIX_CLUSTER_NUM_GROUPS"},
		{role: "storage", name: "too many groups", args: append([]string{"--config", file("cluster: {num_groups: 100000}\n")}, storageArgs...), err: "cluster.num_groups"},
		{role: "storage", name: "lease ttl too short", args: storageArgs, env: map[string]string{"SOLTIX_CLUSTER_LEASE_TTL": "1s"}, err: "cluster.lease_ttl"},
		{role: "storage", name: "lease ttl not whole seconds", args: append([]string{"--config", file("cluster: {lease_ttl: 2500ms}\n")}, storageArgs...), err: "cluster.lease_ttl"},
		{role: "storage", name: "bad lease ttl env", args: storageArgs, env: map[string]string{"SOLTIX_CLUSTER_LEASE_TTL": "soon"}, err: "SOLTIX_CLUSTER_LEASE_TTL"},
		{role: "storage", name: "negative replication", args: append([]string{"--config", file("cluster: {replication_factor: -1}\n")}, storageArgs...), err: "cluster.replication_factor"},
		{role: "storage", name: "storage.num_groups", args: append([]string{"--config", file("storage: {num_groups: 4}\n")}, storageArgs...), err: "cluster.num_groups"},
		{role: "storage", name: "unknown cluster key", args: append([]string{"--config", file("cluster: {etc: [x]}\n")}, storageArgs...), err: "etc"},
		{role: "storage", name: "bad test clock", args: storageArgs, env: map[string]string{"SOLTIX_TEST_NOW": "yesterday"}, err: "SOLTIX_TEST_NOW"},
		{role: "router", name: "router has no data dir flag", args: []string{"--listen", ":1", "--etcd", "http://e:1", "--data-dir", "/d"}, err: "data-dir"},
		{role: "storage", name: "stray argument", args: append(slices.Clone(storageArgs), "extra"), err: "unexpected argument"},
	}
	for _, tc := range tests {
		t.Run(tc.role+"/"+tc.name, func(t *testing.T) {
			cfg, err := loadRoleConfig(tc.role, tc.args, func(k string) string { return tc.env[k] })
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("loadRoleConfig(%s, %v, %v) error = %v, want one containing %q", tc.role, tc.args, tc.env, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("loadRoleConfig(%s, %v, %v): %v", tc.role, tc.args, tc.env, err)
			}
			got := want{etcd: cfg.Cluster.Etcd, name: cfg.Cluster.Name, groups: cfg.Cluster.NumGroups, rf: cfg.Cluster.ReplicationFactor,
				id: cfg.Node.ID, advertise: cfg.Node.Advertise, listen: cfg.Listen, dataDir: cfg.DataDir, walSync: cfg.Storage.WALSync, recovery: cfg.Storage.WALRecovery}
			if !slices.Equal(got.etcd, tc.want.etcd) || got.name != tc.want.name || got.groups != tc.want.groups || got.rf != tc.want.rf ||
				got.id != tc.want.id || got.advertise != tc.want.advertise || got.listen != tc.want.listen || got.dataDir != tc.want.dataDir ||
				got.walSync != tc.want.walSync || got.recovery != tc.want.recovery {
				t.Errorf("loadRoleConfig(%s, %v, %v)\n got %+v\nwant %+v", tc.role, tc.args, tc.env, got, tc.want)
			}
		})
	}
}

func TestAdvertiseURL(t *testing.T) {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "127.0.0.1"
	}
	for _, tc := range []struct {
		advertise string
		scheme    string
		bound     string
		want      string
	}{
		{"", "http", "127.0.0.1:7001", "http://127.0.0.1:7001"},
		{"", "http", "[::1]:7001", "http://[::1]:7001"},
		{"", "http", "0.0.0.0:7001", "http://" + net.JoinHostPort(host, "7001")},
		{"", "http", "[::]:7001", "http://" + net.JoinHostPort(host, "7001")},
		{"http://s1.internal:7001/", "http", "127.0.0.1:7001", "http://s1.internal:7001"},
		{"", "https", "127.0.0.1:7001", "https://127.0.0.1:7001"},
		{"", "https", "0.0.0.0:7001", "https://" + net.JoinHostPort(host, "7001")},
		{"https://s1.internal:7001", "https", "127.0.0.1:7001", "https://s1.internal:7001"},
	} {
		addr, err := net.ResolveTCPAddr("tcp", tc.bound)
		if err != nil {
			t.Fatal(err)
		}
		if got := advertiseURL(tc.advertise, tc.scheme, addr); got != tc.want {
			t.Errorf("advertiseURL(%q, %s) = %q, want %q", tc.advertise, tc.bound, got, tc.want)
		}
	}
}

func TestTestClock(t *testing.T) {
	if c := testClock(func(string) string { return "" }); c != nil {
		t.Errorf("testClock without SOLTIX_TEST_NOW = %v, want nil", c())
	}
	c := testClock(func(k string) string {
		if k == "SOLTIX_TEST_NOW" {
			return "2026-02-15T12:00:00Z"
		}
		return ""
	})
	if want := time.Date(2026, 2, 15, 12, 0, 0, 0, time.UTC); c == nil || !c().Equal(want) {
		t.Errorf("testClock(SOLTIX_TEST_NOW=2026-02-15T12:00:00Z) is not %v", want)
	}
}

// TestOpenClusterStorage: a storage node opens its data directory with
// the cluster's groups and shard tag, and refuses one made with another
// number of groups.
func TestOpenClusterStorage(t *testing.T) {
	dir := t.TempDir()
	db, err := storage.Open(dir, &storage.Options{NumGroups: 4})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	for _, tc := range []struct {
		groups int
		err    string
	}{
		{16, "holds 4 groups but the cluster has 16"},
		{4, ""},
	} {
		db, err := openClusterStorage(dir, &storage.Options{}, coord.Info{NumGroups: tc.groups, ReplicationFactor: 1, ShardTag: "host"})
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("cluster of %d groups over a directory of 4: error %v, want %q", tc.groups, err, tc.err)
		case tc.err == "" && err != nil:
			t.Errorf("cluster of %d groups over a directory of 4: %v", tc.groups, err)
		case err == nil:
			if db.ShardTag() != "host" {
				t.Errorf("shard tag %q, want the cluster's", db.ShardTag())
			}
			db.Close()
		}
	}
}

// TestBlockSizeConfig: storage.block_size and storage.compact_block_size
// reach the engine's options and are bounded by what a colstore block may
// hold.
func TestBlockSizeConfig(t *testing.T) {
	dir := t.TempDir()
	for _, key := range []string{"block_size", "compact_block_size"} {
		for _, tc := range []struct {
			value string
			want  int
			err   string
		}{
			{"16", 16, ""},
			{"0", 0, ""},
			{"65536", 65536, ""},
			{"65537", 0, "storage." + key},
			{"-1", 0, "storage." + key},
		} {
			f := filepath.Join(dir, key+tc.value+".yaml")
			if err := os.WriteFile(f, []byte("storage: {"+key+": "+tc.value+"}\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			cfg, err := loadConfig("serve", []string{"--config", f}, func(string) string { return "" })
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Errorf("%s %s: error %v, want one naming %s", key, tc.value, err, tc.err)
				}
				continue
			}
			if err != nil {
				t.Errorf("%s %s: %v", key, tc.value, err)
				continue
			}
			o := cfg.storageOptions(nil)
			got := o.BlockSize
			if key == "compact_block_size" {
				got = o.CompactBlockSize
			}
			if got != tc.want {
				t.Errorf("%s %s: engine option %d, want %d", key, tc.value, got, tc.want)
			}
		}
	}
}

// TestNATSConfig: cluster.nats comes from --nats, the YAML file and
// SOLTIX_NATS for serve and both roles, with the usual precedence; a URL
// that is not nats://, tls://, ws:// or wss:// with a host is refused.
func TestNATSConfig(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "nats.yaml")
	if err := os.WriteFile(file, []byte("cluster:\n  nats: [nats://file:4222, \"tls://file2:4222\"]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	base := map[string][]string{
		"serve":   {"--data-dir", "/d"},
		"storage": {"--node-id", "s1", "--listen", ":1", "--data-dir", "/d", "--etcd", "http://e:1"},
		"router":  {"--listen", ":1", "--etcd", "http://e:1"},
	}
	tests := []struct {
		name string
		args []string
		env  string
		want []string
		err  string
	}{
		{name: "none"},
		{name: "flag", args: []string{"--nats", "nats://a:4222,nats://b:4222"}, want: []string{"nats://a:4222", "nats://b:4222"}},
		{name: "env", env: "nats://env:4222, ws://env2:8080", want: []string{"nats://env:4222", "ws://env2:8080"}},
		{name: "file over env", args: []string{"--config", file}, env: "nats://env:4222", want: []string{"nats://file:4222", "tls://file2:4222"}},
		{name: "flag over file", args: []string{"--config", file, "--nats", "nats://flag:1"}, want: []string{"nats://flag:1"}},
		{name: "no scheme", args: []string{"--nats", "127.0.0.1:4222"}, err: `cluster.nats: "127.0.0.1:4222"`},
		{name: "http scheme", env: "http://n:4222", err: "cluster.nats"},
		{name: "path", args: []string{"--nats", "nats://n:4222/x"}, err: "cluster.nats"},
	}
	for role, args := range base {
		for _, tc := range tests {
			t.Run(role+"/"+tc.name, func(t *testing.T) {
				getenv := func(k string) string {
					if k == "SOLTIX_NATS" {
						return tc.env
					}
					return ""
				}
				all := append(slices.Clone(args), tc.args...)
				var cfg Config
				var err error
				if role == "serve" {
					cfg, err = loadConfig(role, all, getenv)
				} else {
					cfg, err = loadRoleConfig(role, all, getenv)
				}
				if tc.err != "" {
					if err == nil || !strings.Contains(err.Error(), tc.err) {
						t.Fatalf("error %v, want one containing %q", err, tc.err)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(cfg.Cluster.NATS, tc.want) {
					t.Fatalf("cluster.nats %q, want %q", cfg.Cluster.NATS, tc.want)
				}
			})
		}
	}
}
