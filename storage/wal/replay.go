package wal

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"

	"github.com/soltixdb/soltix/storage/vfs"
)

// CorruptionError reports a damaged segment that Replay cannot repair by
// cutting off a torn tail: a bad record in a segment other than the last one,
// a record with a bad checksum that is followed by more data, a bad segment
// header, or a missing segment. Check for it with errors.As.
type CorruptionError struct {
	// Segment is the number of the damaged (or missing) segment.
	Segment uint64
	// Offset is the byte offset in the segment of the damaged header or
	// record.
	Offset int64
	// Err describes the damage.
	Err error
}

// Error describes the corruption.
func (e *CorruptionError) Error() string {
	return fmt.Sprintf("wal corruption in segment %d at offset %d: %v", e.Segment, e.Offset, e.Err)
}

// Unwrap returns the underlying error.
func (e *CorruptionError) Unwrap() error { return e.Err }

// Descriptions of the damage a CorruptionError or a torn tail can report.
var (
	errShortSegmentHeader = errors.New("short segment header")
	errBadMagic           = errors.New("bad segment magic")
	errBadVersion         = errors.New("unsupported segment version")
	errShortRecordHeader  = errors.New("short record header")
	errZeroLength         = errors.New("zero record length")
	errPastEnd            = errors.New("record runs past end of segment")
	errTooLarge           = errors.New("record length above maximum")
	errChecksum           = errors.New("record checksum mismatch")
	errMissingSegment     = errors.New("missing segment")
)

// Replay calls fn for every intact record of the segments that existed when
// the WAL was opened, in order, passing the segment number and the payload.
// The payload is only valid during the call; fn must copy what it keeps. An
// error from fn stops Replay and is returned wrapped.
//
// A torn tail of the last segment (see docs/format-wal.md) is cut off: the
// file is truncated at the end of its last intact record, or removed if not
// even its header is complete, and a warning is logged. Any other damage
// returns a *CorruptionError and leaves the files untouched.
//
// Replay must be called exactly once, before the first Append. When it
// succeeds it starts a new segment, numbered after the existing ones, for the
// records appended from then on.
func (w *WAL) Replay(fn func(segment uint64, record []byte) error) error {
	w.lifeMu.Lock()
	defer w.lifeMu.Unlock()
	w.mu.Lock()
	st := w.state
	w.mu.Unlock()
	if st == stateClosed {
		return ErrClosed
	}
	if w.replayed {
		return errors.New("wal: replay called twice")
	}
	w.replayed = true

	for i, s := range w.segs {
		if i > 0 && s != w.segs[i-1]+1 {
			return &CorruptionError{Segment: w.segs[i-1] + 1, Err: errMissingSegment}
		}
	}
	var r replayer
	next := uint64(1)
	for i, s := range w.segs {
		last := i == len(w.segs)-1
		removed, err := r.segment(w, s, last, fn)
		if err != nil {
			return err
		}
		// A last segment removed for its torn header gives its number to the
		// new segment, so the numbers stay contiguous.
		if last && !removed {
			next = s + 1
		} else {
			next = s
		}
	}
	f, err := createSegment(w.fs, w.dir, next, w.opts.Sync == SyncAlways)
	if err != nil {
		return fmt.Errorf("start segment %d: %w", next, err)
	}
	w.f, w.seg, w.size = f, next, int64(segmentHeaderSize)
	w.start()
	return nil
}

// replayer holds the buffers reused across segments during Replay.
type replayer struct {
	br  *bufio.Reader
	buf []byte
}

// segment replays segment seg. last says whether it is the last segment, the
// only one whose torn tail may be cut off. removed reports that the segment
// was removed because its header was torn.
func (r *replayer) segment(w *WAL, seg uint64, last bool, fn func(uint64, []byte) error) (removed bool, err error) {
	f, err := w.fs.Open(filepath.Join(w.dir, segmentName(seg)))
	if err != nil {
		return false, fmt.Errorf("open segment %d: %w", seg, err)
	}
	off, size, dmg, err := r.read(f, seg, fn)
	if cerr := f.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("close segment %d: %w", seg, cerr)
	}
	if err != nil {
		return false, err
	}
	if dmg == nil {
		return false, nil
	}
	if !last || !dmg.torn {
		return false, &CorruptionError{Segment: seg, Offset: off, Err: dmg.err}
	}
	return off == 0, w.cutTail(seg, off, size, dmg.err)
}

// damage is a problem found while reading a segment.
type damage struct {
	err  error
	torn bool // the damage is a torn tail if the segment is the last one
}

// read calls fn for every intact record of segment seg in f. It returns the
// offset just after the last intact record (0 for a damaged segment header),
// the file's size, and the damage that stopped it, if any. err is an error
// from fn or from reading the file.
func (r *replayer) read(f vfs.File, seg uint64, fn func(uint64, []byte) error) (off, size int64, dmg *damage, err error) {
	fi, err := f.Stat()
	if err != nil {
		return 0, 0, nil, fmt.Errorf("stat segment %d: %w", seg, err)
	}
	size = fi.Size()
	if r.br == nil {
		r.br = bufio.NewReaderSize(f, 1<<20)
	} else {
		r.br.Reset(f)
	}
	readErr := func(err error) error {
		return fmt.Errorf("read segment %d: %w", seg, err)
	}

	if size < int64(segmentHeaderSize) {
		return 0, size, &damage{err: errShortSegmentHeader, torn: true}, nil
	}
	var hdr [recordHeaderSize]byte
	if _, err := io.ReadFull(r.br, hdr[:segmentHeaderSize]); err != nil {
		return 0, size, nil, readErr(err)
	}
	if !bytes.Equal(hdr[:len(segmentMagic)], []byte(segmentMagic)) {
		return 0, size, &damage{err: errBadMagic}, nil
	}
	if v := hdr[len(segmentMagic)]; v != segmentVersion {
		return 0, size, &damage{err: fmt.Errorf("%w %d", errBadVersion, v)}, nil
	}

	off = int64(segmentHeaderSize)
	for off < size {
		if size-off < recordHeaderSize {
			return off, size, &damage{err: errShortRecordHeader, torn: true}, nil
		}
		if _, err := io.ReadFull(r.br, hdr[:]); err != nil {
			return off, size, nil, readErr(err)
		}
		length := int64(binary.LittleEndian.Uint32(hdr[0:4]))
		sum := binary.LittleEndian.Uint32(hdr[4:8])
		end := off + recordHeaderSize + length
		switch {
		case length == 0:
			// A zero-filled tail (preallocated or never written) is torn;
			// a zero length followed by data is corruption.
			zeros, err := allZero(r.br)
			if err != nil {
				return off, size, nil, readErr(err)
			}
			return off, size, &damage{err: errZeroLength, torn: sum == 0 && zeros}, nil
		case end > size:
			return off, size, &damage{err: errPastEnd, torn: true}, nil
		case length > MaxRecordSize:
			return off, size, &damage{err: errTooLarge}, nil
		}
		if int64(cap(r.buf)) < length {
			r.buf = make([]byte, length)
		}
		payload := r.buf[:length]
		if _, err := io.ReadFull(r.br, payload); err != nil {
			return off, size, nil, readErr(err)
		}
		if crc32.Checksum(payload, castagnoli) != sum {
			// Only a checksum failure on the very last record can be a torn
			// write; one followed by more data is corruption.
			return off, size, &damage{err: errChecksum, torn: end == size}, nil
		}
		if err := fn(seg, payload); err != nil {
			return off, size, nil, fmt.Errorf("replay segment %d offset %d: %w", seg, off, err)
		}
		off = end
	}
	return off, size, nil, nil
}

// allZero reports whether everything left in r is zero bytes.
func allZero(r io.Reader) (bool, error) {
	var buf [4096]byte
	for {
		n, err := r.Read(buf[:])
		for _, c := range buf[:n] {
			if c != 0 {
				return false, nil
			}
		}
		if err == io.EOF {
			return true, nil
		}
		if err != nil {
			return false, err
		}
	}
}

// cutTail repairs the torn tail of the last segment seg, which is size bytes
// long and intact up to off, and logs a warning saying why. A segment whose
// header is torn is removed; any other is truncated at off.
func (w *WAL) cutTail(seg uint64, off, size int64, why error) error {
	path := filepath.Join(w.dir, segmentName(seg))
	sync := w.opts.Sync == SyncAlways
	w.logger.Warn("wal: cutting torn tail of last segment",
		"segment", seg, "offset", off, "dropped", size-off, "reason", why.Error())
	if off == 0 {
		if err := w.fs.Remove(path); err != nil {
			return fmt.Errorf("remove torn segment %d: %w", seg, err)
		}
		if sync {
			if err := syncDir(w.fs, w.dir); err != nil {
				return fmt.Errorf("remove torn segment %d: %w", seg, err)
			}
		}
		return nil
	}
	f, err := w.fs.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("open torn segment %d: %w", seg, err)
	}
	err = f.Truncate(off)
	if err == nil && sync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("truncate torn segment %d: %w", seg, err)
	}
	return nil
}
