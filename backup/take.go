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
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Take takes a backup of the server at base (its URL) into dir, which
// must be missing or empty: it asks the server for a snapshot, copies
// every file, checking its size and CRC-32C, writes the manifest last
// and releases the snapshot. A failed Take leaves dir without a manifest
// (Restore refuses it).
func Take(ctx context.Context, client *http.Client, base, dir string) (*Manifest, error) {
	if err := requireEmpty(dir); err != nil {
		return nil, err
	}
	base = strings.TrimRight(base, "/")
	man, err := start(ctx, client, base)
	if err != nil {
		return nil, err
	}
	id := man.ID
	defer func() {
		// Release even when the copy failed or ctx ended: the server
		// would otherwise hold the files until its idle timeout.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
		defer cancel()
		release(rctx, client, base, id)
	}()
	for _, g := range man.Groups {
		for _, f := range g.Files {
			if err := fetchFile(ctx, client, base, id, dir, g.Group, f); err != nil {
				return nil, err
			}
		}
	}
	man.ID = ""
	b, err := json.MarshalIndent(man, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := writeFileSync(filepath.Join(dir, ManifestFile), b); err != nil {
		return nil, err
	}
	return man, nil
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

// start asks the server for a snapshot.
func start(ctx context.Context, client *http.Client, base string) (*Manifest, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/v1/admin/backup", nil)
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
	return man, nil
}

// fileURL is the URL of one file of a held snapshot.
func fileURL(base, id string, g int, path string) string {
	return base + "/api/v1/admin/backup/" + url.PathEscape(id) + "/files/" + strconv.Itoa(g) + "?" + url.Values{"path": {path}}.Encode()
}

// fetchFile copies one file into dir, checking its size and checksum.
func fetchFile(ctx context.Context, client *http.Client, base, id, dir string, g int, f File) error {
	dst, err := localPath(dir, g, f.Path)
	if err != nil {
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
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	h := crc32.New(castagnoli)
	n, err := io.Copy(io.MultiWriter(out, h), io.LimitReader(resp.Body, f.Size+1))
	if err == nil {
		err = out.Sync()
	}
	if err = errors.Join(err, out.Close()); err != nil {
		return fmt.Errorf("fetch %s of group %d: %w", f.Path, g, err)
	}
	if n != f.Size || h.Sum32() != f.CRC32C {
		return fmt.Errorf("fetch %s of group %d: %d bytes with CRC-32C %08x, want %d and %08x", f.Path, g, n, h.Sum32(), f.Size, f.CRC32C)
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

// writeFileSync writes a file durably, with its directory.
func writeFileSync(path string, b []byte) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if err = errors.Join(err, f.Close()); err != nil {
		return err
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}
