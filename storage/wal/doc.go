// Package wal implements Soltix's write-ahead log: an append-only sequence of
// checksummed records split across numbered segment files.
//
// # Files
//
// A WAL lives in its own directory. Segments are named by their number as 16
// zero-padded decimal digits followed by ".wal", starting at 1:
//
//	<dir>/0000000000000001.wal
//	<dir>/0000000000000002.wal
//
// Other files in the directory are ignored (the next segment is prepared in
// one, spare.go). The numbers of the segments that
// exist are contiguous; RemoveBefore deletes from the oldest end so that a
// crash in the middle of it leaves them contiguous.
//
// # Framing
//
// Each segment starts with a 16-byte header: the magic "SLTXWAL", a version
// byte (2), a random salt and the CRC-32C of the header before it, followed
// by records. Each record is
//
//	+----------------+----------------+===================+
//	| length (4, LE) | CRC32C (4, LE) | payload (length)  |
//	+----------------+----------------+===================+
//
// where the CRC is the Castagnoli CRC-32 of the payload xored with a key of
// the segment number, its salt and the record's offset, so that a record's
// bytes copied into a payload never pass as a record. Version 1 segments
// (an 8-byte header, the CRC of the payload alone) are still replayed, and
// new records always go to version 2 segments. Payloads are never
// empty and at most MaxRecordSize bytes. docs/format-wal.md describes the
// format byte by byte, together with the rules Replay uses to tell a torn tail
// (damage in the last segment with no intact record after it: cut off with a
// warning) from corruption (reported as *CorruptionError, or cut with an
// error log under Options.Recovery = RecoverTruncate).
//
// # Usage
//
//	w, err := wal.Open(dir, nil)
//	if err != nil { ... }
//	err = w.Replay(func(segment uint64, rec []byte) error {
//		return memtable.Apply(rec) // rec is only valid during the call
//	})
//	if err != nil { ... }
//	seg, err := w.Append(rec) // durable once it returns (SyncAlways)
//	...
//	n, err := w.Rotate() // a flush starts: new records go to segments >= n
//	...                  // the flush becomes durable
//	err = w.RemoveBefore(n)
//	...
//	err = w.Close()
//
// # Concurrency
//
// Append, Rotate, RemoveBefore, Stats and Close may be called from any number
// of goroutines. Open and Replay must not run concurrently with other methods.
// Concurrent Appends are group-committed: a single flusher goroutine, started
// by Replay and stopped by Close, writes every record pending at that moment
// with one write and one fsync, and each waiting Append returns the result of
// that fsync. Segments are rotated by size and age between batches, and by
// Rotate or RotateAsync (which marks the cut without waiting for it); a
// rotation takes the segment prepared in the background after the previous
// one, so it does no fsync before the batches queued behind it.
//
// # Failures
//
// After a write or fsync error the WAL is failed: the Appends of the batch
// and every later Append return an error wrapping ErrFailed. The WAL never
// retries on the same file, because after a failed fsync the file's contents
// are unknown. When a write stops part way (a short write, as on a full
// disk), the WAL truncates the segment back to the end of the last
// successful batch, so that the next Replay returns exactly the records whose
// Append succeeded; if even that truncation fails, it is logged and the
// records of the failed batch that were written in full may replay. After a
// failed fsync the batch's records may or may not replay.
//
// A full disk is the exception: a write or segment creation that fails
// with ENOSPC, before any fsync of the batch, does not fail the WAL. The
// batch is cut back off the segment (synced, and the segment reopened for
// appending), its Appends return an error wrapping ErrNoSpace, and later
// Appends and rotations are tried again, so writes resume by themselves
// once space is freed. Only if cutting the batch back fails does the WAL
// fail as above.
//
// Errors of RemoveBefore do not fail the WAL: they are returned, and the call
// can be repeated.
//
// # Filesystem
//
// Every file operation goes through Options.FS (package vfs), so tests can
// inject faults with package errorfs:
//
//	fs := errorfs.New(vfs.Default)
//	fs.Inject(errorfs.Rule{Op: errorfs.OpSync, Path: "*.wal", After: 2, Err: syscall.EIO})
//	w, err := wal.Open(dir, &wal.Options{FS: fs})
package wal
