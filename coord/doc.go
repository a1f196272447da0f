// Package coord is the cluster's only client of etcd: node registration
// under leases, the cluster map (group → primary, replicas, epoch) changed
// by compare-and-swap transactions and watched by every process, the
// election of the one coordinator that places groups on live nodes, and
// collection settings shared by every node. docs/cluster.md lists its keys,
// their encodings and its transactions.
package coord

import _ "go.etcd.io/etcd/client/v3" // the etcd client this package is built on
