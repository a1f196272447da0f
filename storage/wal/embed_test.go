package wal

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestEmbeddedRecordIsNotIntact: a client may write a payload whose bytes
// are a whole record (header and CRC) followed by zeros. When a crash tears
// the record carrying it after those bytes, the scan after the damage must
// not take the copy for an intact record: the tail is torn, replay starts
// and loses only the torn record. In a version 1 segment (no position in
// the checksum) the copy still passes, and replay refuses as it always did.
func TestEmbeddedRecordIsNotIntact(t *testing.T) {
	base := t.TempDir()
	w, _, err := replayAll(t, base, testOptions(nil, SyncAlways))
	if err != nil {
		t.Fatal(err)
	}
	seg1 := []string{"first record of segment one", "second record of segment one"}
	for _, r := range seg1 {
		mustAppend(t, w, r)
	}
	if _, err := w.Rotate(); err != nil {
		t.Fatal(err)
	}
	seg2 := []string{"first record of segment two", "second record of segment two"}
	for _, r := range seg2 {
		mustAppend(t, w, r)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	read := func(seg uint64) []byte {
		b, err := os.ReadFile(filepath.Join(base, segmentName(seg)))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	s1, s2 := read(1), read(2)
	// The bytes of record i of a segment, as written.
	recAt := func(b []byte, i int, recs []string) []byte {
		off := len(b)
		for _, r := range recs {
			off -= recordHeaderSize + len(r)
		}
		for _, r := range recs[:i] {
			off += recordHeaderSize + len(r)
		}
		return slices.Clone(b[off : off+recordHeaderSize+len(recs[i])])
	}
	plain := appendRecord(nil, []byte("a record framed without its position"))
	copies := []struct {
		name string
		rec  []byte
	}{
		{"record framed without position", plain},
		{"copy of a record of another segment", recAt(s1, 1, seg1)},
		{"copy of an earlier record of the same segment", recAt(s2, 0, seg2)},
		{"copy of the previous record", recAt(s2, 1, seg2)},
	}
	for _, c := range copies {
		for _, lead := range []int{0, 1, 3, 8, 13, 64} {
			t.Run(fmt.Sprintf("%s at payload offset %d", c.name, lead), func(t *testing.T) {
				dir := t.TempDir()
				if err := os.WriteFile(filepath.Join(dir, segmentName(1)), s1, 0o644); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, segmentName(2)), s2, 0o644); err != nil {
					t.Fatal(err)
				}
				w, _, err := replayAll(t, dir, testOptions(nil, SyncAlways))
				if err != nil {
					t.Fatal(err)
				}
				hostile := make([]byte, lead+len(c.rec)+4096)
				for i := range lead {
					hostile[i] = 'h'
				}
				copy(hostile[lead:], c.rec)
				mustAppend(t, w, "acknowledged before the hostile record")
				mustAppend(t, w, string(hostile))
				if err := w.Close(); err != nil {
					t.Fatal(err)
				}
				// The crash tears the hostile record inside its zeros.
				path := filepath.Join(dir, segmentName(3))
				fi, err := os.Stat(path)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.Truncate(path, fi.Size()-2048); err != nil {
					t.Fatal(err)
				}
				_, got, err := replayAll(t, dir, testOptions(nil, SyncAlways))
				if err != nil {
					t.Fatalf("strict replay: %v, want the torn hostile record cut", err)
				}
				want := append(append(slices.Clone(seg1), seg2...), "acknowledged before the hostile record")
				if !slices.Equal(records(got), want) {
					t.Errorf("replayed %q, want %q", records(got), want)
				}
			})
		}
	}

	// Version 1: the checksum covers the payload only, so a copy at another
	// offset is intact and the damage before it is corruption, as before.
	t.Run("version 1 segment keeps refusing", func(t *testing.T) {
		dir := t.TempDir()
		b := []byte("SLTXWAL\x01")
		b = appendRecord(b, []byte("acknowledged"))
		off := int64(len(b))
		hostile := make([]byte, 5+len(plain)+4096)
		copy(hostile[5:], plain)
		b = appendRecord(b, hostile)
		b = b[:len(b)-2048]
		if err := os.WriteFile(filepath.Join(dir, segmentName(1)), b, 0o644); err != nil {
			t.Fatal(err)
		}
		_, got, err := replayAll(t, dir, testOptions(nil, SyncAlways))
		var ce *CorruptionError
		if !errors.As(err, &ce) || ce.Segment != 1 || ce.Offset != off {
			t.Fatalf("replay: %v, want corruption in segment 1 at offset %d", err, off)
		}
		if !slices.Equal(records(got), []string{"acknowledged"}) {
			t.Errorf("replayed %q before the corruption, want [acknowledged]", records(got))
		}
	})
}
