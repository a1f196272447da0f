package backup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/soltixdb/soltix/storage"
)

// Version is the version of the manifest this package writes and reads.
const Version = 1

// ManifestFile is the name of a backup directory's manifest.
const ManifestFile = "backup.json"

// maxManifestBytes bounds the manifest a client or restore reads.
const maxManifestBytes = 64 << 20

// castagnoli is the CRC-32C table of every checksum of a backup.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Manifest describes a backup: the snapshot's groups and files, with the
// collection settings (collections.json) at the backup point.
type Manifest struct {
	Version int `json:"version"`
	// ID names the server's snapshot while it is held; it is empty in a
	// backup directory.
	ID string `json:"id,omitempty"`
	// Started is when the server began the backup (the backup point:
	// every write acknowledged before it is in the backup); Finished
	// when every group was snapshotted.
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	// NumGroups and ShardTag are the node's: restore opens the data
	// directory with them.
	NumGroups int     `json:"num_groups"`
	ShardTag  string  `json:"shard_tag"`
	Groups    []Group `json:"groups"`
	// Settings are the collections' own settings, by collection.
	Settings map[string]storage.CollectionSettings `json:"settings"`
	// Cluster describes the cluster a backup of one was taken from; nil
	// for a single node's.
	Cluster *Cluster `json:"cluster,omitempty"`
}

// Cluster is what a cluster backup records of the cluster: the map epoch
// of each group when the backup began, and the node it was taken from
// (the group's primary then).
type Cluster struct {
	Groups []ClusterGroup `json:"groups"`
}

// ClusterGroup is one group's map entry at the backup.
type ClusterGroup struct {
	Group   int    `json:"group"`
	Primary string `json:"primary"`
	Epoch   uint64 `json:"epoch"`
}

// FormatGroups formats a list of groups as ParseGroups reads it: "3,7".
func FormatGroups(groups []int) string {
	s := make([]string, len(groups))
	for i, g := range groups {
		s[i] = strconv.Itoa(g)
	}
	return strings.Join(s, ",")
}

// ParseGroups reads a comma-separated list of group numbers ("3,7"), each
// in [0, numGroups) when numGroups > 0, without repeats; "" is an error.
func ParseGroups(s string, numGroups int) ([]int, error) {
	if s == "" {
		return nil, errors.New("empty group list")
	}
	parts := strings.Split(s, ",")
	if len(parts) > 1<<16 {
		return nil, fmt.Errorf("group list of %d entries", len(parts))
	}
	out := make([]int, 0, len(parts))
	for _, p := range parts {
		g, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || g < 0 || (numGroups > 0 && g >= numGroups) || slices.Contains(out, g) {
			return nil, fmt.Errorf("group list %q: bad or repeated group %q", s, p)
		}
		out = append(out, g)
	}
	return out, nil
}

// Group is one group's snapshot.
type Group struct {
	Group int    `json:"group"`
	Files []File `json:"files"`
}

// File is one file of a group's snapshot: its path as the snapshot names
// it (storage.GroupFile.Path), its size and its CRC-32C (Castagnoli).
type File struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	CRC32C uint32 `json:"crc32c"`
}

// groupDir is the directory, below a backup directory, of group g's files.
func groupDir(g int) string { return path.Join("groups", fmt.Sprintf("%04d", g)) }

// localPath returns where a group's file lives below a backup directory,
// refusing a path that would leave it.
func localPath(dir string, g int, p string) (string, error) {
	if p == "" || !filepath.IsLocal(filepath.FromSlash(p)) || strings.Contains(p, "\\") || path.Clean(p) != p {
		return "", fmt.Errorf("file %q of group %d: not a relative path", p, g)
	}
	return filepath.Join(dir, filepath.FromSlash(groupDir(g)), filepath.FromSlash(p)), nil
}

// check returns why m cannot be a backup's manifest, or nil.
func (m *Manifest) check() error {
	switch {
	case m.Version != Version:
		return fmt.Errorf("manifest version %d, want %d", m.Version, Version)
	case m.NumGroups <= 0:
		return fmt.Errorf("manifest: num_groups %d", m.NumGroups)
	}
	seen := make(map[int]bool)
	for _, g := range m.Groups {
		if g.Group < 0 || g.Group >= m.NumGroups || seen[g.Group] {
			return fmt.Errorf("manifest: group %d listed twice or out of range", g.Group)
		}
		seen[g.Group] = true
		paths := make(map[string]bool)
		for _, f := range g.Files {
			if _, err := localPath("", g.Group, f.Path); err != nil {
				return fmt.Errorf("manifest: %w", err)
			}
			if f.Size < 0 || paths[f.Path] {
				return fmt.Errorf("manifest: file %q of group %d: size %d or listed twice", f.Path, g.Group, f.Size)
			}
			paths[f.Path] = true
		}
		if len(g.Files) == 0 || g.Files[0].Path != storage.ManifestPath {
			return fmt.Errorf("manifest: group %d does not list %s first", g.Group, storage.ManifestPath)
		}
	}
	if m.Cluster != nil {
		inMap := make(map[int]bool)
		for _, c := range m.Cluster.Groups {
			if c.Group < 0 || c.Group >= m.NumGroups || inMap[c.Group] {
				return fmt.Errorf("manifest: cluster group %d listed twice or out of range", c.Group)
			}
			inMap[c.Group] = true
		}
		for g := range seen {
			if !inMap[g] {
				return fmt.Errorf("manifest: group %d has files but is not in the cluster map", g)
			}
		}
	}
	return nil
}

// ReadManifest reads and checks the manifest of the backup directory dir.
func ReadManifest(dir string) (*Manifest, error) {
	return readManifest(context.Background(), dirTarget(dir))
}

// readManifest reads and checks the manifest of the backup in src.
func readManifest(ctx context.Context, src Target) (*Manifest, error) {
	size, err := src.stat(ctx, ManifestFile)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s has no %s: not a backup, or an unfinished one", src, ManifestFile)
	}
	if err != nil {
		return nil, err
	}
	if size > maxManifestBytes {
		return nil, fmt.Errorf("manifest over %d bytes", maxManifestBytes)
	}
	f, err := src.open(ctx, ManifestFile, size)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return decodeManifest(f)
}

// decodeManifest decodes and checks a manifest.
func decodeManifest(r io.Reader) (*Manifest, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxManifestBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read manifest: %w", err)
	}
	if len(b) > maxManifestBytes {
		return nil, fmt.Errorf("manifest over %d bytes", maxManifestBytes)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("decode manifest: %w", err)
	}
	if err := m.check(); err != nil {
		return nil, err
	}
	return &m, nil
}

// checksum reads r to its end and returns its size and CRC-32C.
func checksum(r io.Reader) (int64, uint32, error) {
	h := crc32.New(castagnoli)
	n, err := io.Copy(h, r)
	return n, h.Sum32(), err
}
