package backup

import (
	"bytes"
	"path"
	"slices"
	"strings"
	"testing"
)

// FuzzDecodeManifest feeds decodeManifest arbitrary bytes (a server's
// answer, a backup directory's file): it must not panic, and a manifest it
// accepts names no file outside the backup directory.
func FuzzDecodeManifest(f *testing.F) {
	for _, s := range []string{
		`{"version":1,"num_groups":4,"shard_tag":"device_id","groups":[{"group":1,"files":[{"path":"manifest.json","size":10,"crc32c":1},{"path":"collections/cpu/group_0001/000001.col","size":5,"crc32c":2}]}],"settings":{}}`,
		`{"version":1,"num_groups":4,"groups":[{"group":1,"files":[{"path":"manifest.json","size":1},{"path":"../x","size":1}]}]}`,
		`{"version":1,"num_groups":4,"groups":[{"group":9,"files":[]}]}`,
		`{"version":1,"num_groups":4,"groups":[{"group":1,"files":[{"path":"manifest.json","size":1}]}],"cluster":{"groups":[{"group":1,"primary":"s1","epoch":3}]}}`,
		`{"version":1,"num_groups":4,"groups":[{"group":2,"files":[{"path":"manifest.json","size":1}]}],"cluster":{"groups":[{"group":1},{"group":1}]}}`,
		`{"version":2}`, `[]`, ``, `{"version":1,"num_groups":1,"groups":[{"group":0,"files":[{"path":"/etc/passwd","size":1}]}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeManifest(bytes.NewReader(b))
		if err != nil {
			return
		}
		for _, g := range m.Groups {
			if g.Group < 0 || g.Group >= m.NumGroups {
				t.Fatalf("accepted group %d of %d", g.Group, m.NumGroups)
			}
			for _, file := range g.Files {
				if _, err := localPath("/backup", g.Group, file.Path); err != nil {
					t.Fatalf("accepted path %q: %v", file.Path, err)
				}
			}
		}
		if m.Cluster != nil {
			for _, c := range m.Cluster.Groups {
				if c.Group < 0 || c.Group >= m.NumGroups {
					t.Fatalf("accepted cluster group %d of %d", c.Group, m.NumGroups)
				}
			}
		}
	})
}

// FuzzParseGroups feeds ParseGroups arbitrary lists (a request's groups=
// parameter): it must not panic, and a list it accepts has no repeats,
// only groups in range, and formats back to a list it reads the same.
func FuzzParseGroups(f *testing.F) {
	for _, s := range []string{"3,7", "0", "", ",", "1,1", "-1", "99999999999999999999", " 2, 5", "1,,2", "a", "7"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		gs, err := ParseGroups(s, 8)
		if err != nil {
			return
		}
		seen := map[int]bool{}
		for _, g := range gs {
			if g < 0 || g >= 8 || seen[g] {
				t.Fatalf("%q: accepted group %d (or twice)", s, g)
			}
			seen[g] = true
		}
		again, err := ParseGroups(FormatGroups(gs), 8)
		if err != nil || !slices.Equal(again, gs) {
			t.Fatalf("%q: %v formats to %q, read back as %v, %v", s, gs, FormatGroups(gs), again, err)
		}
	})
}

// FuzzParseS3 feeds ParseS3 arbitrary locations: it must not panic, and
// an accepted one has a bucket and a clean prefix.
func FuzzParseS3(f *testing.F) {
	for _, s := range []string{"s3://b/p", "s3://b", "s3:///p", "s3://b/../x", "s3://b//x", "s3://b/a/b/", "/dir", "s3://b/./x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, p, err := ParseS3(s)
		if err != nil {
			return
		}
		if b == "" || strings.Contains(b, "/") {
			t.Fatalf("%q: bucket %q", s, b)
		}
		if p != "" && (path.Clean(p) != p || strings.HasPrefix(p, "/") || p == ".." || strings.HasPrefix(p, "../")) {
			t.Fatalf("%q: prefix %q", s, p)
		}
	})
}
