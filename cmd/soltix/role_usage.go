package main

import (
	"errors"
	"flag"
	"io"
	"os"
)

// clusterKeys is the part of the cluster roles' help that lists their
// configuration keys.
const clusterKeys = `
Cluster keys of the YAML file (and their SOLTIX_* variables):
  cluster.etcd                list of etcd client URLs (SOLTIX_ETCD,
                              comma-separated; --etcd)
  cluster.nats                list of NATS server URLs: a router takes
                              writes published to soltix.ingest.* (SOLTIX_NATS,
                              comma-separated; --nats; default none)
  cluster.name                the cluster's name, prefix of its etcd keys
                              (SOLTIX_CLUSTER_NAME; default soltix)
  cluster.num_groups          groups devices are hashed into, fixed when the
                              cluster is created (SOLTIX_CLUSTER_NUM_GROUPS;
                              default 16)
  cluster.replication_factor  nodes holding each group, read when the
                              cluster is created
                              (SOLTIX_CLUSTER_REPLICATION_FACTOR; default 1)
  cluster.min_nodes           storage nodes up before a new cluster's groups
                              are placed (SOLTIX_CLUSTER_MIN_NODES; default 1)
  cluster.lease_ttl           how long a process unheard by etcd stays up
                              (SOLTIX_CLUSTER_LEASE_TTL; default 5s)
  cluster.tls.cert_file,      mutual TLS between routers and storage nodes:
  cluster.tls.key_file,       this process's certificate and key, and the
  cluster.tls.ca_file         CA signing every node's and router's; all
                              three or none (SOLTIX_CLUSTER_TLS_CERT_FILE,
                              _KEY_FILE, _CA_FILE; --cluster-tls-cert,
                              -key, -ca; default none: cleartext HTTP/2)
  node.id                     a storage node's id (SOLTIX_NODE_ID; --node-id)
  node.advertise              the URL a storage node is reached at
                              (SOLTIX_ADVERTISE; --advertise; default
                              http://LISTEN, https://LISTEN with
                              cluster.tls)
The first process to reach etcd creates the cluster with its
cluster.num_groups, cluster.replication_factor and storage.shard_tag; later
ones read them from etcd. Every other key of serve's file applies too
(docs/operations.md), except storage.num_groups.
`

const storageIntro = `Usage: soltix storage --node-id ID --listen ADDR [--advertise URL]
                      --data-dir DIR --etcd URL[,URL] [--nats URL[,URL]]
                      [--config FILE]

Run a storage node of a cluster until SIGINT or SIGTERM. The node registers
in etcd under a lease, holds the groups the cluster map gives it, serves
them to routers on the internal API (/internal/v1/: HTTP/2 without TLS, or
over mutual TLS with cluster.tls) and /health, /ready and /metrics, applies
collection settings from etcd, and campaigns to be the cluster's
coordinator. On a signal it leaves the cluster, finishes the requests in
flight, flushes memory to files and exits 0. Configuration comes from
defaults, SOLTIX_* environment variables, the YAML file of --config, then
these flags.
` + clusterKeys

const routerIntro = `Usage: soltix router --listen ADDR --etcd URL[,URL] [--nats URL[,URL]]
                     [--config FILE]

Run a router of a cluster until SIGINT or SIGTERM: it serves the whole
external API of serve (writes, queries, Grafana, the console, admin routes,
/openapi.yaml) and GET /api/v1/cluster, sending each group's part to the
storage node the cluster map names. With --nats it also takes the writes
published to soltix.ingest.<collection> (NATS, and MQTT through the NATS
server's MQTT listener), sharing them with the other routers as a queue
group (docs/operations.md). Collection settings it is given are
stored in etcd and applied by every node. The http.* and query.* keys of
the YAML file apply as for serve. Configuration comes from defaults,
SOLTIX_* environment variables, the YAML file of --config, then these
flags.
` + clusterKeys

// roleConfig parses a cluster role's arguments. ok is false when the
// command must exit with code: after --help (0) or a usage error (2).
func roleConfig(role, intro string, args []string, stdout, stderr io.Writer) (cfg Config, code int, ok bool) {
	cfg, err := loadRoleConfig(role, args, os.Getenv)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs, _ := roleFlags(role, os.Getenv)
			writeUsage(stdout, fs, intro)
			return cfg, 0, false
		}
		badUsage(stderr, role, err.Error())
		return cfg, 2, false
	}
	return cfg, 0, true
}
