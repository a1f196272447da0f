package vfs

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func TestDefault(t *testing.T) {
	fs := Default
	dir := filepath.Join(t.TempDir(), "a", "b")
	if err := fs.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("MkdirAll(%q): %v", dir, err)
	}
	tmp := filepath.Join(dir, "x.tmp")
	f, err := fs.Create(tmp)
	if err != nil {
		t.Fatalf("Create(%q): %v", tmp, err)
	}
	if f.Name() != tmp {
		t.Errorf("Name() = %q, want %q", f.Name(), tmp)
	}
	if n, err := f.Write([]byte("hello world")); n != 11 || err != nil {
		t.Fatalf("Write = %d, %v; want 11, nil", n, err)
	}
	if err := f.Truncate(5); err != nil {
		t.Fatalf("Truncate(5): %v", err)
	}
	if err := f.Sync(); err != nil {
		t.Fatalf("Sync: %v", err)
	}
	if fi, err := f.Stat(); err != nil || fi.Size() != 5 {
		t.Fatalf("Stat after Truncate(5): size %v, %v; want 5, nil", fi.Size(), err)
	}
	buf := make([]byte, 4)
	if n, err := f.ReadAt(buf, 1); n != 4 || err != nil || string(buf) != "ello" {
		t.Fatalf("ReadAt(4 bytes, 1) = %d, %q, %v; want 4, \"ello\", nil", n, buf[:n], err)
	}
	if err := f.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	final := filepath.Join(dir, "x")
	if err := fs.Rename(tmp, final); err != nil {
		t.Fatalf("Rename: %v", err)
	}
	if err := fs.SyncDir(dir); err != nil {
		t.Fatalf("SyncDir(%q): %v", dir, err)
	}
	entries, err := fs.ReadDir(dir)
	if err != nil || len(entries) != 1 || entries[0].Name() != "x" {
		t.Fatalf("ReadDir after Rename = %v, %v; want [x], nil", entries, err)
	}
	if fi, err := fs.Stat(final); err != nil || fi.Size() != 5 {
		t.Fatalf("Stat(%q) = %v, %v; want size 5", final, fi, err)
	}
	r, err := fs.Open(final)
	if err != nil {
		t.Fatalf("Open(%q): %v", final, err)
	}
	b, err := io.ReadAll(r)
	if err != nil || string(b) != "hello" {
		t.Fatalf("ReadAll = %q, %v; want \"hello\", nil", b, err)
	}
	if _, err := r.Write([]byte("x")); err == nil {
		t.Errorf("Write to a file opened by Open: got nil error, want an error")
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}

	a, err := fs.OpenFile(final, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatalf("OpenFile(O_APPEND): %v", err)
	}
	if _, err := a.Write([]byte("!")); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if fi, err := fs.Stat(final); err != nil || fi.Size() != 6 {
		t.Fatalf("Stat after append = %v, %v; want size 6", fi, err)
	}

	if err := fs.Remove(final); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	if _, err := fs.Open(final); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Open after Remove: got %v, want %v", err, os.ErrNotExist)
	}
	if f, err := fs.Open(final); f != nil {
		t.Errorf("Open(missing) = %#v, %v; want a nil File", f, err)
	}
	if err := fs.SyncDir(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("SyncDir(missing): got %v, want %v", err, os.ErrNotExist)
	}
}
