package wal

import (
	"bytes"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// unhex decodes the space-separated hex bytes s.
func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// goldenV1 is a version 1 segment holding "abc" and "hello", as version 1
// wrote it (docs/format-wal.md): the CRCs cover the payloads only.
const goldenV1 = "53 4C 54 58 57 41 4C 01" +
	" 03 00 00 00 B7 3F 4B 36 61 62 63" +
	" 05 00 00 00 4C BB 71 9A 68 65 6C 6C 6F"

// goldenV2 is segment 2 of version 2 with salt 0x5EED1234 holding "abc" at
// offset 16 and "hello" at offset 27: each CRC is the payload's xored with
// the key of the segment, salt and offset.
const goldenV2 = "53 4C 54 58 57 41 4C 02 34 12 ED 5E D0 97 40 E5" +
	" 03 00 00 00 EE F9 A7 03 61 62 63" +
	" 05 00 00 00 9F 59 C2 4D 68 65 6C 6C 6F"

// TestGoldenSegments checks that this version writes version 2 segments
// byte for byte as documented and still replays version 1 segments.
func TestGoldenSegments(t *testing.T) {
	b := appendSegmentHeader(nil, 0x5EED1234)
	bind := binding{v2: true, salt: 0x5EED1234, seg: 2}
	for _, p := range []string{"abc", "hello"} {
		b = append(b, recordAt(bind, int64(len(b)), []byte(p))...)
	}
	if want := unhex(t, goldenV2); !bytes.Equal(b, want) {
		t.Errorf("version 2 segment:\n got % X\nwant % X", b, want)
	}
	if got := appendRecord(nil, []byte("abc")); !bytes.Equal(got, unhex(t, goldenV1)[8:19]) {
		t.Errorf("version 1 framing of abc: got % X", got)
	}
	for _, tt := range []struct {
		name string
		segs map[uint64]string
	}{
		{"version 1", map[uint64]string{1: goldenV1, 2: goldenV1}},
		{"version 2", map[uint64]string{2: goldenV2}},
		{"version 1 then 2 (after an upgrade)", map[uint64]string{1: goldenV1, 2: goldenV2}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			var want []entry
			for n, s := range tt.segs {
				if err := os.WriteFile(filepath.Join(dir, segmentName(n)), unhex(t, s), 0o644); err != nil {
					t.Fatal(err)
				}
				want = append(want, entry{n, "abc"}, entry{n, "hello"})
			}
			slices.SortStableFunc(want, func(a, b entry) int { return int(a.seg) - int(b.seg) })
			w, got, err := replayAll(t, dir, testOptions(nil, SyncAlways))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("replayed %v, want %v", got, want)
			}
			// New records go to a version 2 segment 3; all replay.
			if seg := mustAppend(t, w, "after the upgrade"); seg != 3 {
				t.Errorf("appended to segment %d, want 3", seg)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(filepath.Join(dir, segmentName(3)))
			if err != nil {
				t.Fatal(err)
			}
			if b[len(segmentMagic)] != segmentVersion {
				t.Errorf("new segment has version %d, want %d", b[len(segmentMagic)], segmentVersion)
			}
			_, got, err = replayAll(t, dir, testOptions(nil, SyncAlways))
			if err != nil {
				t.Fatal(err)
			}
			if want := append(want, entry{3, "after the upgrade"}); !slices.Equal(got, want) {
				t.Errorf("replayed %v, want %v", got, want)
			}
		})
	}
}

// TestRecordBoundToPosition checks that a version 2 record passes only at
// the offset, in the segment and under the salt it was framed for.
func TestRecordBoundToPosition(t *testing.T) {
	b := binding{v2: true, salt: 1, seg: 1}
	seen := map[uint32]int64{}
	for off := int64(segmentHeaderSize); off < 1<<16; off++ {
		k := b.key(off)
		if prev, ok := seen[k]; ok {
			t.Fatalf("offsets %d and %d share the key %#x", prev, off, k)
		}
		seen[k] = off
		for _, other := range []binding{{v2: true, salt: 1, seg: 2}, {v2: true, salt: 2, seg: 1}, {}} {
			if other.key(off) == k {
				t.Fatalf("offset %d: binding %+v has the key of %+v", off, other, b)
			}
		}
	}
}

// FuzzScan checks the scan after damage against checking every offset's
// bound checksum, for version 1 and version 2 segments. The seeds run in
// go test.
func FuzzScan(f *testing.F) {
	f.Add(unhex(f, goldenV2), uint32(0x5EED1234), uint64(2), true, uint8(1))
	f.Add(unhex(f, goldenV1), uint32(0), uint64(1), false, uint8(1))
	f.Add(append(unhex(f, goldenV2)[:30], unhex(f, goldenV2)[16:]...), uint32(0x5EED1234), uint64(2), true, uint8(17))
	f.Add(append(periodic(300, 1, 0, 0, 0), unhex(f, goldenV2)...), uint32(7), uint64(3), true, uint8(0))
	f.Add(periodic(500, 3, 0, 0, 0, 0, 0, 0, 0), uint32(7), uint64(3), false, uint8(2))
	f.Fuzz(func(t *testing.T, buf []byte, salt uint32, seg uint64, v2 bool, from uint8) {
		if len(buf) > 1<<14 {
			return
		}
		bind := binding{v2: v2, salt: salt, seg: seg}
		want := bruteScan(buf, bind, int(from), 0)
		at, n, _, err := scanValid(bytes.NewReader(buf), bind, int64(from), int64(len(buf)), true)
		if err != nil {
			t.Fatalf("scanValid: %v", err)
		}
		if n == 0 {
			at = -1
		}
		if at != want {
			t.Fatalf("scanValid found %d, want %d", at, want)
		}
	})
}

// FuzzReplaySegment replays arbitrary bytes as the last segment, after an
// intact one: replay never panics, keeps the first segment's records and
// either succeeds or reports corruption.
func FuzzReplaySegment(f *testing.F) {
	f.Add(unhex(f, goldenV2))
	f.Add(unhex(f, goldenV1))
	f.Add(unhex(f, goldenV2)[:20])
	f.Add(unhex(f, goldenV2)[:12])
	f.Add(append(unhex(f, goldenV2)[:30], make([]byte, 40)...))
	f.Fuzz(func(t *testing.T, seg2 []byte) {
		if len(seg2) > 1<<14 {
			return
		}
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, segmentName(1)), unhex(t, goldenV1), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, segmentName(2)), seg2, 0o644); err != nil {
			t.Fatal(err)
		}
		_, got, err := replayAll(t, dir, testOptions(nil, SyncNever))
		var ce *CorruptionError
		if err != nil && !errors.As(err, &ce) {
			t.Fatalf("replay: %v, want nil or a *CorruptionError", err)
		}
		if len(got) < 2 || got[0] != (entry{1, "abc"}) || got[1] != (entry{1, "hello"}) {
			t.Fatalf("replayed %v, want segment 1's records first", got)
		}
	})
}
