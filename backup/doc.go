// Package backup owns online backups of a single node and their restore.
//
// A backup is taken over HTTP while the node keeps taking writes: the
// server side (Sessions) snapshots every group the node holds with
// storage.DB.SnapshotGroup (a flush, then the group's files pinned against
// removal), lists each file with its size and CRC-32C, and serves the
// files until the client releases the snapshot or it sits idle for
// Options.IdleTimeout. The client side (Take) copies the files into a
// directory and writes the backup's Manifest last, so a directory without
// backup.json is no backup. Restore checks every file against the
// manifest and then imports the groups (storage.DB.ImportGroup) and the
// collection settings into an empty data directory.
//
// The backup point: every write and delete acknowledged before the backup
// request began is in the backup; writes acknowledged later may or may
// not be. A backup directory holds, per group, the files of the group's
// snapshot below groups/NNNN/, so a cluster can back up and restore one
// group at a time later.
package backup
