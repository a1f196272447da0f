// Package vfs is the filesystem seam of the storage engine: every file
// operation of the WAL, the colfile writer and reader and the DB goes through
// an FS, so that tests can substitute a filesystem that fails on purpose
// (package errorfs) without touching the code under test.
//
// Default is the real operating-system filesystem. Its File is *os.File.
//
//	fs := vfs.Default
//	f, err := fs.Create(filepath.Join(dir, "x.tmp"))
//	if err != nil { ... }
//	_, err = f.Write(data)
//	... f.Sync(), f.Close(), fs.Rename(tmp, final), fs.SyncDir(dir)
//
// # Paths and errors
//
// Names are ordinary operating-system paths, joined with path/filepath. An
// implementation reports errors the way package os does (*os.PathError,
// *os.LinkError), so errors.Is(err, os.ErrNotExist) or
// errors.Is(err, syscall.ENOSPC) work whatever the FS.
//
// # Buffer ownership
//
// File methods follow io's rules: Write and the Read methods use the
// caller's slice only during the call and never keep it; the caller may reuse
// it as soon as the call returns. Write returns a non-nil error whenever it
// writes fewer than len(p) bytes (a short write), and the bytes it reports as
// written may have reached the file even though the call failed. Slices
// returned by ReadDir belong to the caller.
//
// # Concurrency
//
// An FS is safe for concurrent use by any number of goroutines. A File
// follows *os.File's rules: ReadAt may be called concurrently with itself and
// with other methods; Read, Write and Truncate share the file's offset and
// size, so concurrent calls to them are allowed but their interleaving is
// unspecified. Close must not run concurrently with other methods of the
// same File.
//
// # Durability
//
// Data written to a File is durable only after File.Sync returns nil.
// Creating, renaming or removing a file is durable only after SyncDir of its
// directory returns nil. After a failed Sync the contents of the file are
// unknown; callers must not retry and assume the earlier writes are safe.
// A new directory is durable only after SyncDir of its parent: MkdirAllSync
// creates directories and syncs the parent of each one it creates.
//
// # Crash tests
//
// NewCrashableMem returns an in-memory FS that keeps, beside what the program
// sees, what a disk would keep: file contents as of their last Sync and
// directory entries as of their directory's last SyncDir. CrashClone returns
// a new FS with only that, as after a power loss, to reopen the engine on.
package vfs
