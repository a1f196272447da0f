package backup

import (
	"bytes"
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
	})
}
