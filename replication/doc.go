// Package replication carries a cluster's writes from each group's primary
// to its replicas over NATS JetStream, and is the only package that talks
// to NATS for it (docs/replication.md).
//
// One stream per cluster holds one subject per group,
// soltix.<cluster>.repl.g<NNNN>. A group's primary publishes every write
// batch and delete it made durable, in the order its WAL holds them,
// through a Lead: each message names the stream sequence of the previous
// message on the subject (JetStream's expected-last-subject-sequence
// check), so a primary fenced by a newer epoch cannot append, and a
// replica can tell that it saw every message. Taking a group over
// publishes a fence message first.
//
// Replicas follow a group's subject with a durable consumer from the
// sequence after the last one they applied, and apply each message through
// an Applier that records the sequence with the data (storage's
// WriteApplied and DeleteApplied), so a redelivered message changes
// nothing. A Follower stops at a gap (a message whose predecessor it did
// not apply: the stream's retention dropped messages it needed) and says
// so: the replica must then copy the group from the primary.
package replication
