package storage

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// The data directory keeps its own entries at the top (meta.json,
// collections.json, LOCK, wal/, quarantine/, temporary names) and every
// collection below collectionsDir, in a directory named by collDirName.
// Collection names therefore never meet the engine's names, whatever the
// engine adds later (docs/operations.md, "Data directory").
const (
	collectionsDir = "collections"
	quarantineDir  = "quarantine"
	// layoutStaging is where a migration from the first layout gathers
	// the collection directories before renaming it to collectionsDir.
	// The first layout never made a directory named "~" and something
	// other than hex digits, so no collection of it can be named this.
	layoutStaging = "~layout2"
	// currentLayout is the layout this version writes (meta.json
	// "layout"): 2 puts collections below collectionsDir. A directory
	// without the key is of the first layout, with collection directories
	// at the top, and is migrated at Open.
	currentLayout = 2
	// maxPlainDirName is the longest escaped name used as it is; a longer
	// one is cut to longNameKeep bytes and followed by "~~" and the
	// SHA-256 of the whole name in hex (194 bytes at most), which fits
	// the 255-byte limit of a path component of every common file system.
	maxPlainDirName = 200
	longNameKeep    = 128
)

// collDirName returns the directory name of a collection. Bytes in
// [a-z0-9_-] stay; every other byte, upper-case letters included, becomes
// "~" and two lower-case hex digits. The result is ASCII without upper
// case, so it is the same on case-insensitive and normalizing file
// systems, and distinct names give distinct results: the escaping can be
// undone, and a cut long name (the only form holding "~~") carries the
// hash of the whole name. A name that is a reserved device name on Windows
// has its first byte escaped. The name is also stored in every file, which
// is what Open reads it from.
func collDirName(name string) string {
	var b strings.Builder
	b.Grow(len(name))
	for i := 0; i < len(name); i++ {
		if c := name[i]; isDirByte(c) && !(i == 0 && windowsDevice(name)) {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "~%02x", c)
		}
	}
	s := b.String()
	if len(s) <= maxPlainDirName {
		return s
	}
	cut := longNameKeep
	if i := strings.LastIndexByte(s[:cut], '~'); i >= cut-2 {
		cut = i // do not cut an escape in two
	}
	sum := sha256.Sum256([]byte(name))
	return s[:cut] + "~~" + hex.EncodeToString(sum[:])
}

func isDirByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// windowsDevice reports whether name is one of the names Windows reserves
// for devices whatever their case.
func windowsDevice(name string) bool {
	switch strings.ToLower(name) {
	case "con", "prn", "aux", "nul":
		return true
	}
	if len(name) == 4 && name[3] >= '1' && name[3] <= '9' {
		p := strings.ToLower(name[:3])
		return p == "com" || p == "lpt"
	}
	return false
}

// parseCollDirName undoes collDirName for a name not cut to fit; ok is
// false for a cut name or one collDirName does not make.
func parseCollDirName(d string) (string, bool) {
	if d == "" || strings.Contains(d, "~~") {
		return "", false
	}
	var b strings.Builder
	for i := 0; i < len(d); i++ {
		c := d[i]
		switch {
		case isDirByte(c):
			b.WriteByte(c)
		case c == '~' && i+2 < len(d):
			v, err := hex.DecodeString(d[i+1 : i+3])
			if err != nil {
				return "", false
			}
			b.WriteByte(v[0])
			i += 2
		default:
			return "", false
		}
	}
	return b.String(), true
}

// collDir returns the directory of a collection.
func (db *DB) collDir(name string) string {
	return filepath.Join(db.dir, collectionsDir, collDirName(name))
}

// firstLayoutName returns the collection a top-level directory of the
// first layout belongs to: its own name, or "~" and the hex of the name.
func firstLayoutName(d string) (string, bool) {
	if h, ok := strings.CutPrefix(d, "~"); ok {
		b, err := hex.DecodeString(h)
		if err != nil || len(b) == 0 {
			return "", false
		}
		return string(b), true
	}
	return d, d != ""
}

// errMigrationCrash is what a test's simulated crash returns.
var errMigrationCrash = errors.New("simulated crash during layout migration")

// migrateLayout brings a data directory to currentLayout. From the first
// layout it creates layoutStaging, renames every top-level collection
// directory into it under its new name, records the layout in meta.json
// and renames layoutStaging to collectionsDir, fsyncing each change. Each
// step is a rename or a new directory, so a crash between two leaves a
// directory the next Open carries on migrating. It also creates
// collectionsDir in a new directory.
func (db *DB) migrateLayout() error {
	steps := 0
	step := func() error {
		steps++
		if steps == db.migrateCrashAt {
			return errMigrationCrash
		}
		return nil
	}
	staging := filepath.Join(db.dir, layoutStaging)
	final := filepath.Join(db.dir, collectionsDir)
	if db.layout > currentLayout {
		return fmt.Errorf("data directory layout %d is newer than this version's %d", db.layout, currentLayout)
	}
	if db.layout < currentLayout {
		if db.layout == 0 {
			db.log.Info("moving collections of the first data directory layout into " + collectionsDir + "/")
		}
		if err := step(); err != nil {
			return err
		}
		if err := db.fs.MkdirAll(staging, 0o755); err != nil {
			return fmt.Errorf("migrate data dir: %w", err)
		}
		if err := db.fs.SyncDir(db.dir); err != nil {
			return fmt.Errorf("migrate data dir: %w", err)
		}
		entries, err := db.fs.ReadDir(db.dir)
		if err != nil {
			return fmt.Errorf("migrate data dir: %w", err)
		}
		for _, e := range entries {
			if !e.IsDir() || e.Name() == "wal" || e.Name() == layoutStaging {
				continue
			}
			name, ok := firstLayoutName(e.Name())
			if !ok {
				db.log.Error("directory is not a collection of the first layout; left where it is", "path", filepath.Join(db.dir, e.Name()))
				continue
			}
			if err := step(); err != nil {
				return err
			}
			dst := filepath.Join(staging, collDirName(name))
			if _, err := db.fs.Stat(dst); err == nil {
				return fmt.Errorf("migrate data dir: %s and %s are both collection %q", e.Name(), dst, name)
			}
			if err := db.fs.Rename(filepath.Join(db.dir, e.Name()), dst); err != nil {
				return fmt.Errorf("migrate data dir: %w", err)
			}
			if err := errors.Join(db.fs.SyncDir(staging), db.fs.SyncDir(db.dir)); err != nil {
				return fmt.Errorf("migrate data dir: %w", err)
			}
		}
		if err := step(); err != nil {
			return err
		}
		db.layout = currentLayout
		if err := db.saveDirMeta(); err != nil {
			return fmt.Errorf("migrate data dir: %w", err)
		}
	}
	if _, err := db.fs.Stat(staging); err == nil {
		// Everything is gathered and meta.json says so: publish it.
		if _, err := db.fs.Stat(final); err == nil {
			return fmt.Errorf("migrate data dir: both %s and %s exist", staging, final)
		}
		if err := step(); err != nil {
			return err
		}
		if err := db.fs.Rename(staging, final); err != nil {
			return fmt.Errorf("migrate data dir: %w", err)
		}
		return db.fs.SyncDir(db.dir)
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("migrate data dir: %w", err)
	}
	if _, err := db.fs.Stat(final); errors.Is(err, os.ErrNotExist) {
		if err := db.fs.MkdirAll(final, 0o755); err != nil {
			return fmt.Errorf("create %s: %w", final, err)
		}
		return db.fs.SyncDir(db.dir)
	}
	// Data put at the top by hand, or by an older version, is not read.
	if entries, err := db.fs.ReadDir(db.dir); err == nil {
		for _, e := range entries {
			if n := e.Name(); e.IsDir() && n != "wal" && n != collectionsDir && n != quarantineDir && n != importsDir && n != coldDir {
				db.log.Warn("unknown directory in the data directory is ignored; collections live in "+collectionsDir+"/",
					"path", filepath.Join(db.dir, n))
			}
		}
	}
	return nil
}
