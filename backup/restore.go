package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	"github.com/soltixdb/soltix/storage"
)

// Verify checks every file of the backup directory dir against its
// manifest (size and CRC-32C) and returns the manifest. Its error names
// the first file that is missing, truncated or corrupted.
func Verify(dir string) (*Manifest, error) {
	man, err := ReadManifest(dir)
	if err != nil {
		return nil, err
	}
	for _, g := range man.Groups {
		for _, f := range g.Files {
			p, err := localPath(dir, g.Group, f.Path)
			if err != nil {
				return nil, err
			}
			if err := verifyFile(p, f); err != nil {
				return nil, fmt.Errorf("backup file %s: %w", p, err)
			}
		}
	}
	return man, nil
}

func verifyFile(p string, f File) error {
	r, err := os.Open(p)
	if err != nil {
		return err
	}
	defer r.Close()
	n, sum, err := checksum(io.LimitReader(r, f.Size+1))
	switch {
	case err != nil:
		return err
	case n != f.Size:
		return fmt.Errorf("%d bytes, want %d (truncated or grown)", n, f.Size)
	case sum != f.CRC32C:
		return fmt.Errorf("CRC-32C %08x, want %08x (corrupted)", sum, f.CRC32C)
	}
	return nil
}

// Restore restores the backup in from into dataDir, which must be missing
// or an empty directory: it verifies every file first (Verify), then
// opens a DB on dataDir with the backup's groups and shard tag (opts
// gives the rest, nil the defaults), imports each group and sets the
// collections' settings. A failed Restore leaves dataDir empty.
func Restore(ctx context.Context, from, dataDir string, opts *storage.Options) (*Manifest, error) {
	man, err := Verify(from)
	if err != nil {
		return nil, err
	}
	if err := requireEmpty(dataDir); err != nil {
		return nil, fmt.Errorf("restore: data directory: %w", err)
	}
	var o storage.Options
	if opts != nil {
		o = *opts
	}
	o.NumGroups, o.ShardTag = man.NumGroups, man.ShardTag
	o.FlushInterval, o.CompactFiles = -1, -1
	if err := restore(ctx, from, dataDir, man, &o); err != nil {
		return nil, errors.Join(err, emptyDir(dataDir))
	}
	return man, nil
}

func restore(ctx context.Context, from, dataDir string, man *Manifest, o *storage.Options) (err error) {
	db, err := storage.Open(dataDir, o)
	if err != nil {
		return fmt.Errorf("restore: open data directory: %w", err)
	}
	defer func() { err = errors.Join(err, db.Close()) }()
	if db.NumGroups() != man.NumGroups {
		return fmt.Errorf("restore: data directory has %d groups, the backup %d", db.NumGroups(), man.NumGroups)
	}
	for _, g := range man.Groups {
		if err := db.ImportGroup(ctx, g.Group, &dirSource{dir: from, group: g}); err != nil {
			return fmt.Errorf("restore: %w", err)
		}
	}
	names := make([]string, 0, len(man.Settings))
	for name := range man.Settings {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if err := db.SetSettings(ctx, name, man.Settings[name]); err != nil {
			return fmt.Errorf("restore: settings of collection %q: %w", name, err)
		}
	}
	return nil
}

// emptyDir removes everything below dir, leaving dir.
func emptyDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range entries {
		errs = append(errs, os.RemoveAll(filepath.Join(dir, e.Name())))
	}
	return errors.Join(errs...)
}

// dirSource is one group of a backup directory as a storage.ImportSource.
type dirSource struct {
	dir   string
	group Group
}

func (s *dirSource) Files() []storage.GroupFile {
	out := make([]storage.GroupFile, len(s.group.Files))
	for i, f := range s.group.Files {
		out[i] = storage.GroupFile{Path: f.Path, Size: f.Size}
	}
	return out
}

func (s *dirSource) Open(path string) (io.ReadCloser, error) {
	for _, f := range s.group.Files {
		if f.Path == path {
			p, err := localPath(s.dir, s.group.Group, path)
			if err != nil {
				return nil, err
			}
			return os.Open(p)
		}
	}
	return nil, fmt.Errorf("backup has no file %q in group %d: %w", path, s.group.Group, os.ErrNotExist)
}
