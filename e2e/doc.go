// Package e2e holds Soltix's black-box end-to-end tests. They talk to a
// server only over HTTP, as a client would: either the real binary
// (cmd/soltix, built once per run and driven on loopback ports) or a server
// started in-process (storage.Open on a temporary directory, httpapi.New,
// httptest.NewServer), which can be closed and reopened on the same
// directory to restart it.
//
// TestDifferential is the test that the database answers queries
// correctly. It writes random data (seeded, mixed line protocol and JSON,
// with overwrites), runs random queries, and checks every answer against a
// deliberately naive oracle of docs/query.md: the oracle works by brute
// force over the list of points written and shares no code with the
// planner. The checks run with everything in memory, after a flush, after
// a restart, with overwrites split between files and memory, and after a
// second flush. A handful of hand-computed answers check the oracle itself.
// SOLTIX_DIFF_SEED=n reruns one seed; SOLTIX_DIFF_RANDOM=1 adds a seed from
// the clock; -short runs fewer queries.
//
// Also here: TestKillNineLosesNoAcknowledgedWrite (SIGKILL mid-ingest,
// every acknowledged point back, rollups agreeing with raw data),
// TestBadInputChangesNothing, TestRobustHostileRequests (seeded random
// and hostile requests over every openapi.yaml route, slow clients and
// idle connections; its seeds are kept in testdata/robust-seeds.txt,
// SOLTIX_ROBUST_SEED=n reruns one, SOLTIX_ROBUST_N sets the requests per
// seed, SOLTIX_ROBUST_RANDOM=1 adds one from the clock), with its h2c
// pass (TestRobustH2C) and its pass with tokens on (TestRobustTokens: no
// credential that may write, connections exhausted, stored data unchanged),
// TestDeleteThroughHTTP,
// TestRollupsThroughHTTP (EXPLAIN levels, late writes, retention over
// HTTP), and TestConsole, which drives the web console in headless
// Chromium (skipped without Chromium, except in CI, where it fails) and
// saves screenshots to $SOLTIX_ARTIFACTS.
//
// The cluster tests run the same bodies against a cluster: cluster_test.go
// starts a real etcd (internal/etcdtest), `soltix storage` processes and
// `soltix router` processes of the built binary on free loopback ports,
// each of which can be stopped, killed and restarted. TestClusterDifferential
// and TestClusterRollups are TestDifferential and TestRollupsThroughHTTP
// through a router (the differential one also checks every answer against
// a single node given the same writes), with restarts of every process;
// TestClusterOperations runs one cluster through SIGKILLs, a second router,
// a stopped node, per-node counters and a node joining;
// TestClusterJoinUnderLoad adds a node under continuous writes and queries;
// TestDeployScript drives deploy/cluster.sh.
//
// The package has no non-test code; this file only documents it.
package e2e
