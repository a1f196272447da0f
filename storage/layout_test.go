package storage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/storage/vfs"
	"github.com/soltixdb/soltix/storage/vfs/errorfs"
)

// engineLikeNames are collection names that look like what the engine
// keeps in the data directory, today or in a future version.
var engineLikeNames = []string{
	"collections.json", "collections.json.tmp", "meta.json", "meta.json.tmp", "wal", "LOCK",
	"collections", "quarantine", "rollup_1h", "rollup_1y", "group_0001", "group_0000",
	".", "..", "~", "~x", "~61", "~~", "a/b", "../x", "x.col", "x.col.tmp", "all-x.col",
	"A", "a", "Cpu", "cpu", "CPU", "con", "NUL", "lpt1", "é", "e\u0301", "\x00", " ", "a b",
}

// boundaryNames are names around the file system's 255-byte limit on one
// path component, plain, needing escapes, and multi-byte.
func boundaryNames() []string {
	var out []string
	for _, n := range []int{maxPlainDirName - 1, maxPlainDirName, maxPlainDirName + 1, 255, 256, 300, MaxCollectionLen} {
		out = append(out, strings.Repeat("p", n))
	}
	for _, n := range []int{maxPlainDirName/3 - 1, maxPlainDirName / 3, maxPlainDirName/3 + 1, 85, 86, 128, MaxCollectionLen / 3} {
		out = append(out, strings.Repeat("P", n)) // escaped: three bytes each
	}
	for _, n := range []int{33, 34, 64, MaxCollectionLen / 3} {
		out = append(out, strings.Repeat("é", n)[:min(2*n, MaxCollectionLen)]) // two bytes, each escaped
	}
	// Long names that differ only in their last byte, or only in case.
	out = append(out, strings.Repeat("q", 400)+"a", strings.Repeat("q", 400)+"b", strings.Repeat("q", 400)+"B")
	return out
}

// TestCollectionDirNamesAreInjective: every name maps to one path component
// that fits the file system, holds no character a file system folds or
// treats specially, and no two names share it even on a case-insensitive
// file system.
func TestCollectionDirNamesAreInjective(t *testing.T) {
	names := append(append([]string(nil), engineLikeNames...), boundaryNames()...)
	seen := make(map[string]string)
	for _, n := range names {
		d := collDirName(n)
		if len(d) == 0 || len(d) > 255 {
			t.Errorf("collDirName(%.40q) is %d bytes", n, len(d))
		}
		for i := 0; i < len(d); i++ {
			if c := d[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '~') {
				t.Errorf("collDirName(%.40q) = %.60q holds %q", n, d, c)
				break
			}
		}
		fold := strings.ToLower(d)
		if other, ok := seen[fold]; ok && other != n {
			t.Errorf("collDirName(%.40q) and collDirName(%.40q) fold to the same %.60q", n, other, d)
		}
		seen[fold] = n
		if got, ok := parseCollDirName(d); !strings.Contains(d, "~~") && (!ok || got != n) {
			t.Errorf("parseCollDirName(collDirName(%.40q)) = %.40q, %v", n, got, ok)
		}
	}
}

// TestCollectionsNamedLikeEngineFiles writes one point to each collection
// named like an engine file or around the length limit, flushes, restarts,
// and reads every one back, together with an ordinary collection.
func TestCollectionsNamedLikeEngineFiles(t *testing.T) {
	names := append(append([]string{"plain"}, engineLikeNames...), boundaryNames()...)
	for _, fresh := range []bool{true, false} {
		t.Run(fmt.Sprintf("fresh=%v", fresh), func(t *testing.T) {
			dir := t.TempDir()
			db := openTest(t, dir)
			if !fresh {
				if err := db.Write(context.Background(), []model.Point{pt("plain", "d", 1, fv("v", 1))}); err != nil {
					t.Fatal(err)
				}
				if err := db.Flush(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
			for i, n := range names {
				if err := db.Write(context.Background(), []model.Point{{Collection: n, Time: int64(i), Fields: []model.Field{fv("v", float64(i))}}}); err != nil {
					t.Fatalf("Write(%.40q): %v", n, err)
				}
				// One flush per name, so that one bad name cannot hide behind another.
				if err := db.Flush(context.Background()); err != nil {
					t.Fatalf("Flush after writing %.40q: %v", n, err)
				}
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			db = openTest(t, dir)
			defer db.Close()
			for i, n := range names {
				got := readAll(t, db, n, nil, "v")["v"]
				if len(got) != 1 || got[int64(i)] != model.Float(float64(i)) {
					t.Errorf("collection %.40q after restart: %v, want %d at %d", n, got, i, i)
				}
			}
			// Nothing but the engine's own entries at the top.
			entries, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range entries {
				switch e.Name() {
				case "LOCK", "meta.json", "collections.json", "groups.json", "wal", "collections":
				default:
					t.Errorf("unexpected entry %q at the top of the data directory", e.Name())
				}
			}
		})
	}
}

// oldDirName is how the first layout named a collection's directory at
// the top of the data directory.
func oldDirName(coll string) string {
	plain := coll != "" && coll != "." && coll != ".." && coll != "wal" && coll != "LOCK" && coll != "meta.json" &&
		coll != "meta.json.tmp" && !strings.HasPrefix(coll, "~")
	for i := 0; i < len(coll) && plain; i++ {
		c := coll[i]
		plain = c == '_' || c == '-' || c == '.' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
	}
	if plain {
		return coll
	}
	return fmt.Sprintf("~%x", coll)
}

// makeOldLayout turns a data directory written by this version into the
// first layout: collection directories at the top, no layout in meta.json.
func makeOldLayout(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(dir, collectionsDir))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		name, ok := parseCollDirName(e.Name())
		if !ok {
			t.Fatalf("cannot parse %q", e.Name())
		}
		if err := os.Rename(filepath.Join(dir, collectionsDir, e.Name()), filepath.Join(dir, collectionsDir+"-old-"+oldDirName(name))); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Remove(filepath.Join(dir, collectionsDir)); err != nil {
		t.Fatal(err)
	}
	entries, _ = os.ReadDir(dir)
	for _, e := range entries {
		if old, ok := strings.CutPrefix(e.Name(), collectionsDir+"-old-"); ok {
			if err := os.Rename(filepath.Join(dir, e.Name()), filepath.Join(dir, old)); err != nil {
				t.Fatal(err)
			}
		}
	}
	writeJSON(t, filepath.Join(dir, "meta.json"), map[string]any{"format": 1, "num_groups": 4, "rollups": 1})
}

func writeJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, _ := json.Marshal(v)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestMigrateOldLayout: a data directory of the first layout, with
// collections named like what the new layout keeps ("collections",
// "quarantine"), opens with everything in place, and a migration
// interrupted after any number of its renames finishes at the next open.
func TestMigrateOldLayout(t *testing.T) {
	names := []string{"plain", "collections", "collections.json", "quarantine", "wal", "LOCK", "Cpu", "a/b", "~x", "é", "layout.tmp"}
	build := func(t *testing.T) string {
		dir := t.TempDir()
		db := openTest(t, dir)
		for i, n := range names {
			if err := db.Write(context.Background(), []model.Point{pt(n, "d", int64(i), fv("v", float64(i)))}); err != nil {
				t.Fatal(err)
			}
		}
		if err := db.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		makeOldLayout(t, dir)
		return dir
	}
	check := func(t *testing.T, dir string) {
		t.Helper()
		db := openTest(t, dir)
		for i, n := range names {
			got := readAll(t, db, n, model.Tags{{Key: "device_id", Value: "d"}}, "v")["v"]
			if len(got) != 1 || got[int64(i)] != model.Float(float64(i)) {
				t.Errorf("collection %q after migration: %v", n, got)
			}
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		var m dataDirMeta
		b, err := os.ReadFile(filepath.Join(dir, "meta.json"))
		if err != nil || json.Unmarshal(b, &m) != nil || m.Layout != currentLayout || m.Format != 2 {
			t.Errorf("meta.json after migration: %s, %v", b, err)
		}
		for _, n := range names {
			if _, err := os.Stat(filepath.Join(dir, collectionsDir, collDirName(n))); err != nil {
				t.Errorf("collection %q not in its directory: %v", n, err)
			}
		}
	}
	t.Run("whole", func(t *testing.T) {
		dir := build(t)
		check(t, dir)
	})
	// Crash after k renames: simulate by running the migration with a
	// budget of k steps, then opening normally.
	// Through the fault seam: Open's k-th rename fails (EIO), Open fails,
	// and the next Open finishes the job.
	for k := 0; k < len(names)+2; k++ { // each collection, meta.json, the final rename
		t.Run(fmt.Sprintf("rename-%d-fails", k), func(t *testing.T) {
			dir := build(t)
			fs := errorfs.New(vfs.Default)
			fs.Inject(errorfs.Rule{Op: errorfs.OpRename, After: k, Err: syscall.EIO})
			if _, err := Open(dir, &Options{Logger: quiet, FlushInterval: -1, NumGroups: 4, FS: fs}); !errors.Is(err, syscall.EIO) {
				t.Fatalf("Open with rename %d failing = %v, want EIO", k, err)
			}
			check(t, dir)
		})
	}
	// The steps: create the staging directory, one rename per collection,
	// meta.json, the final rename.
	for k := 1; k <= len(names)+3; k++ {
		t.Run(fmt.Sprintf("crash-at-step-%d", k), func(t *testing.T) {
			dir := build(t)
			db := &DB{dir: dir, fs: vfs.Default, log: quiet, opts: Options{NumGroups: 4}, rollMeta: true}
			db.migrateCrashAt = k
			if err := db.migrateLayout(); err == nil {
				t.Fatalf("migration crashing at step %d did not stop", k)
			}
			check(t, dir)
		})
	}
}

// TestFieldNamesHoldingTheRollupSeparator: a field whose name holds the
// byte that separates a rollup column's field name from its kind is still
// known from the rollup files alone once its raw data is gone.
func TestFieldNamesHoldingTheRollupSeparator(t *testing.T) {
	dir := t.TempDir()
	db := openTest(t, dir)
	fields := []string{"a" + colSep + "b", "a" + colSep + "1", colSep, "x" + colSep}
	for i, f := range fields {
		if err := db.Write(context.Background(), []model.Point{pt("c", "d", int64(i), model.Field{Key: f, Value: model.Int(int64(i))})}); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	for _, f := range colFiles(t, dir) {
		if err := os.Remove(f); err != nil { // raw data gone, as retention would
			t.Fatal(err)
		}
	}
	db = openTest(t, dir)
	defer db.Close()
	got, _ := db.Fields("c")
	for _, f := range fields {
		if got[f] != model.KindInt {
			t.Errorf("field %q from rollups: kind %v, want int (fields %q)", f, got[f], got)
		}
	}
}
