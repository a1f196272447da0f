package storage

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/storage/vfs"
)

// replaceWith removes the file or directory p and puts an entry of
// another kind in its place: "dir" (an empty directory), "file" (a
// regular file), "fifo" (a named pipe, which would block an open for
// reading) or "dangling" (a symbolic link to nothing).
func replaceWith(t *testing.T, p, kind string) {
	t.Helper()
	if err := os.RemoveAll(p); err != nil {
		t.Fatal(err)
	}
	var err error
	switch kind {
	case "dir":
		err = os.Mkdir(p, 0o755)
	case "file":
		err = os.WriteFile(p, []byte("not a directory\n"), 0o644)
	case "fifo":
		err = syscall.Mkfifo(p, 0o644)
	case "dangling":
		err = os.Symlink(filepath.Join(filepath.Dir(p), "nothing-here"), p)
	default:
		t.Fatalf("replaceWith: unknown kind %q", kind)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// TestEngineDirectoryOfWrongKindIsQuarantined replaces a directory the
// engine keeps below collections/ (a collection's, a group's, a rollup
// level's) with a regular file. Before, Open skipped it silently: the
// collection's data read as "no data" or "not found" while /ready said
// ready. Now the entry is quarantined like a damaged file: the node
// starts, reports it, serves everything else, and fails what needs it;
// a rollup level is rebuilt from raw data instead.
func TestEngineDirectoryOfWrongKindIsQuarantined(t *testing.T) {
	cases := []struct {
		name       string
		rel        func(dir string) string // the directory to replace
		rebuilding bool                    // derived data: rebuilt, no read fails
	}{
		{name: "collection directory", rel: func(dir string) string {
			return filepath.Join(dir, collectionsDir, collDirName("c"))
		}},
		{name: "group directory", rel: func(dir string) string {
			return filepath.Join(dir, collectionsDir, collDirName("c"), "group_0000")
		}},
		{name: "rollup level directory", rel: func(dir string) string {
			return filepath.Join(dir, collectionsDir, collDirName("c"), "group_0000", "rollup_1d")
		}, rebuilding: true},
	}
	for _, tc := range cases {
		for _, kind := range []string{"file", "fifo"} {
			t.Run(tc.name+" as "+kind, func(t *testing.T) {
				dir, _ := quarantineWorld(t)
				victim := tc.rel(dir)
				rel, _ := filepath.Rel(dir, victim)
				want := filepath.ToSlash(filepath.Join(quarantineDir, rel))
				replaceWith(t, victim, kind)

				check := func(db *DB, again bool) {
					t.Helper()
					q := db.Quarantined()
					if len(q) != 1 || q[0].Path != want || q[0].Collection != "c" || q[0].Rebuilding != tc.rebuilding || q[0].Reason == "" {
						t.Fatalf("Quarantined = %+v, want %s of c (rebuilding %v)", q, want, tc.rebuilding)
					}
					if again && q[0].Reason != foundInQuarantine {
						t.Errorf("reason after a restart %q", q[0].Reason)
					}
					if got := readAll(t, db, "other", model.Tags{{Key: "device_id", Value: "d1"}}, "n")["n"]; len(got) != 1 {
						t.Fatalf("collection other: %v", got)
					}
					for _, rawOnly := range []bool{true, false} {
						res, err := queryErr(db, "SELECT count(n) FROM c WHERE time >= '2026-03-01' AND time < '2026-03-03' GROUP BY 1d", rawOnly)
						if tc.rebuilding {
							if err != nil || rowsString(res) != "[[2026-03-01T00:00:00Z 2880] [2026-03-02T00:00:00Z 2880]]" {
								t.Errorf("rawOnly=%v: %v, %v, want both days counted", rawOnly, rowsString(res), err)
							}
							continue
						}
						var qe *QuarantineError
						if !errors.As(err, &qe) || !strings.Contains(err.Error(), want) {
							t.Errorf("rawOnly=%v: query of c = %v, %v, want a *QuarantineError naming %s", rawOnly, rowsString(res), err, want)
						}
					}
				}
				db := openFS(t, dir, vfs.Default, Options{NumGroups: 1})
				if _, err := os.Lstat(filepath.Join(dir, filepath.FromSlash(want))); err != nil {
					t.Fatalf("entry not in quarantine: %v", err)
				}
				check(db, false)
				if err := db.Close(); err != nil {
					t.Fatal(err)
				}
				db = openFS(t, dir, vfs.Default, Options{NumGroups: 1})
				defer db.Close()
				if !tc.rebuilding {
					check(db, true)
					return
				}
				// The next flush rebuilds the level and ends the quarantine.
				if err := db.Flush(context.Background()); err != nil {
					t.Fatal(err)
				}
				if q := db.Quarantined(); len(q) != 0 {
					t.Fatalf("Quarantined after the rebuild = %+v", q)
				}
				if left := dirFiles(t, filepath.Join(dir, quarantineDir)); len(left) != 0 {
					t.Errorf("quarantine after the rebuild holds %v", left)
				}
				if st, err := os.Stat(victim); err != nil || !st.IsDir() {
					t.Errorf("rollup directory after the rebuild: %v, %v", st, err)
				}
			})
		}
	}
}
