package storage

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/soltixdb/soltix/storage/vfs"
)

// noRollups returns options whose default settings turn rollups off, so
// that no rollup pass takes format 6 (formatElide,
// TestDataDirFormatElide): for the tests of the formats before it.
func noRollups() Options {
	return Options{DefaultSettings: CollectionSettings{NoRollups: true}}
}

// dirFormat reads meta.json's format.
func dirFormat(t *testing.T, fs vfs.FS, dir string) int {
	t.Helper()
	f, err := fs.Open(filepath.Join(dir, "meta.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var m dataDirMeta
	if err := json.NewDecoder(f).Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m.Format
}

// TestDataDirFormatGroups: a data directory stays format 2 (readable by
// versions from before groups could move) until it records a group drop
// or stages a group import, and is format 3 from then on, across restarts;
// a format this version does not know is refused.
func TestDataDirFormatGroups(t *testing.T) {
	ctx := context.Background()
	fs := vfs.NewCrashableMem()
	src, dst := t.TempDir(), t.TempDir()
	a := openFS(t, src, fs, noRollups())
	b := openFS(t, dst, fs, noRollups())
	devs := groupDevices(t, a, 2)
	for _, ds := range devs {
		writeDays(t, a, ds, 1, 0)
	}
	if err := a.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.SetGroupEpoch(1, 7); err != nil { // epochs alone do not need format 3
		t.Fatal(err)
	}
	if f, g := dirFormat(t, fs, src), dirFormat(t, fs, dst); f != 2 || g != 2 {
		t.Fatalf("formats %d and %d before any drop or import, want 2", f, g)
	}
	moveGroup(t, a, b, 1)
	if f := dirFormat(t, fs, dst); f != 3 {
		t.Fatalf("format %d after an import, want 3", f)
	}
	if f := dirFormat(t, fs, src); f != 2 {
		t.Fatalf("format %d of the source after a snapshot, want 2", f)
	}
	if err := a.DropGroup(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if f := dirFormat(t, fs, src); f != 3 {
		t.Fatalf("format %d after a drop, want 3", f)
	}
	for _, db := range []*DB{a, b} {
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
	// Format 3 reopens, stays 3 (a flush rewrites meta.json), and a later
	// format is refused.
	a = openFS(t, src, fs, noRollups())
	writeDays(t, a, devs[0], 1, 100)
	if err := a.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.saveDirMeta(); err != nil {
		t.Fatal(err)
	}
	if f := dirFormat(t, fs, src); f != 3 {
		t.Fatalf("format %d after a restart and a rewrite of meta.json, want 3", f)
	}
	a.Close()
	w, err := fs.Create(filepath.Join(src, "meta.json"))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(w, `{"format":%d,"num_groups":4,"layout":2,"rollups":1}`, maxFormat+1)
	w.Close()
	o := Options{Logger: quiet, FlushInterval: -1, FS: fs, NumGroups: 4}
	if db, err := Open(src, &o); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("unsupported format %d", maxFormat+1)) {
		if db != nil {
			db.Close()
		}
		t.Fatalf("Open of format %d: %v, want unsupported format", maxFormat+1, err)
	}
}
