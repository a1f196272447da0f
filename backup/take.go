package backup

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/soltixdb/soltix/storage"
)

// Take takes a backup of the server at base (its URL) into dir, which
// must be missing or empty: it asks the server for a snapshot, copies
// every file, checking its size and CRC-32C, writes the manifest last
// and releases the snapshot. A failed Take leaves dir without a manifest
// (Restore refuses it).
func Take(ctx context.Context, client *http.Client, base, dir string) (*Manifest, error) {
	return TakeTo(ctx, client, dirTarget(dir), nil, Node{Base: base})
}

// Node is one server a backup copies from: the base URL of its backup
// routes (a serve node's URL, or a router's URL of one storage node's
// routes) and, for a cluster's node, the groups to take from it (nil:
// every group it holds).
type Node struct {
	Base   string
	Groups []int
	// Router names the storage node when Base is a router's URL (the
	// router passes the backup's requests on to that node).
	Router string
}

// TakeTo takes a backup of the nodes into dst, which must be empty: it
// asks every node for a snapshot of its groups (one after the other; each
// group's backup point is when its node's snapshot began), copies every
// file, checking its size and CRC-32C (an S3 target checks each upload
// too), writes the manifest last and releases the snapshots. cluster,
// when not nil, is recorded in the manifest. With more than one node the
// nodes' groups must not overlap and their group counts and shard tags
// must agree. A failed TakeTo leaves dst without a manifest (Restore
// refuses it).
func TakeTo(ctx context.Context, client *http.Client, dst Target, cluster *Cluster, nodes ...Node) (*Manifest, error) {
	if len(nodes) == 0 {
		return nil, errors.New("backup: no node to back up")
	}
	if err := dst.checkEmpty(ctx); err != nil {
		return nil, err
	}
	var all *Manifest
	for _, n := range nodes {
		base := strings.TrimRight(n.Base, "/")
		man, err := start(ctx, client, base, n)
		if err != nil {
			return nil, err
		}
		err = copyNode(ctx, client, base, man, dst)
		// Release even when the copy failed or ctx ended: the server
		// would otherwise hold the files until its idle timeout.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
		release(rctx, client, base, man.ID)
		cancel()
		if err != nil {
			return nil, err
		}
		if all, err = merge(all, man); err != nil {
			return nil, err
		}
	}
	all.ID = ""
	all.Cluster = cluster
	b, err := json.MarshalIndent(all, "", "  ")
	if err != nil {
		return nil, err
	}
	w, err := dst.create(ManifestFile)
	if err == nil {
		if _, err = w.Write(b); err != nil {
			w.abort()
		} else {
			err = w.commit(ctx)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("backup: write %s: %w", ManifestFile, err)
	}
	return all, nil
}

// copyNode copies every file of one node's snapshot into dst.
func copyNode(ctx context.Context, client *http.Client, base string, man *Manifest, dst Target) error {
	for _, g := range man.Groups {
		for _, f := range g.Files {
			if err := fetchFile(ctx, client, base, man.ID, dst, g.Group, f); err != nil {
				return err
			}
		}
	}
	return nil
}

// merge adds one node's manifest to the backup's so far.
func merge(all, man *Manifest) (*Manifest, error) {
	if all == nil {
		return man, nil
	}
	if all.NumGroups != man.NumGroups || all.ShardTag != man.ShardTag {
		return nil, fmt.Errorf("backup: nodes disagree: %d groups with shard tag %q, and %d with %q",
			all.NumGroups, all.ShardTag, man.NumGroups, man.ShardTag)
	}
	for _, g := range man.Groups {
		for _, h := range all.Groups {
			if h.Group == g.Group {
				return nil, fmt.Errorf("backup: group %d taken from two nodes", g.Group)
			}
		}
		all.Groups = append(all.Groups, g)
	}
	slices.SortFunc(all.Groups, func(a, b Group) int { return a.Group - b.Group })
	if man.Started.Before(all.Started) {
		all.Started = man.Started
	}
	if man.Finished.After(all.Finished) {
		all.Finished = man.Finished
	}
	for name, s := range man.Settings {
		if all.Settings == nil {
			all.Settings = make(map[string]storage.CollectionSettings)
		}
		all.Settings[name] = s
	}
	return all, nil
}

// releaseTimeout bounds the release request of Take.
const releaseTimeout = 10 * time.Second

// requireEmpty makes dir, or checks that it is an empty directory.
func requireEmpty(dir string) error {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return os.MkdirAll(dir, 0o755)
	case err != nil:
		return err
	case len(entries) > 0:
		return fmt.Errorf("%s is not empty", dir)
	}
	return nil
}

// start asks the server for a snapshot, of the groups given (nil: all it
// holds).
func start(ctx context.Context, client *http.Client, base string, n Node) (*Manifest, error) {
	groups := n.Groups
	q := url.Values{}
	if groups != nil {
		q.Set("groups", FormatGroups(groups))
	}
	if n.Router != "" {
		q.Set("node", n.Router)
	}
	u := base + "/api/v1/admin/backup"
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("start backup: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("start backup: %w", httpError(resp))
	}
	man, err := decodeManifest(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("start backup: %w", err)
	}
	if man.ID == "" {
		return nil, errors.New("start backup: the server gave no backup id")
	}
	if groups != nil {
		for _, g := range man.Groups {
			if !slices.Contains(groups, g.Group) {
				return nil, fmt.Errorf("start backup: %s answered group %d, not asked for", base, g.Group)
			}
		}
	}
	return man, nil
}

// fileURL is the URL of one file of a held snapshot.
func fileURL(base, id string, g int, path string) string {
	return base + "/api/v1/admin/backup/" + url.PathEscape(id) + "/files/" + strconv.Itoa(g) + "?" + url.Values{"path": {path}}.Encode()
}

// fetchFile copies one file into dst, checking its size and checksum
// before it commits it.
func fetchFile(ctx context.Context, client *http.Client, base, id string, dst Target, g int, f File) error {
	if _, err := localPath("", g, f.Path); err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fileURL(base, id, g, f.Path), nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("fetch %s of group %d: %w", f.Path, g, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("fetch %s of group %d: %w", f.Path, g, httpError(resp))
	}
	out, err := dst.create(groupDir(g) + "/" + f.Path)
	if err != nil {
		return fmt.Errorf("fetch %s of group %d: %w", f.Path, g, err)
	}
	h := crc32.New(castagnoli)
	n, err := io.Copy(io.MultiWriter(out, h), io.LimitReader(resp.Body, f.Size+1))
	if err == nil && (n != f.Size || h.Sum32() != f.CRC32C) {
		err = fmt.Errorf("%d bytes with CRC-32C %08x, want %d and %08x", n, h.Sum32(), f.Size, f.CRC32C)
	}
	if err != nil {
		out.abort()
		return fmt.Errorf("fetch %s of group %d: %w", f.Path, g, err)
	}
	if err := out.commit(ctx); err != nil {
		return fmt.Errorf("store %s of group %d in %s: %w", f.Path, g, dst, err)
	}
	return nil
}

// release tells the server the snapshot may go; a failure only costs the
// server its idle timeout.
func release(ctx context.Context, client *http.Client, base, id string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/v1/admin/backup/"+url.PathEscape(id)+"/release", nil)
	if err != nil {
		return
	}
	if resp, err := client.Do(req); err == nil {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
		resp.Body.Close()
	}
}

// httpError returns the error of a non-2xx answer, from its JSON
// {"error": ...} body when it has one.
func httpError(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(b, &e) == nil && e.Error != "" {
		return fmt.Errorf("%s (HTTP %d)", e.Error, resp.StatusCode)
	}
	return fmt.Errorf("HTTP %d: %s", resp.StatusCode, bytes.TrimSpace(b))
}
