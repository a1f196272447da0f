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
	return VerifyFrom(context.Background(), dirTarget(dir), nil)
}

// VerifyFrom checks every file of the backup in src (of the groups given;
// nil: all) against its manifest and returns the manifest. Its error names
// the first file that is missing, truncated or corrupted.
func VerifyFrom(ctx context.Context, src Target, groups []int) (*Manifest, error) {
	man, err := readManifest(ctx, src)
	if err != nil {
		return nil, err
	}
	if err := man.pick(groups); err != nil {
		return nil, err
	}
	for _, g := range man.Groups {
		for _, f := range g.Files {
			name := groupDir(g.Group) + "/" + f.Path
			if err := verifyFile(ctx, src, name, f); err != nil {
				return nil, fmt.Errorf("backup file %s in %s: %w", name, src, err)
			}
		}
	}
	return man, nil
}

// pick keeps the groups given of m (nil: all). A group the backup holds
// no files of was empty when it was taken (a snapshot lists the groups
// holding data) and is skipped, unless m is a cluster backup of other
// groups than it: that is an error.
func (m *Manifest) pick(groups []int) error {
	if groups == nil {
		return nil
	}
	var kept []Group
	for _, g := range groups {
		if g < 0 || g >= m.NumGroups {
			return fmt.Errorf("group %d: the backup has %d groups", g, m.NumGroups)
		}
		if m.Cluster != nil && !slices.ContainsFunc(m.Cluster.Groups, func(c ClusterGroup) bool { return c.Group == g }) {
			return fmt.Errorf("group %d is not in the backup (a backup of groups %s)", g, m.Cluster.list())
		}
		if i := slices.IndexFunc(m.Groups, func(h Group) bool { return h.Group == g }); i >= 0 {
			kept = append(kept, m.Groups[i])
		}
	}
	slices.SortFunc(kept, func(a, b Group) int { return a.Group - b.Group })
	m.Groups = kept
	return nil
}

// list names the groups of a cluster backup: "1,6".
func (c *Cluster) list() string {
	gs := make([]int, len(c.Groups))
	for i, g := range c.Groups {
		gs[i] = g.Group
	}
	return FormatGroups(gs)
}

func verifyFile(ctx context.Context, src Target, name string, f File) error {
	r, err := src.open(ctx, name, f.Size)
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
	if size, err := src.stat(ctx, name); err != nil {
		return err
	} else if size != f.Size {
		return fmt.Errorf("%d bytes, want %d (truncated or grown)", size, f.Size)
	}
	return nil
}

// Restore restores the backup in from into dataDir, which must be missing
// or an empty directory: it verifies every file first (Verify), then
// opens a DB on dataDir with the backup's groups and shard tag (opts
// gives the rest, nil the defaults), imports each group and sets the
// collections' settings. A failed Restore leaves dataDir empty.
func Restore(ctx context.Context, from, dataDir string, opts *storage.Options) (*Manifest, error) {
	return RestoreFrom(ctx, dirTarget(from), dataDir, opts, nil)
}

// RestoreFrom is Restore from any Target, of the groups given (nil: every
// group of the backup; a cluster's storage node is given its own).
func RestoreFrom(ctx context.Context, src Target, dataDir string, opts *storage.Options, groups []int) (*Manifest, error) {
	man, err := VerifyFrom(ctx, src, groups)
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
	if err := restore(ctx, src, dataDir, man, &o); err != nil {
		return nil, errors.Join(err, emptyDir(dataDir))
	}
	return man, nil
}

func restore(ctx context.Context, from Target, dataDir string, man *Manifest, o *storage.Options) (err error) {
	db, err := storage.Open(dataDir, o)
	if err != nil {
		return fmt.Errorf("restore: open data directory: %w", err)
	}
	defer func() { err = errors.Join(err, db.Close()) }()
	if db.NumGroups() != man.NumGroups {
		return fmt.Errorf("restore: data directory has %d groups, the backup %d", db.NumGroups(), man.NumGroups)
	}
	for _, g := range man.Groups {
		if err := db.ImportGroup(ctx, g.Group, &targetSource{ctx: ctx, src: from, group: g}); err != nil {
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

// targetSource is one group of a backup as a storage.ImportSource; its
// files are checked again as they are read.
type targetSource struct {
	ctx   context.Context
	src   Target
	group Group
}

func (s *targetSource) Files() []storage.GroupFile {
	out := make([]storage.GroupFile, len(s.group.Files))
	for i, f := range s.group.Files {
		out[i] = storage.GroupFile{Path: f.Path, Size: f.Size}
	}
	return out
}

func (s *targetSource) Open(path string) (io.ReadCloser, error) {
	for _, f := range s.group.Files {
		if f.Path == path {
			name := groupDir(s.group.Group) + "/" + path
			r, err := s.src.open(s.ctx, name, f.Size)
			if err != nil {
				return nil, err
			}
			return newCheckedReader(r, f, name), nil
		}
	}
	return nil, fmt.Errorf("backup has no file %q in group %d: %w", path, s.group.Group, os.ErrNotExist)
}
