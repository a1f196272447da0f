package wal

import (
	"bufio"
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
// a bad record of the last segment followed by an intact record, a bad
// segment header, or a missing segment. Check for it with errors.As.
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
	errHeaderChecksum     = errors.New("segment header checksum mismatch")
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
// A torn tail of the last segment (see docs/format-wal.md: damage after
// which no intact record follows) is cut off: the file is truncated at the
// end of its last intact record, or removed if not even its header is
// complete, and a warning is logged. Any other damage returns a
// *CorruptionError and leaves the files untouched, unless Options.Recovery is
// RecoverTruncate, which cuts the WAL at the damage and logs what it dropped.
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

	segs := w.segs
	for i, s := range segs {
		if i == 0 || s == segs[i-1]+1 {
			continue
		}
		ce := &CorruptionError{Segment: segs[i-1] + 1, Err: errMissingSegment}
		if w.opts.Recovery != RecoverTruncate {
			return ce
		}
		// Everything after the gap goes; the segments before it replay.
		if err := w.dropAfter(ce, segs[i:], 0, 0); err != nil {
			return err
		}
		segs = segs[:i]
		break
	}
	var r replayer
	next := uint64(1)
	for i, s := range segs {
		last := i == len(segs)-1
		removed, err := r.segment(w, s, last, fn)
		var ce *CorruptionError
		if errors.As(err, &ce) && w.opts.Recovery == RecoverTruncate {
			removed, err = r.truncateAt(w, ce, segs[i+1:])
			last = true
		}
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
		if last {
			break
		}
	}
	f, bind, err := createSegment(w.fs, w.dir, next, w.opts.Sync == SyncAlways)
	if err != nil {
		return fmt.Errorf("start segment %d: %w", next, err)
	}
	w.f, w.seg, w.size, w.bind = f, next, int64(segmentHeaderSize), bind
	w.start()
	return nil
}

// replayer holds the buffers reused across segments during Replay.
type replayer struct {
	br   *bufio.Reader
	buf  []byte
	bind binding // of the segment read last
}

// segment replays segment seg. last says whether it is the last segment, the
// only one whose torn tail may be cut off. removed reports that the segment
// was removed because its header was torn.
func (r *replayer) segment(w *WAL, seg uint64, last bool, fn func(uint64, []byte) error) (removed bool, err error) {
	f, err := w.fs.Open(filepath.Join(w.dir, segmentName(seg)))
	if err != nil {
		return false, fmt.Errorf("open segment %d: %w", seg, err)
	}
	defer func() {
		if cerr := f.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("close segment %d: %w", seg, cerr)
		}
	}()
	off, size, dmg, err := r.read(f, seg, fn)
	if err != nil {
		return false, err
	}
	if dmg == nil {
		return false, nil
	}
	if !last || !dmg.torn {
		return false, &CorruptionError{Segment: seg, Offset: off, Err: dmg.err}
	}
	if dmg.record {
		// Damage is a torn tail only if no intact record follows it: a
		// crash while appending leaves nothing valid behind the damage.
		at, n, _, err := scanValid(f, r.bind, off+1, size, true)
		if errors.Is(err, errScanBudget) {
			return false, &CorruptionError{Segment: seg, Offset: off, Err: fmt.Errorf("%w, and %v", dmg.err, err)}
		}
		if err != nil {
			return false, fmt.Errorf("read segment %d: %w", seg, err)
		}
		if n > 0 {
			return false, &CorruptionError{Segment: seg, Offset: off,
				Err: fmt.Errorf("%w, and an intact record follows at offset %d", dmg.err, at)}
		}
	}
	return off == 0, w.cutTail(seg, off, size, dmg.err)
}

// damage is a problem found while reading a segment.
type damage struct {
	err error
	// torn says the damage can be a torn tail if the segment is the last
	// one; record says it is damage of a record rather than of the segment
	// header, so a torn tail needs no intact record after it.
	torn, record bool
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

	var hdr [segmentHeaderSize]byte
	if size >= int64(segmentHeaderSizeV1) {
		// The first 8 bytes say the version; version 2 has 8 more.
		if _, err := io.ReadFull(r.br, hdr[:segmentHeaderSizeV1]); err != nil {
			return 0, size, nil, readErr(err)
		}
		if hdr[len(segmentMagic)] == segmentVersion && size >= int64(segmentHeaderSize) {
			if _, err := io.ReadFull(r.br, hdr[segmentHeaderSizeV1:]); err != nil {
				return 0, size, nil, readErr(err)
			}
		}
	}
	hn, bind, torn, herr := parseSegmentHeader(hdr[:], size, seg)
	if herr != nil {
		return 0, size, &damage{err: herr, torn: torn}, nil
	}
	r.bind = bind
	off = int64(hn)
	for off < size {
		if size-off < recordHeaderSize {
			return off, size, &damage{err: errShortRecordHeader, torn: true, record: true}, nil
		}
		if _, err := io.ReadFull(r.br, hdr[:recordHeaderSize]); err != nil {
			return off, size, nil, readErr(err)
		}
		length := int64(binary.LittleEndian.Uint32(hdr[0:4]))
		sum := binary.LittleEndian.Uint32(hdr[4:8])
		end := off + recordHeaderSize + length
		switch {
		case length == 0:
			return off, size, &damage{err: errZeroLength, torn: true, record: true}, nil
		case end > size:
			return off, size, &damage{err: errPastEnd, torn: true, record: true}, nil
		case length > MaxRecordSize:
			return off, size, &damage{err: errTooLarge, torn: true, record: true}, nil
		}
		if int64(cap(r.buf)) < length {
			r.buf = make([]byte, length)
		}
		payload := r.buf[:length]
		if _, err := io.ReadFull(r.br, payload); err != nil {
			return off, size, nil, readErr(err)
		}
		if crc32.Checksum(payload, castagnoli)^r.bind.key(off) != sum {
			return off, size, &damage{err: errChecksum, torn: true, record: true}, nil
		}
		if err := fn(seg, payload); err != nil {
			return off, size, nil, fmt.Errorf("replay segment %d offset %d: %w", seg, off, err)
		}
		off = end
	}
	return off, size, nil, nil
}

// truncateAt applies RecoverTruncate to the corruption ce: it cuts segment
// ce.Segment at ce.Offset (removing it if the offset is 0) and removes the
// later segments, then logs at error level what was dropped. removed says
// the damaged segment itself was removed.
func (r *replayer) truncateAt(w *WAL, ce *CorruptionError, later []uint64) (removed bool, err error) {
	path := filepath.Join(w.dir, segmentName(ce.Segment))
	f, err := w.fs.Open(path)
	if err != nil {
		return false, fmt.Errorf("open segment %d: %w", ce.Segment, err)
	}
	fi, err := f.Stat()
	var records int
	if err == nil {
		_, bind := readBinding(f, fi.Size(), ce.Segment)
		_, records, _, err = scanValid(f, bind, ce.Offset+1, fi.Size(), false)
		if errors.Is(err, errScanBudget) {
			records, err = -1, nil // unknown
		}
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return false, fmt.Errorf("read segment %d: %w", ce.Segment, err)
	}
	if err := w.dropAfter(ce, later, fi.Size()-ce.Offset, records); err != nil {
		return false, err
	}
	return ce.Offset == 0, w.cut(ce.Segment, ce.Offset)
}

// dropAfter removes the segments later, newest first so that a crash leaves
// the rest contiguous, and logs at error level the corruption ce that made
// RecoverTruncate drop them, with bytes and records dropped from the damaged
// segment itself added to theirs.
func (w *WAL) dropAfter(ce *CorruptionError, later []uint64, bytes int64, records int) error {
	unknown := records < 0
	for _, s := range later {
		path := filepath.Join(w.dir, segmentName(s))
		f, err := w.fs.Open(path)
		if err != nil {
			return fmt.Errorf("open segment %d: %w", s, err)
		}
		fi, err := f.Stat()
		var n int
		if err == nil {
			bytes += fi.Size()
			hn, bind := readBinding(f, fi.Size(), s)
			_, n, _, err = scanValid(f, bind, hn, fi.Size(), false)
			if errors.Is(err, errScanBudget) {
				n, err = 0, nil // unknown; counted as -1 below
				unknown = true
			}
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("read segment %d: %w", s, err)
		}
		records += n
	}
	if unknown {
		records = -1 // some segment had too many candidates to count
	}
	w.logger.Error("wal: corruption; truncating the wal there as wal recovery=truncate says",
		"segment", ce.Segment, "offset", ce.Offset, "reason", ce.Err.Error(),
		"dropped_bytes", bytes, "dropped_records", records, "dropped_segments", len(later))
	for i := len(later) - 1; i >= 0; i-- {
		if err := w.fs.Remove(filepath.Join(w.dir, segmentName(later[i]))); err != nil {
			return fmt.Errorf("remove segment %d: %w", later[i], err)
		}
	}
	if len(later) > 0 && w.opts.Sync == SyncAlways {
		if err := syncDir(w.fs, w.dir); err != nil {
			return fmt.Errorf("remove segments: %w", err)
		}
	}
	return nil
}

// cutTail repairs the torn tail of the last segment seg, which is size bytes
// long and intact up to off, and logs a warning saying why.
func (w *WAL) cutTail(seg uint64, off, size int64, why error) error {
	w.logger.Warn("wal: cutting torn tail of last segment",
		"segment", seg, "offset", off, "dropped", size-off, "reason", why.Error())
	return w.cut(seg, off)
}

// cut truncates segment seg at off, or removes it if off is 0.
func (w *WAL) cut(seg uint64, off int64) error {
	path := filepath.Join(w.dir, segmentName(seg))
	sync := w.opts.Sync == SyncAlways
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

// readBinding returns the header size and the binding of segment seg, whose
// file f is size bytes long, for counting the records RecoverTruncate
// drops. A damaged header counts by the version 1 rule.
func readBinding(f vfs.File, size int64, seg uint64) (int64, binding) {
	var hdr [segmentHeaderSize]byte
	n, _ := f.ReadAt(hdr[:min(size, int64(len(hdr)))], 0)
	hn, b, _, err := parseSegmentHeader(hdr[:], int64(n), seg)
	switch {
	case err == nil:
		return int64(hn), b
	case n == segmentHeaderSize && hdr[len(segmentMagic)] == segmentVersion:
		// A damaged magic or header checksum: the salt is likely intact.
		return int64(segmentHeaderSize), binding{v2: true, salt: binary.LittleEndian.Uint32(hdr[segmentHeaderSizeV1:]), seg: seg}
	default:
		return int64(segmentHeaderSizeV1), binding{}
	}
}
