package vfs

import (
	"errors"
	"io"
	"os"
	"slices"
	"testing"
)

// writeFile creates name with data through fs, syncing the file if sync.
func writeFile(t *testing.T, fs FS, name, data string, sync bool) {
	t.Helper()
	f, err := fs.Create(name)
	if err != nil {
		t.Fatalf("Create(%q): %v", name, err)
	}
	if _, err := f.Write([]byte(data)); err != nil {
		t.Fatalf("Write(%q): %v", name, err)
	}
	if sync {
		if err := f.Sync(); err != nil {
			t.Fatalf("Sync(%q): %v", name, err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatalf("Close(%q): %v", name, err)
	}
}

// readFile returns the contents of name in fs, or "<missing>".
func readFile(t *testing.T, fs FS, name string) string {
	t.Helper()
	f, err := fs.Open(name)
	if errors.Is(err, os.ErrNotExist) {
		return "<missing>"
	}
	if err != nil {
		t.Fatalf("Open(%q): %v", name, err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatalf("ReadAll(%q): %v", name, err)
	}
	return string(b)
}

func mustDo(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// TestCrashableMem checks what survives CrashClone: synced data under synced
// names in directories whose own entries were synced, and nothing else.
func TestCrashableMem(t *testing.T) {
	tests := []struct {
		name string
		do   func(t *testing.T, fs *MemFS)
		want map[string]string // path → contents after the crash
	}{
		{"synced file, synced dir", func(t *testing.T, fs *MemFS) {
			writeFile(t, fs, "/a", "x", true)
			mustDo(t, "SyncDir", fs.SyncDir("/"))
		}, map[string]string{"/a": "x"}},
		{"unsynced data", func(t *testing.T, fs *MemFS) {
			writeFile(t, fs, "/a", "x", false)
			mustDo(t, "SyncDir", fs.SyncDir("/"))
		}, map[string]string{"/a": ""}},
		{"unsynced name", func(t *testing.T, fs *MemFS) {
			writeFile(t, fs, "/a", "x", true)
		}, map[string]string{"/a": "<missing>"}},
		{"data appended after sync", func(t *testing.T, fs *MemFS) {
			writeFile(t, fs, "/a", "x", true)
			mustDo(t, "SyncDir", fs.SyncDir("/"))
			f, err := fs.OpenFile("/a", os.O_WRONLY|os.O_APPEND, 0)
			mustDo(t, "OpenFile", err)
			_, err = f.Write([]byte("yz"))
			mustDo(t, "Write", err)
			mustDo(t, "Close", f.Close())
		}, map[string]string{"/a": "x"}},
		{"unsynced rename", func(t *testing.T, fs *MemFS) {
			writeFile(t, fs, "/a.tmp", "x", true)
			mustDo(t, "SyncDir", fs.SyncDir("/"))
			mustDo(t, "Rename", fs.Rename("/a.tmp", "/a"))
		}, map[string]string{"/a": "<missing>", "/a.tmp": "x"}},
		{"unsynced remove", func(t *testing.T, fs *MemFS) {
			writeFile(t, fs, "/a", "x", true)
			mustDo(t, "SyncDir", fs.SyncDir("/"))
			mustDo(t, "Remove", fs.Remove("/a"))
		}, map[string]string{"/a": "x"}},
		{"file in a new directory whose entry is not synced", func(t *testing.T, fs *MemFS) {
			mustDo(t, "MkdirAll", fs.MkdirAll("/d/e", 0o755))
			writeFile(t, fs, "/d/e/f", "x", true)
			mustDo(t, "SyncDir", fs.SyncDir("/d/e"))
			mustDo(t, "SyncDir", fs.SyncDir("/"))
		}, map[string]string{"/d/e/f": "<missing>"}},
		{"MkdirAllSync", func(t *testing.T, fs *MemFS) {
			mustDo(t, "MkdirAllSync", MkdirAllSync(fs, "/d/e", 0o755))
			writeFile(t, fs, "/d/e/f", "x", true)
			mustDo(t, "SyncDir", fs.SyncDir("/d/e"))
		}, map[string]string{"/d/e/f": "x"}},
		{"MkdirAllSync under an existing directory", func(t *testing.T, fs *MemFS) {
			mustDo(t, "MkdirAllSync", MkdirAllSync(fs, "/d", 0o755))
			mustDo(t, "MkdirAllSync", MkdirAllSync(fs, "/d/e/g", 0o755))
			writeFile(t, fs, "/d/e/g/f", "x", true)
			mustDo(t, "SyncDir", fs.SyncDir("/d/e/g"))
		}, map[string]string{"/d/e/g/f": "x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := NewCrashableMem()
			tt.do(t, fs)
			crashed := fs.CrashClone()
			for name, want := range tt.want {
				if got := readFile(t, crashed, name); got != want {
					t.Errorf("after the crash %s holds %q, want %q", name, got, want)
				}
			}
			// The clone is a working filesystem of its own.
			writeFile(t, crashed, "/new", "n", false)
			if got := readFile(t, fs, "/new"); got != "<missing>" {
				t.Errorf("a write to the clone shows in the original: %q", got)
			}
		})
	}
}

// TestMemFSBasics checks that MemFS behaves like package os for the
// operations the engine uses.
func TestMemFSBasics(t *testing.T) {
	fs := NewCrashableMem()
	mustDo(t, "MkdirAll", fs.MkdirAll("/x/y", 0o755))
	writeFile(t, fs, "/x/y/b", "hello world", false)
	writeFile(t, fs, "/x/y/a", "", false)
	f, err := fs.OpenFile("/x/y/b", os.O_RDWR, 0)
	mustDo(t, "OpenFile", err)
	mustDo(t, "Truncate", f.Truncate(5))
	buf := make([]byte, 4)
	if n, err := f.ReadAt(buf, 1); n != 4 || err != nil || string(buf) != "ello" {
		t.Errorf("ReadAt = %d, %q, %v; want 4, \"ello\", nil", n, buf[:n], err)
	}
	if n, err := f.ReadAt(buf, 3); n != 2 || err != io.EOF {
		t.Errorf("ReadAt past the end = %d, %v; want 2, EOF", n, err)
	}
	if fi, err := f.Stat(); err != nil || fi.Size() != 5 || fi.Name() != "b" {
		t.Errorf("Stat = %v, %v; want b of 5 bytes", fi, err)
	}
	mustDo(t, "Close", f.Close())
	if _, err := f.Write([]byte("x")); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Write after Close: %v, want %v", err, os.ErrClosed)
	}
	if _, err := fs.OpenFile("/x/y/b", os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644); !errors.Is(err, os.ErrExist) {
		t.Errorf("O_EXCL on an existing file: %v, want %v", err, os.ErrExist)
	}
	if _, err := fs.Open("/x/nope"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Open of a missing file: %v, want %v", err, os.ErrNotExist)
	}
	if err := fs.Remove("/x/y"); err == nil {
		t.Errorf("Remove of a non-empty directory: nil error")
	}
	entries, err := fs.ReadDir("/x/y")
	mustDo(t, "ReadDir", err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if !slices.Equal(names, []string{"a", "b"}) {
		t.Errorf("ReadDir = %v, want [a b]", names)
	}
	if fi, err := fs.Stat("/x/y"); err != nil || !fi.IsDir() {
		t.Errorf("Stat of a directory = %v, %v", fi, err)
	}
	mustDo(t, "Rename", fs.Rename("/x/y/a", "/x/a"))
	if got := readFile(t, fs, "/x/a"); got != "" {
		t.Errorf("renamed file holds %q", got)
	}
	if err := MkdirAllSync(fs, "/x/y/b/c", 0o755); err == nil {
		t.Errorf("MkdirAllSync below a file: nil error")
	}
}
