package storage

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/storage/vfs"
	"github.com/soltixdb/soltix/storage/vfs/errorfs"
)

// receiverDigest describes every group of a DB.
func receiverDigest(t *testing.T, db *DB) string {
	t.Helper()
	var b strings.Builder
	for g := range db.NumGroups() {
		fmt.Fprintf(&b, "group %d\n%s", g, groupDigest(t, db, g))
	}
	return b.String()
}

// TestImportFaultsLeaveReceiverWhole injects a failure into every
// filesystem operation an import makes, one at a time, and checks that
// the receiver, reopened, holds either exactly what it held before (the
// import failed before its commit) or exactly the result of the import
// (it failed after: the next Open finishes it); never a mix.
func TestImportFaultsLeaveReceiverWhole(t *testing.T) {
	ctx := context.Background()
	src := openFS(t, t.TempDir(), vfs.Default, Options{})
	defer src.Close()
	const g = 2
	devs := groupDevices(t, src, 2)
	writeDays(t, src, devs[g], 2, 0)
	snap, err := src.SnapshotGroup(ctx, g)
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()

	// prepare opens a receiver holding newer writes of half the group in
	// a file, and data of group 0.
	prepare := func(t *testing.T, fs vfs.FS) (*DB, string) {
		dir := t.TempDir()
		db := openFS(t, dir, fs, Options{})
		writeDays(t, db, devs[0], 1, 11)
		writeDays(t, db, devs[g][:1], 1, 500)
		if err := db.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		return db, dir
	}
	var before, after string
	{
		db, dir := prepare(t, vfs.Default)
		before = receiverDigest(t, db)
		if err := db.ImportGroup(ctx, g, snap); err != nil {
			t.Fatal(err)
		}
		db.Close()
		db = openFS(t, dir, vfs.Default, Options{})
		after = receiverDigest(t, db)
		db.Close()
		if before == after {
			t.Fatal("the import changed nothing")
		}
	}
	ops := []errorfs.Op{errorfs.OpCreate, errorfs.OpWrite, errorfs.OpSync, errorfs.OpClose, errorfs.OpRename,
		errorfs.OpSyncDir, errorfs.OpMkdirAll, errorfs.OpRemove, errorfs.OpOpen, errorfs.OpRead, errorfs.OpStat}
	for _, op := range ops {
		t.Run(op.String(), func(t *testing.T) {
			failed := 0
			step := 1
			if op == errorfs.OpRead {
				step = 4 // every read of every file: sample them
			}
			for n := 0; n < 400; n += step {
				mem := vfs.NewCrashableMem()
				fs := errorfs.New(mem)
				db, dir := prepare(t, fs)
				fs.Inject(errorfs.Rule{Op: op, After: n, Err: syscall.EIO,
					Match: func(p string) bool { return !strings.Contains(p, string(filepath.Separator)+"wal") }})
				err := db.ImportGroup(ctx, g, snap)
				fired := fs.Count(op, "") > int64(n)
				fs.Clear()
				crash(t, db)
				if err == nil && !fired {
					break // past the last operation of this kind
				}
				db = openFS(t, dir, mem.CrashClone(), Options{})
				got := receiverDigest(t, db)
				db.Close()
				switch {
				case got == before:
					failed++
				case got == after:
				default:
					t.Fatalf("fault after %d %s calls (import error %v): the receiver is neither as before nor as after", n, op, err)
				}
				if err == nil && got != after {
					t.Fatalf("fault after %d %s calls: the import succeeded but is gone after a restart", n, op)
				}
			}
			t.Logf("%s: %d faults left the receiver as before", op, failed)
		})
	}
}

// TestImportSurvivesCrash: an import that returned is durable.
func TestImportSurvivesCrash(t *testing.T) {
	src := openFS(t, t.TempDir(), vfs.Default, Options{})
	defer src.Close()
	const g = 1
	devs := groupDevices(t, src, 2)
	writeDays(t, src, devs[g], 2, 0)
	want := groupDigest(t, src, g)
	dir := t.TempDir()
	fs := vfs.NewCrashableMem()
	dst := openFS(t, dir, fs, Options{})
	moveGroup(t, src, dst, g)
	crash(t, dst)
	dst = openFS(t, dir, fs.CrashClone(), Options{})
	defer dst.Close()
	if got := groupDigest(t, dst, g); got != want {
		t.Fatalf("after a crash the imported group differs:\n got %.1000s\nwant %.1000s", got, want)
	}
}

// TestDropGroupRemoveFailure: a drop whose file removals fail still
// holds: the next Open removes the files it left.
func TestDropGroupRemoveFailure(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	fs := errorfs.New(vfs.Default)
	db := openFS(t, dir, fs, Options{})
	devs := groupDevices(t, db, 2)
	for _, ds := range devs {
		writeDays(t, db, ds, 1, 0)
	}
	if err := db.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	fs.Inject(errorfs.Rule{Op: errorfs.OpRemove, Err: syscall.EIO})
	if err := db.DropGroup(ctx, 2); err == nil {
		t.Fatal("DropGroup with failing removals reported success")
	}
	fs.Clear()
	crash(t, db)
	left := 0
	for _, p := range memColFiles(t, vfs.Default, dir) {
		if strings.Contains(p, "group_0002") {
			left++
		}
	}
	if left == 0 {
		t.Fatal("the injected failure left no file behind")
	}
	db = openFS(t, dir, vfs.Default, Options{})
	defer db.Close()
	if n := len(db.SeriesIn("c", func(g int) bool { return g == 2 }, nil)); n != 0 {
		t.Fatalf("%d series of the dropped group came back", n)
	}
	for _, p := range memColFiles(t, vfs.Default, dir) {
		if strings.Contains(p, "group_0002") {
			t.Fatalf("file %s of the dropped group left after Open", p)
		}
	}
}

// TestMoveGroupThereAndBack moves a group away, drops it, and moves it
// back: the drop's record does not hide the data that came back.
func TestMoveGroupThereAndBack(t *testing.T) {
	ctx := context.Background()
	dirA := t.TempDir()
	a := openFS(t, dirA, vfs.Default, Options{})
	b := openFS(t, t.TempDir(), vfs.Default, Options{})
	defer b.Close()
	const g = 1
	devs := groupDevices(t, a, 2)
	writeDays(t, a, devs[g], 2, 0)
	want := groupDigest(t, a, g)
	moveGroup(t, a, b, g)
	if err := a.DropGroup(ctx, g); err != nil {
		t.Fatal(err)
	}
	writeDays(t, b, devs[g][:1], 1, 40) // newer writes on the new owner
	wantBack := groupDigest(t, b, g)
	if wantBack == want {
		t.Fatal("the new owner's writes changed nothing")
	}
	if err := a.ExpectGroup(g); err != nil {
		t.Fatal(err)
	}
	moveGroup(t, b, a, g)
	if err := b.DropGroup(ctx, g); err != nil {
		t.Fatal(err)
	}
	for step := range 2 {
		if got := groupDigest(t, a, g); got != wantBack {
			t.Fatalf("step %d: the group moved back differs:\n got %.1000s\nwant %.1000s", step, got, wantBack)
		}
		crash(t, a)
		a = openFS(t, dirA, vfs.Default, Options{})
	}
	a.Close()
	if n := len(b.SeriesIn("c", nil, nil)); n != 0 {
		t.Fatalf("the old owner still has %d series", n)
	}
}

// TestSnapshotRefusesQuarantinedGroup: a group with a quarantined raw
// file does not move (its data would read as none on the receiver); the
// other groups do.
func TestSnapshotRefusesQuarantinedGroup(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db := openFS(t, dir, vfs.Default, Options{})
	devs := groupDevices(t, db, 1)
	for _, ds := range devs {
		writeDays(t, db, ds, 1, 0)
	}
	db.Close()
	var victim string
	for _, p := range memColFiles(t, vfs.Default, dir) {
		if strings.Contains(p, "group_0001/") && !strings.Contains(p, "rollup_") {
			victim = filepath.Join(dir, p)
		}
	}
	if err := os.Truncate(victim, 10); err != nil {
		t.Fatal(err)
	}
	db = openFS(t, dir, vfs.Default, Options{})
	defer db.Close()
	if len(db.Quarantined()) != 1 {
		t.Fatalf("quarantined: %v", db.Quarantined())
	}
	if snap, err := db.SnapshotGroup(ctx, 1); err == nil || !strings.Contains(err.Error(), "quarantine") {
		if snap != nil {
			snap.Close()
		}
		t.Fatalf("SnapshotGroup of a group with a quarantined file: %v", err)
	}
	snap, err := db.SnapshotGroup(ctx, 2)
	if err != nil {
		t.Fatalf("SnapshotGroup of a healthy group: %v", err)
	}
	snap.Close()
}

// memSource is an ImportSource over files in memory.
type memSource map[string][]byte

func (m memSource) Files() []GroupFile {
	out := []GroupFile{{Path: ManifestPath, Size: int64(len(m[ManifestPath]))}}
	for p, b := range m {
		if p != ManifestPath {
			out = append(out, GroupFile{Path: p, Size: int64(len(b))})
		}
	}
	return out
}

func (m memSource) Open(path string) (io.ReadCloser, error) {
	b, ok := m[path]
	if !ok {
		return nil, os.ErrNotExist
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

// FuzzImportGroup feeds ImportGroup a manifest, a file path and file
// contents: whatever they are, it must not panic, and a refused import
// leaves nothing behind.
func FuzzImportGroup(f *testing.F) {
	ctx := context.Background()
	src := openFS(f, f.TempDir(), vfs.Default, Options{})
	defer src.Close()
	devs := groupDevices(f, src, 1)
	writeDays(f, src, devs[1], 1, 0)
	snap, err := src.SnapshotGroup(ctx, 1)
	if err != nil {
		f.Fatal(err)
	}
	defer snap.Close()
	whole := memSource{}
	for _, gf := range snap.Files() {
		rc, err := snap.Open(gf.Path)
		if err != nil {
			f.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		whole[gf.Path] = b
	}
	for p, b := range whole {
		if p != ManifestPath {
			f.Add(whole[ManifestPath], p, b)
			f.Add(whole[ManifestPath], p, b[:len(b)/2])
			f.Add(whole[ManifestPath], "collections/c/group_0001/../../x.col", b)
			f.Add(whole[ManifestPath], strings.Replace(p, "group_0001", "group_0002", 1), b)
		}
	}
	f.Add([]byte(`{"version":1,"group":1,"num_groups":4,"shard_tag":"device_id","collections":{}}`), "collections/c/group_0001/x.col", []byte("x"))
	f.Add([]byte(`not json`), "", []byte{})
	dst := openFS(f, f.TempDir(), vfs.Default, Options{})
	defer dst.Close()
	f.Fuzz(func(t *testing.T, manifest []byte, path string, data []byte) {
		err := dst.ImportGroup(ctx, 1, memSource{ManifestPath: manifest, path: data})
		if err == nil {
			// A whole valid file: take it out again for the next input.
			if err := dst.DropGroup(ctx, 1); err != nil {
				t.Fatal(err)
			}
			return
		}
		if got := dst.HeldGroups(); len(got) != 0 {
			t.Fatalf("a refused import (%v) left groups %v", err, got)
		}
	})
}

// endlessSource serves the manifest of a real snapshot and, for one data
// file that says it has 100 bytes, zeros without end, counting them.
type endlessSource struct {
	manifest []byte
	served   *int64
}

func (s endlessSource) Files() []GroupFile {
	return []GroupFile{{Path: ManifestPath, Size: int64(len(s.manifest))},
		{Path: "collections/c/group_0001/x.col", Size: 100}}
}

func (s endlessSource) Open(path string) (io.ReadCloser, error) {
	if path == ManifestPath {
		return io.NopCloser(bytes.NewReader(s.manifest)), nil
	}
	return io.NopCloser(countingZeros{s.served}), nil
}

type countingZeros struct{ n *int64 }

func (z countingZeros) Read(p []byte) (int, error) {
	if *z.n >= 64<<20 {
		return 0, io.EOF // the test's own bound
	}
	clear(p)
	*z.n += int64(len(p))
	return len(p), nil
}

// TestImportRefusesFileLongerThanListed: a source whose file is longer
// than its listed size is refused after reading one byte past it, not
// copied whole to the receiver's disk first.
func TestImportRefusesFileLongerThanListed(t *testing.T) {
	ctx := context.Background()
	src := openFS(t, t.TempDir(), vfs.Default, Options{})
	defer src.Close()
	devs := groupDevices(t, src, 1)
	writeDays(t, src, devs[1], 1, 0)
	snap, err := src.SnapshotGroup(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := snap.Open(ManifestPath)
	if err != nil {
		t.Fatal(err)
	}
	man, _ := io.ReadAll(rc)
	rc.Close()
	snap.Close()
	dst := openFS(t, t.TempDir(), vfs.Default, Options{})
	defer dst.Close()
	var served int64
	if err := dst.ImportGroup(ctx, 1, endlessSource{manifest: man, served: &served}); err == nil {
		t.Fatal("an import of a file longer than listed succeeded")
	}
	if served > 1<<20 {
		t.Fatalf("the import read %d bytes of a file listed with 100", served)
	}
	if got := dst.HeldGroups(); len(got) != 0 {
		t.Fatalf("a refused import left groups %v", got)
	}
}

// TestDropGroupCrashPoints fails every filesystem operation of a
// DropGroup in turn and crashes: reopened, the group is either whole (the
// drop's record did not become durable) or gone, the other groups are
// untouched, a drop that returned nil is gone, and writes of the group
// after it survive two more crashes.
func TestDropGroupCrashPoints(t *testing.T) {
	ctx := context.Background()
	const g = 1
	prepare := func(t *testing.T, fs vfs.FS) (*DB, string) {
		dir := t.TempDir()
		db := openFS(t, dir, fs, Options{})
		devs := groupDevices(t, db, 2)
		for _, ds := range devs {
			writeDays(t, db, ds, 1, 0)
		}
		if err := db.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		// In the WAL only: more of every group, and a delete.
		for _, ds := range devs {
			writeDays(t, db, ds[:1], 1, 100)
		}
		tags := []model.Tags{{{Key: "device_id", Value: devs[g][1]}}}
		if err := db.Delete(ctx, "c", tags, groupT0, groupT0+int64(3*time.Hour)); err != nil {
			t.Fatal(err)
		}
		return db, dir
	}
	digests := func(db *DB) []string {
		var out []string
		for x := range db.NumGroups() {
			out = append(out, groupDigest(t, db, x))
		}
		return out
	}
	var before []string
	{
		db, _ := prepare(t, vfs.Default)
		before = digests(db)
		db.Close()
	}
	ops := []errorfs.Op{errorfs.OpCreate, errorfs.OpWrite, errorfs.OpSync, errorfs.OpClose, errorfs.OpRename,
		errorfs.OpSyncDir, errorfs.OpRemove}
	for _, op := range ops {
		t.Run(op.String(), func(t *testing.T) {
			for n := 0; n < 100; n++ {
				mem := vfs.NewCrashableMem()
				fs := errorfs.New(mem)
				db, dir := prepare(t, fs)
				fs.Inject(errorfs.Rule{Op: op, After: n, Err: syscall.EIO})
				err := db.DropGroup(ctx, g)
				fired := fs.Count(op, "") > int64(n)
				fs.Clear()
				crash(t, db)
				if err == nil && !fired {
					break
				}
				clone := mem.CrashClone()
				db = openFS(t, dir, clone, Options{})
				got := digests(db)
				for x := range got {
					if x != g && got[x] != before[x] {
						t.Fatalf("fault after %d %s: group %d changed", n, op, x)
					}
				}
				gone := got[g] == ""
				if !gone && got[g] != before[g] {
					t.Fatalf("fault after %d %s (drop error %v): group %d is neither whole nor gone:\n%.600s", n, op, err, g, got[g])
				}
				if err == nil && !gone {
					t.Fatalf("fault after %d %s: the drop returned nil and the group came back", n, op)
				}
				if gone {
					dev := groupDevices(t, db, 1)[g][0]
					writeN(t, db, dev, groupT0, 5)
					for range 2 {
						crash(t, db)
						clone = clone.CrashClone()
						db = openFS(t, dir, clone, Options{})
						if v := readAll(t, db, "c", model.Tags{{Key: "device_id", Value: dev}}, "n")["n"]; len(v) != 5 {
							t.Fatalf("fault after %d %s: %d of 5 values written after the drop are left", n, op, len(v))
						}
					}
				}
				db.Close()
			}
		})
	}
}

// TestSnapshotFailureUnpinsEveryFile: a SnapshotGroup that fails while
// listing its files leaves none of them pinned, so a compaction that
// replaces them removes them from disk.
func TestSnapshotFailureUnpinsEveryFile(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	fs := errorfs.New(vfs.Default)
	db := openFS(t, dir, fs, Options{})
	defer db.Close()
	const g = 1
	devs := groupDevices(t, db, 1)[g]
	for i := range 3 {
		writeDays(t, db, devs, 1, int64(i))
		if err := db.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	raw, _ := db.groupFiles(g, false)
	if len(raw) != 3 {
		t.Fatalf("%d raw files, want 3", len(raw))
	}
	// The second file cannot be listed.
	fs.Inject(errorfs.Rule{Op: errorfs.OpStat, Err: syscall.EIO, Match: func(p string) bool { return p == raw[1].path }})
	if _, err := db.SnapshotGroup(ctx, g); err == nil {
		t.Fatal("SnapshotGroup succeeded with a file it cannot list")
	}
	fs.Clear()
	if err := db.Compact(ctx); err != nil {
		t.Fatal(err)
	}
	for _, f := range raw {
		if _, err := os.Stat(f.path); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("replaced file %s is still on disk (err %v)", filepath.Base(f.path), err)
		}
	}
}

// TestImportIgnoresManifestCollectionsWithoutFiles: a manifest naming a
// collection that no file of the snapshot holds reserves no field kinds
// for it on the receiver (they would refuse the receiver's own writes).
func TestImportIgnoresManifestCollectionsWithoutFiles(t *testing.T) {
	ctx := context.Background()
	src := openFS(t, t.TempDir(), vfs.Default, Options{})
	defer src.Close()
	devs := groupDevices(t, src, 1)
	writeDays(t, src, devs[1], 1, 0)
	snap, err := src.SnapshotGroup(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	files := memSource{}
	for _, gf := range snap.Files() {
		rc, err := snap.Open(gf.Path)
		if err != nil {
			t.Fatal(err)
		}
		files[gf.Path], _ = io.ReadAll(rc)
		rc.Close()
	}
	var man map[string]any
	dec := json.NewDecoder(bytes.NewReader(files[ManifestPath]))
	dec.UseNumber()
	if err := dec.Decode(&man); err != nil {
		t.Fatal(err)
	}
	man["collections"].(map[string]any)["ghost"] = map[string]any{"fields": map[string]any{"v": int(model.KindString)}}
	files[ManifestPath], _ = json.Marshal(man)
	dst := openFS(t, t.TempDir(), vfs.Default, Options{})
	defer dst.Close()
	if err := dst.ImportGroup(ctx, 1, files); err != nil {
		t.Fatal(err)
	}
	if f, ok := dst.Fields("ghost"); ok {
		t.Fatalf("the import reserved fields %v of a collection it holds no file of", f)
	}
	if err := dst.Write(ctx, []model.Point{pt("ghost", "d", groupT0, fv("v", 1))}); err != nil {
		t.Fatalf("a write the manifest's claim conflicts with: %v", err)
	}
}
