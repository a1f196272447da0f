package wal

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/soltixdb/soltix/storage/vfs"
)

// Rotation without fsyncs on the writers' path.
//
// Starting a segment costs three fsyncs: the header, the file and the
// directory. The flusher does it between two batches, so every Append
// queued behind a rotation waited for them (with a busy disk, tens of
// milliseconds: the tail of the write latency). Instead, after a rotation
// the next segment is prepared in the background in spareName: created,
// its header written and (with SyncAlways) fsynced. The next rotation
// renames it to its segment's name, which costs no fsync, and the rename
// is made durable by a directory fsync before the Appends of the first
// batch written to the new segment return (or by RemoveBefore or Close,
// whichever comes first). Until then no acknowledged record is in the new
// segment, so a crash that loses the rename loses nothing acknowledged:
// the spare is not a segment (listSegments ignores it) and the next
// preparation overwrites it.
//
// The header carries no segment number (only the record CRCs are bound to
// it), so a prepared spare fits whichever segment comes next. The first
// rotation after Open creates its segment directly, as does a rotation
// whose spare failed to prepare (a full disk, say): then the errors are
// those of creating the segment, and the WAL behaves as without spares.

// spareName is the file the next segment is prepared in.
const spareName = "next-segment.spare"

// spare is a prepared segment file: its header is written (and synced with
// SyncAlways) and its salt drawn.
type spare struct {
	f    vfs.File
	salt uint32
	err  error
}

// prepareSpare starts preparing the next segment in the background unless
// a preparation is under way or done. It is called by the flusher only.
func (w *WAL) prepareSpare() {
	if w.spareC != nil {
		return
	}
	c := make(chan spare, 1)
	w.spareC = c
	go func() { c <- w.makeSpare() }()
}

// makeSpare creates the spare file with a new header. On error the file is
// closed and removed.
func (w *WAL) makeSpare() spare {
	salt, err := newSalt()
	if err != nil {
		return spare{err: err}
	}
	path := filepath.Join(w.dir, spareName)
	f, err := w.fs.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return spare{err: fmt.Errorf("create spare segment: %w", err)}
	}
	if _, err = f.Write(appendSegmentHeader(nil, salt)); err == nil && w.opts.Sync == SyncAlways {
		err = f.Sync()
	}
	if err != nil {
		_ = f.Close()
		if rerr := w.fs.Remove(path); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
			w.logger.Warn("wal: cannot remove a spare segment it could not prepare", "dir", w.dir, "err", rerr)
		}
		return spare{err: fmt.Errorf("prepare spare segment: %w", err)}
	}
	return spare{f: f, salt: salt}
}

// takeSpare returns the prepared spare, waiting for a preparation under
// way, or ok false when there is none or it failed.
func (w *WAL) takeSpare() (s spare, ok bool) {
	if w.spareC == nil {
		return spare{}, false
	}
	s = <-w.spareC
	w.spareC = nil
	if s.err != nil {
		w.logger.Warn("wal: no spare segment; starting the next one directly", "dir", w.dir, "err", s.err)
		return spare{}, false
	}
	return s, true
}

// useSpare makes the prepared spare segment next: it is renamed to its
// segment's name, and the directory is left to sync before the first batch
// in it is acknowledged. It returns the file and its binding. On error the
// spare is closed and removed.
func (w *WAL) useSpare(s spare, next uint64) (vfs.File, binding, error) {
	from, to := filepath.Join(w.dir, spareName), filepath.Join(w.dir, segmentName(next))
	if err := w.fs.Rename(from, to); err != nil {
		_ = s.f.Close()
		_ = w.fs.Remove(from)
		return nil, binding{}, fmt.Errorf("rename spare segment: %w", err)
	}
	w.dirPending = w.opts.Sync == SyncAlways
	return s.f, binding{v2: true, salt: s.salt, seg: next}, nil
}

// syncPendingDir fsyncs the directory if a rotation renamed a spare into
// place since the last directory fsync. It is called by the flusher only,
// and by Close after the flusher has exited.
func (w *WAL) syncPendingDir() error {
	if !w.dirPending {
		return nil
	}
	if err := syncDir(w.fs, w.dir); err != nil {
		return err
	}
	w.dirPending = false
	return nil
}

// dropSpare closes and removes a prepared spare at Close, waiting for a
// preparation under way.
func (w *WAL) dropSpare() error {
	if w.spareC == nil {
		return nil
	}
	s := <-w.spareC
	w.spareC = nil
	if s.err != nil {
		return nil // makeSpare removed what it made
	}
	err := s.f.Close()
	if rerr := w.fs.Remove(filepath.Join(w.dir, spareName)); rerr != nil && !errors.Is(rerr, os.ErrNotExist) && err == nil {
		err = rerr
	}
	if err != nil {
		return fmt.Errorf("drop spare segment: %w", err)
	}
	return nil
}
