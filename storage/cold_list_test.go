package storage

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"
	"time"

	"github.com/soltixdb/soltix/model"
)

func sampleColdList() *coldList {
	return &coldList{id: [8]byte{1, 2, 3, 4, 5, 6, 7, 8}, entries: []coldEntry{
		{Coll: "cpu", Group: 3, Level: model.LevelRaw, Name: "20250301T000000Z-0000000000000042.col", Seq: 42,
			Key: "p/cpu/group_0003/raw/20250301T000000Z-0000000000000042-0102030405060708.col", Size: 12345, Checksum: "AAAAAA=="},
		{Coll: "a/b ~", Group: 0, Level: model.Level1h, Name: "20250301T000000Z-0000000000000050.col", Seq: 50,
			Key: "k", Size: 1, Flags: coldShared},
		{Coll: "x", Group: 15, Level: model.Level1M, Name: "20250101T000000Z-0000000000000051.col", Seq: 51,
			Key: "k2", Size: 99, Flags: coldGone},
	}}
}

func TestColdListRoundTrip(t *testing.T) {
	for _, l := range []*coldList{{}, sampleColdList()} {
		b := appendColdList(nil, l)
		got, err := decodeColdList(b)
		if err != nil {
			t.Fatal(err)
		}
		if got.id != l.id || len(got.entries) != len(l.entries) {
			t.Fatalf("got %+v, want %+v", got, l)
		}
		for i := range l.entries {
			if got.entries[i] != l.entries[i] {
				t.Fatalf("entry %d: got %+v, want %+v", i, got.entries[i], l.entries[i])
			}
		}
	}
}

func TestColdListRejects(t *testing.T) {
	good := appendColdList(nil, sampleColdList())
	reseal := func(b []byte) []byte {
		b = b[:len(b)-4]
		return appendCRC(b)
	}
	for _, tc := range []struct {
		name string
		b    []byte
		err  string
	}{
		{"empty", nil, "too short"},
		{"magic", append([]byte("SOLTIXCX"), good[8:]...), "bad magic"},
		{"version", reseal(append(append([]byte("SOLTIXCL"), 9, 0), good[10:]...)), "version 9"},
		{"checksum", append(bytes.Clone(good[:len(good)-1]), good[len(good)-1]^1), "checksum mismatch"},
		{"truncated", reseal(good[:len(good)-20]), "cold list"},
		{"trailing", reseal(append(bytes.Clone(good[:len(good)-4]), 0, 0, 0, 0, 0)), "trailing"},
		{"count", reseal(append(append(bytes.Clone(good[:18]), 0xff, 0xff, 0xff, 0x0f), good[19:]...)), "entry count"},
		{"order", reseal(swapEntries(good)), "not after"},
		{"path", appendColdList(nil, &coldList{entries: []coldEntry{{Coll: "c", Name: "../x.col", Seq: 1, Key: "k"}}}), "file name"},
		{"no key", appendColdList(nil, &coldList{entries: []coldEntry{{Coll: "c", Name: "x.col", Seq: 1}}}), "no object key"},
		{"flags", appendColdList(nil, &coldList{entries: []coldEntry{{Coll: "c", Name: "x.col", Seq: 1, Key: "k", Flags: 8}}}), "unknown flags"},
	} {
		if _, err := decodeColdList(tc.b); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.err)
		}
	}
}

// appendCRC appends the CRC-32C of b.
func appendCRC(b []byte) []byte {
	return binary.LittleEndian.AppendUint32(b, crc32Checksum(b))
}

// swapEntries encodes the sample list with its first two entries swapped.
func swapEntries([]byte) []byte {
	l := sampleColdList()
	l.entries[0], l.entries[1] = l.entries[1], l.entries[0]
	b := appendColdList(nil, l)
	return append(b[:len(b)-4], 0, 0, 0, 0)
}

func FuzzColdList(f *testing.F) {
	f.Add(appendColdList(nil, sampleColdList()))
	f.Add(appendColdList(nil, &coldList{}))
	f.Add([]byte("SOLTIXCL\x01\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := decodeColdList(b)
		if err != nil {
			return
		}
		// What decodes is canonical: it encodes back to the same bytes,
		// and every entry names a file below its group's directory.
		if again := appendColdList(nil, l); !bytes.Equal(again, b) {
			t.Fatalf("re-encoded differently")
		}
		for _, e := range l.entries {
			if p := e.relPath(); strings.Contains(p, "..") || e.Key == "" {
				t.Fatalf("entry %+v makes path %s", e, p)
			}
		}
	})
}

func FuzzColdStub(f *testing.F) {
	s := &coldStub{size: 100, dataEnd: 60, header: []byte("SOLTIXCF\x03\x00"), tail: bytes.Repeat([]byte{7}, 40)}
	f.Add(appendColdStub(nil, s))
	f.Add([]byte("SOLTIXCI"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := decodeColdStub(b)
		if err != nil {
			return
		}
		if int64(len(s.tail)) != s.size-s.dataEnd || len(s.header) != 10 || s.dataEnd < 10 {
			t.Fatalf("decoded %d/%d bytes for size %d data end %d", len(s.header), len(s.tail), s.size, s.dataEnd)
		}
		if again := appendColdStub(nil, s); !bytes.Equal(again, b) {
			t.Fatalf("re-encoded differently")
		}
	})
}

func TestObjectSpan(t *testing.T) {
	day := int64(24 * 3600 * 1e9)
	for _, tc := range []struct {
		rel string
		l   model.Level
		end string
		ok  bool
	}{
		{"group_0003/raw/20250301T000000Z-0000000000000042-0102030405060708.col", model.LevelRaw, "2025-03-01T23:59:59.999999999Z", true},
		{"group_0003/1h/20250301T000000Z-0000000000000042-0102030405060708.col", model.Level1h, "2025-03-01T23:59:59.999999999Z", true},
		{"group_0003/1d/20250301T000000Z-0000000000000042-01.col", model.Level1d, "2025-03-31T23:59:59.999999999Z", true},
		{"group_0003/1M/20250101T000000Z-1-2.col", model.Level1M, "2025-12-31T23:59:59.999999999Z", true},
		{"group_0003/1y/all-1-2.col", 0, "", false},
		{"group_0003/2h/20250301T000000Z-1-2.col", 0, "", false},
		{"group_0003/raw/x-1-2.col", 0, "", false},
		{"raw/20250301T000000Z-1-2.col", 0, "", false},
		{"group_0003/raw/20250301T000000Z-1-2.txt", 0, "", false},
	} {
		l, end, ok := objectSpan(tc.rel, day)
		if ok != tc.ok || ok && (l != tc.l || fmtNs(end) != tc.end) {
			t.Errorf("%s: %v %s %v", tc.rel, l, fmtNs(end), ok)
		}
	}
}

func fmtNs(ns int64) string { return time.Unix(0, ns).UTC().Format(time.RFC3339Nano) }

func FuzzObjectSpan(f *testing.F) {
	f.Add("group_0003/raw/20250301T000000Z-0000000000000042-0102030405060708.col", int64(3600e9))
	f.Add("group_0003/1M/16770101T000000Z-1-2.col", int64(1))
	f.Fuzz(func(t *testing.T, rel string, width int64) {
		if width <= 0 {
			return
		}
		objectSpan(rel, width)
	})
}
