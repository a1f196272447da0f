package wal

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/soltixdb/soltix/storage/vfs"
	"github.com/soltixdb/soltix/storage/vfs/errorfs"
)

// garbage returns n non-zero bytes that frame no record: every 4 bytes read
// as a length exceed what follows them.
func garbage(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(0xA0 + i%7)
	}
	return b
}

// overwriteFrom replaces the file's bytes from off to its end with b (the
// file keeps at least its length).
func overwriteFrom(off int64, b func(n int) []byte) mutation {
	return editBytes(func(buf []byte) { copy(buf[off:], b(len(buf)-int(off))) })
}

// appendBytes appends b to the file.
func appendBytes(b []byte) mutation {
	return func(t *testing.T, path string) {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Write(b); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// damageCase is one kind of damage and what Replay must make of it.
type damageCase struct {
	name string
	seg  uint64       // segment the mutation damages
	mut  mutation     // damage written to the file, or nil
	rule errorfs.Rule // damage seen through the filesystem, if Op is set
	// torn says Replay cuts a tail and succeeds with keep records; otherwise
	// it reports corruption at (seg, off) and, under RecoverTruncate, keeps
	// the keep records before it and drops dropped intact ones.
	torn    bool
	keep    int
	off     int64
	dropped int
}

// damageCases covers every kind of damage in the last segment, followed or
// not by intact records, and in an earlier segment.
func damageCases(all []entry) []damageCase {
	last := uint64(baseSegs)
	firstOfLast := len(all) - basePerSeg
	rec := func(seg uint64, i int) int64 { return recordOffset(all, seg, i) }
	recLen := func(seg uint64, i int) int { return len(all[int(seg-1)*basePerSeg+i].rec) }
	end := rec(last, basePerSeg) // the end of the last segment
	return []damageCase{
		// Torn tails: nothing intact follows the damage.
		{name: "torn tail: partial last record", seg: last, mut: truncateTo(rec(last, 3) + 5), torn: true, keep: len(all) - 1},
		{name: "torn tail: partial record header", seg: last, mut: truncateTo(rec(last, 3) + 3), torn: true, keep: len(all) - 1},
		{name: "torn tail: zero-filled tail", seg: last, mut: appendZeros(4096), torn: true, keep: len(all)},
		{name: "torn tail: last two records zeroed", seg: last, mut: overwriteFrom(rec(last, 2), func(n int) []byte { return make([]byte, n) }), torn: true, keep: len(all) - 2},
		{name: "torn tail: garbage after the last record", seg: last, mut: appendBytes(garbage(300)), torn: true, keep: len(all)},
		{name: "torn tail: bad CRC mid-segment, garbage behind", seg: last, mut: func(t *testing.T, p string) {
			flipBit(rec(last, 1)+4, 3)(t, p)
			overwriteFrom(rec(last, 2), garbage)(t, p)
		}, torn: true, keep: firstOfLast + 1},
		{name: "torn tail: bad CRC of the last record, periodic bytes behind", seg: last, mut: func(t *testing.T, p string) {
			flipBit(rec(last, 3)+4, 1)(t, p)
			appendBytes(periodic(1<<20, 1))(t, p) // every offset a header of 16 MiB
		}, torn: true, keep: len(all) - 1},
		{name: "torn tail: bad CRC of the last record, period-8 headers behind", seg: last, mut: func(t *testing.T, p string) {
			flipBit(rec(last, 3)+4, 1)(t, p)
			appendBytes(periodic(1<<20, 1, 0, 0, 0, 0, 0, 0, 0))(t, p)
		}, torn: true, keep: len(all) - 1},
		{name: "torn tail: length past end of the last record", seg: last, mut: setLength(rec(last, 3), 1<<20), torn: true, keep: len(all) - 1},
		{name: "torn tail: lowered length of the last record", seg: last, mut: setLength(rec(last, 3), uint32(recLen(last, 3)-2)), torn: true, keep: len(all) - 1},
		{name: "torn tail: zero length of the last record", seg: last, mut: setLength(rec(last, 3), 0), torn: true, keep: len(all) - 1},
		{name: "torn tail: length above maximum, zeros behind", seg: last, mut: func(t *testing.T, p string) {
			setLength(rec(last, 3), MaxRecordSize+1)(t, p)
			truncateTo(rec(last, 3)+recordHeaderSize+MaxRecordSize+10)(t, p) // sparse
		}, torn: true, keep: len(all) - 1},
		{name: "torn tail: segment header torn", seg: last, mut: truncateTo(3), torn: true, keep: firstOfLast},

		// Corruption: intact records follow the damage.
		{name: "bad CRC mid-segment, periodic bytes and a record behind", seg: last, mut: func(t *testing.T, p string) {
			flipBit(rec(last, 3)+4, 1)(t, p)
			tail := periodic(1<<20, 1)
			copy(tail[1<<19:], recordAt(fileBinding(t, p, last), end+1<<19, []byte("acknowledged")))
			clear(tail[1<<19+20 : 1<<19+28])
			appendBytes(tail)(t, p)
		}, keep: len(all) - 1, off: rec(last, 3), dropped: 1},
		{name: "bad CRC mid-segment", seg: last, mut: flipBit(rec(last, 1)+5, 2), keep: firstOfLast + 1, off: rec(last, 1), dropped: 2},
		{name: "bad payload mid-segment", seg: last, mut: flipBit(rec(last, 1)+recordHeaderSize+2, 6), keep: firstOfLast + 1, off: rec(last, 1), dropped: 2},
		{name: "lowered length mid-segment", seg: last, mut: setLength(rec(last, 1), uint32(recLen(last, 1)-3)), keep: firstOfLast + 1, off: rec(last, 1), dropped: 2},
		{name: "raised length mid-segment", seg: last, mut: setLength(rec(last, 0), uint32(recLen(last, 0)+5)), keep: firstOfLast, off: rec(last, 0), dropped: 3},
		{name: "length past end with records behind", seg: last, mut: setLength(rec(last, 1), uint32(end)), keep: firstOfLast + 1, off: rec(last, 1), dropped: 2},
		{name: "length far past end with records behind", seg: last, mut: setLength(rec(last, 0), 0xFFFFFFF0), keep: firstOfLast, off: rec(last, 0), dropped: 3},
		{name: "zero length mid-segment", seg: last, mut: setLength(rec(last, 2), 0), keep: firstOfLast + 2, off: rec(last, 2), dropped: 1},
		{name: "zeroed record mid-segment", seg: last, mut: editBytes(func(b []byte) { clear(b[rec(last, 1):rec(last, 2)]) }), keep: firstOfLast + 1, off: rec(last, 1), dropped: 2},
		{name: "bad CRC seen through the filesystem", seg: last, rule: errorfs.Rule{Op: errorfs.OpRead, Path: segGlob(last), FlipBitAt: 8 * (rec(last, 0) + 6)}, keep: firstOfLast, off: rec(last, 0), dropped: 3},
		{name: "bad magic of the last segment", seg: last, mut: flipBit(1, 1), keep: firstOfLast, off: 0, dropped: 4},

		// Corruption in an earlier segment, whatever follows it there.
		{name: "bad CRC in the first segment", seg: 1, mut: flipBit(rec(1, 2)+4, 0), keep: 2, off: rec(1, 2), dropped: 1 + 2*basePerSeg},
		{name: "partial record at the end of the first segment", seg: 1, mut: truncateTo(rec(1, 3) + 4), keep: 3, off: rec(1, 3), dropped: 2 * basePerSeg},
		{name: "zero-filled tail of the middle segment", seg: 2, mut: appendZeros(64), keep: 2 * basePerSeg, off: rec(2, basePerSeg), dropped: basePerSeg},
		{name: "length past end in the middle segment", seg: 2, mut: setLength(rec(2, 3), 1000), keep: basePerSeg + 3, off: rec(2, 3), dropped: basePerSeg},
		{name: "missing middle segment", seg: 2, mut: func(t *testing.T, p string) {
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
		}, keep: basePerSeg, off: 0, dropped: basePerSeg},
	}
}

// damagedCopy returns a copy of the base WAL with tt's damage, and the FS to
// open it with.
func damagedCopy(t *testing.T, base string, tt damageCase) (string, vfs.FS) {
	t.Helper()
	dir := copyDir(t, base)
	if tt.mut != nil {
		tt.mut(t, filepath.Join(dir, segmentName(tt.seg)))
	}
	fs := errorfs.New(vfs.Default)
	if tt.rule.Op != 0 {
		fs.Inject(tt.rule)
	}
	return dir, fs
}

// TestReplayDamage checks the rule of docs/format-wal.md: damage in the last
// segment after which no intact record follows is a torn tail, cut with a
// warning; damage followed by an intact record, or in an earlier segment, is
// a *CorruptionError naming segment and offset, and changes no file.
func TestReplayDamage(t *testing.T) {
	base := t.TempDir()
	all := buildBase(t, base)
	for _, tt := range damageCases(all) {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir, fs := damagedCopy(t, base, tt)
			path := filepath.Join(dir, segmentName(tt.seg))
			before := fileState(t, path)
			var logs logBuffer
			w, got, err := replayAll(t, dir, faultOptions(&logs, SyncNever, fs))
			if !tt.torn {
				var ce *CorruptionError
				if !errors.As(err, &ce) || ce.Segment != tt.seg || ce.Offset != tt.off {
					t.Fatalf("Replay: got %v, want a *CorruptionError at segment %d offset %d", err, tt.seg, tt.off)
				}
				if !strings.Contains(err.Error(), fmt.Sprintf("segment %d at offset %d", tt.seg, tt.off)) {
					t.Errorf("error %q does not name segment %d and offset %d", err, tt.seg, tt.off)
				}
				if after := fileState(t, path); after != before {
					t.Errorf("Replay changed the damaged segment %d", tt.seg)
				}
				if log := logs.String(); strings.Contains(log, "level=WARN") {
					t.Errorf("log: got %q, want no warning", log)
				}
				return
			}
			if err != nil {
				t.Fatalf("Replay: got %v, want the torn tail cut", err)
			}
			if want := all[:tt.keep]; !slices.Equal(got, want) {
				t.Fatalf("Replay:\ngot  %v\nwant %v", records(got), records(want))
			}
			if log := logs.String(); !strings.Contains(log, "level=WARN") || !strings.Contains(log, fmt.Sprintf("segment=%d", tt.seg)) {
				t.Errorf("log: got %q, want a warning naming segment=%d", log, tt.seg)
			}
			seg := mustAppend(t, w, "after repair")
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			logs = logBuffer{}
			_, got, err = replayAll(t, dir, testOptions(&logs, SyncNever))
			if want := append(slices.Clone(all[:tt.keep]), entry{seg, "after repair"}); err != nil || !slices.Equal(got, want) {
				t.Fatalf("Replay after repair: got %v, %v, want %v", records(got), err, records(want))
			}
			if log := logs.String(); log != "" {
				t.Errorf("log of replay after repair: got %q, want nothing", log)
			}
		})
	}
}

// TestReplayRecoverTruncate checks the operator's escape hatch: under
// RecoverTruncate every corruption TestReplayDamage refuses is cut, with the
// records before it kept, the later segments removed and an error logged
// naming the bytes and records dropped; the WAL then works and reopens
// cleanly in strict mode.
func TestReplayRecoverTruncate(t *testing.T) {
	base := t.TempDir()
	all := buildBase(t, base)
	for _, tt := range damageCases(all) {
		if tt.torn {
			continue
		}
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir, fs := damagedCopy(t, base, tt)
			var logs logBuffer
			opts := faultOptions(&logs, SyncAlways, fs)
			opts.Recovery = RecoverTruncate
			w, got, err := replayAll(t, dir, opts)
			if err != nil {
				t.Fatalf("Replay with RecoverTruncate: %v", err)
			}
			if want := all[:tt.keep]; !slices.Equal(got, want) {
				t.Fatalf("Replay:\ngot  %v\nwant %v", records(got), records(want))
			}
			log := logs.String()
			for _, want := range []string{"level=ERROR", fmt.Sprintf("segment=%d", tt.seg), fmt.Sprintf("offset=%d", tt.off), fmt.Sprintf("dropped_records=%d", tt.dropped), "dropped_bytes="} {
				if !strings.Contains(log, want) {
					t.Errorf("log: got %q, want it to contain %q", log, want)
				}
			}
			segs, err := listSegments(vfs.Default, dir)
			if err != nil {
				t.Fatal(err)
			}
			for i := 1; i < len(segs); i++ {
				if segs[i] != segs[i-1]+1 {
					t.Errorf("segments after truncation: %v, want contiguous", segs)
				}
			}
			seg := mustAppend(t, w, "after truncate")
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			logs = logBuffer{}
			_, got, err = replayAll(t, dir, testOptions(&logs, SyncNever))
			if want := append(slices.Clone(all[:tt.keep]), entry{seg, "after truncate"}); err != nil || !slices.Equal(got, want) {
				t.Fatalf("strict Replay after truncation: got %v, %v, want %v", records(got), err, records(want))
			}
			if log := logs.String(); log != "" {
				t.Errorf("log of strict replay after truncation: got %q, want nothing", log)
			}
		})
	}
}

// fileBinding returns the binding of segment seg, whose file is path.
func fileBinding(t *testing.T, path string, seg uint64) binding {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	_, bind, _, err := parseSegmentHeader(b, int64(len(b)), seg)
	if err != nil {
		t.Fatal(err)
	}
	return bind
}
