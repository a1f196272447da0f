package backup_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/soltixdb/soltix/backup"
	"github.com/soltixdb/soltix/httpapi"
	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/storage"
	"github.com/soltixdb/soltix/storage/wal"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func dbOpts() *storage.Options {
	return &storage.Options{NumGroups: 4, FlushInterval: -1, Sync: wal.SyncNever, Logger: quiet}
}

// node is a DB served over HTTP with backups on.
type node struct {
	db   *storage.DB
	sess *backup.Sessions
	srv  *httptest.Server
}

func startNode(t *testing.T, dir string, opts backup.Options) *node {
	t.Helper()
	db, err := storage.Open(dir, dbOpts())
	if err != nil {
		t.Fatal(err)
	}
	opts.Logger = quiet
	n := &node{db: db, sess: backup.NewSessions(db, opts)}
	n.srv = httptest.NewServer(httpapi.New(db, httpapi.Options{Backup: n.sess, Logger: quiet}))
	t.Cleanup(func() {
		n.srv.Close()
		if err := n.sess.Close(); err != nil {
			t.Error(err)
		}
		if err := db.Close(); err != nil {
			t.Error(err)
		}
	})
	return n
}

// points returns n points of collection cpu over 10 devices, field v = base+i.
func points(base, n int) []model.Point {
	out := make([]model.Point, n)
	for i := range n {
		out[i] = model.Point{Collection: "cpu", Tags: model.Tags{{Key: "device_id", Value: fmt.Sprintf("d%d", i%10)}},
			Fields: []model.Field{{Key: "v", Value: model.Int(int64(base + i))}}, Time: int64(base+i) * int64(time.Second)}
	}
	return out
}

// contents returns every (device, time) → v of collection cpu.
func contents(t *testing.T, db *storage.DB) map[string]int64 {
	t.Helper()
	got := make(map[string]int64)
	for _, tags := range db.Series("cpu", func(model.Tags) bool { return true }) {
		cols, err := db.Read(context.Background(), "cpu", tags, []string{"v"}, math.MinInt64, math.MaxInt64)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cols {
			for i, ts := range c.Times {
				got[fmt.Sprintf("%s@%d", tags.Get("device_id"), ts)] = c.Ints[i]
			}
		}
	}
	return got
}

func write(t *testing.T, db *storage.DB, pts []model.Point) {
	t.Helper()
	if err := db.Write(context.Background(), pts); err != nil {
		t.Fatal(err)
	}
}

// TestBackupRestoreRoundTrip backs up a node holding files, memory and
// settings, keeps writing, and restores: the restored data is exactly
// what was acknowledged before the backup.
func TestBackupRestoreRoundTrip(t *testing.T) {
	ctx := context.Background()
	n := startNode(t, t.TempDir(), backup.Options{})
	write(t, n.db, points(0, 500))
	if err := n.db.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	write(t, n.db, points(500, 300)) // in memory at the backup point
	set := storage.CollectionSettings{}
	set.Retention[1] = 90 * 24 * time.Hour
	if err := n.db.SetSettings(ctx, "cpu", set); err != nil {
		t.Fatal(err)
	}
	want := contents(t, n.db)

	dir := filepath.Join(t.TempDir(), "bk")
	man, err := backup.Take(ctx, http.DefaultClient, n.srv.URL, dir)
	if err != nil {
		t.Fatal(err)
	}
	if st := n.sess.Stats(); st.Held != 0 || st.Released != 1 {
		t.Errorf("after Take: %+v, want nothing held and one released", st)
	}
	if len(man.Groups) == 0 {
		t.Fatal("backup has no groups")
	}
	write(t, n.db, points(800, 200)) // after the backup: not in it

	data := filepath.Join(t.TempDir(), "restored")
	if _, err := backup.Restore(ctx, dir, data, dbOpts()); err != nil {
		t.Fatal(err)
	}
	db, err := storage.Open(data, dbOpts())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	got := contents(t, db)
	if len(got) != len(want) {
		t.Errorf("restored %d points, want %d", len(got), len(want))
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("point %s: restored %d (present %v), want %d", k, g, ok, v)
		}
	}
	if s := db.CollectionSettings("cpu"); s != set {
		t.Errorf("restored settings %+v, want %+v", s, set)
	}
}

// TestRestoreRefuses checks that a bad backup or a non-empty target fails
// with an error naming the problem and leaves the target empty.
func TestRestoreRefuses(t *testing.T) {
	ctx := context.Background()
	n := startNode(t, t.TempDir(), backup.Options{})
	write(t, n.db, points(0, 400))
	src := filepath.Join(t.TempDir(), "bk")
	man, err := backup.Take(ctx, http.DefaultClient, n.srv.URL, src)
	if err != nil {
		t.Fatal(err)
	}
	last := man.Groups[len(man.Groups)-1]
	victim := filepath.Join(src, "groups", fmt.Sprintf("%04d", last.Group), filepath.FromSlash(last.Files[len(last.Files)-1].Path))

	for _, tc := range []struct {
		name    string
		damage  func(t *testing.T, bk, data string)
		wantErr string
	}{
		{"truncated file", func(t *testing.T, bk, data string) { truncate(t, rebase(victim, src, bk)) }, "truncated"},
		{"corrupted file", func(t *testing.T, bk, data string) { flip(t, rebase(victim, src, bk)) }, "corrupted"},
		{"missing file", func(t *testing.T, bk, data string) { os.Remove(rebase(victim, src, bk)) }, filepath.Base(victim)},
		{"no manifest", func(t *testing.T, bk, data string) { os.Remove(filepath.Join(bk, backup.ManifestFile)) }, "not a backup"},
		{"bad manifest version", func(t *testing.T, bk, data string) {
			p := filepath.Join(bk, backup.ManifestFile)
			b, _ := os.ReadFile(p)
			os.WriteFile(p, bytes.Replace(b, []byte(`"version": 1`), []byte(`"version": 9`), 1), 0o644)
		}, "version 9"},
		{"non-empty target", func(t *testing.T, bk, data string) {
			os.MkdirAll(data, 0o755)
			os.WriteFile(filepath.Join(data, "keep"), []byte("x"), 0o644)
		}, "not empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bk := filepath.Join(t.TempDir(), "bk")
			copyTree(t, src, bk)
			data := filepath.Join(t.TempDir(), "data")
			tc.damage(t, bk, data)
			before, _ := os.ReadDir(data)
			_, err := backup.Restore(ctx, bk, data, dbOpts())
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("restore: got %v, want an error containing %q", err, tc.wantErr)
			}
			if strings.Contains(tc.wantErr, "truncated") || strings.Contains(tc.wantErr, "corrupted") {
				if !strings.Contains(err.Error(), filepath.Base(victim)) {
					t.Errorf("error %q does not name %s", err, filepath.Base(victim))
				}
			}
			after, _ := os.ReadDir(data)
			if len(after) != len(before) {
				t.Errorf("target holds %d entries after a failed restore, %d before", len(after), len(before))
			}
		})
	}
}

// TestRestoreImportFailureLeavesEmpty fails a restore after its files
// verified (a group the backup's manifest puts elsewhere) and checks the
// target is left empty.
func TestRestoreImportFailureLeavesEmpty(t *testing.T) {
	ctx := context.Background()
	n := startNode(t, t.TempDir(), backup.Options{})
	write(t, n.db, points(0, 100))
	bk := filepath.Join(t.TempDir(), "bk")
	if _, err := backup.Take(ctx, http.DefaultClient, n.srv.URL, bk); err != nil {
		t.Fatal(err)
	}
	// Another shard tag puts the series in other groups: the import of
	// the first group refuses its files.
	p := filepath.Join(bk, backup.ManifestFile)
	b, _ := os.ReadFile(p)
	if err := os.WriteFile(p, bytes.Replace(b, []byte(`"shard_tag": "device_id"`), []byte(`"shard_tag": "host"`), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(t.TempDir(), "data")
	if _, err := backup.Restore(ctx, bk, data, dbOpts()); err == nil {
		t.Fatal("restore with a changed shard tag succeeded")
	}
	if after, _ := os.ReadDir(data); len(after) != 0 {
		t.Errorf("target holds %d entries after a failed restore, want none", len(after))
	}
}

// TestSessions drives the HTTP routes: the bound on held snapshots, file
// requests, release, and the idle timeout releasing a snapshot.
func TestSessions(t *testing.T) {
	n := startNode(t, t.TempDir(), backup.Options{MaxSessions: 1, IdleTimeout: 200 * time.Millisecond})
	write(t, n.db, points(0, 50))
	post := func(path string) (int, []byte) {
		resp, err := http.Post(n.srv.URL+path, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	get := func(path string) (int, []byte) {
		resp, err := http.Get(n.srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	code, body := post("/api/v1/admin/backup")
	if code != http.StatusOK {
		t.Fatalf("start: %d %s", code, body)
	}
	var man backup.Manifest
	if err := json.Unmarshal(body, &man); err != nil || man.ID == "" {
		t.Fatalf("start: %v, manifest %s", err, body)
	}
	if code, body := post("/api/v1/admin/backup"); code != http.StatusTooManyRequests || !strings.Contains(string(body), "too many backups") {
		t.Errorf("second start: %d %s, want 429", code, body)
	}
	g := man.Groups[0]
	for _, tc := range []struct {
		name, path string
		want       int
	}{
		{"manifest", fmt.Sprintf("/api/v1/admin/backup/%s/files/%d?path=manifest.json", man.ID, g.Group), http.StatusOK},
		{"unknown file", fmt.Sprintf("/api/v1/admin/backup/%s/files/%d?path=../../meta.json", man.ID, g.Group), http.StatusNotFound},
		{"unknown id", fmt.Sprintf("/api/v1/admin/backup/nope/files/%d?path=manifest.json", g.Group), http.StatusNotFound},
		{"bad group", fmt.Sprintf("/api/v1/admin/backup/%s/files/x?path=manifest.json", man.ID), http.StatusBadRequest},
	} {
		code, body := get(tc.path)
		if code != tc.want {
			t.Errorf("%s: GET %s: %d %s, want %d", tc.name, tc.path, code, body, tc.want)
		}
		if tc.want == http.StatusOK && int64(len(body)) != g.Files[0].Size {
			t.Errorf("%s: %d bytes, want %d", tc.name, len(body), g.Files[0].Size)
		}
	}
	// Idle: released by the timeout; its files answer 404 afterwards.
	deadline := time.Now().Add(10 * time.Second)
	for n.sess.Stats().Expired == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if st := n.sess.Stats(); st.Expired != 1 || st.Held != 0 {
		t.Fatalf("after the idle timeout: %+v, want one expired and none held", st)
	}
	if code, _ := get(fmt.Sprintf("/api/v1/admin/backup/%s/files/%d?path=manifest.json", man.ID, g.Group)); code != http.StatusNotFound {
		t.Errorf("file of an expired backup: %d, want 404", code)
	}
	if code, _ := post("/api/v1/admin/backup/" + man.ID + "/release"); code != http.StatusNotFound {
		t.Errorf("release of an expired backup: %d, want 404", code)
	}
	// A new one can start now, and is released by its client.
	code, body = post("/api/v1/admin/backup")
	if code != http.StatusOK {
		t.Fatalf("start again: %d %s", code, body)
	}
	json.Unmarshal(body, &man)
	if code, body := post("/api/v1/admin/backup/" + man.ID + "/release"); code != http.StatusNoContent {
		t.Errorf("release: %d %s", code, body)
	}
	if code, body := get("/metrics"); code != http.StatusOK || !bytes.Contains(body, []byte("soltix_backup_expired_total 1")) {
		t.Errorf("metrics: %d, no soltix_backup_expired_total 1", code)
	}
}

// TestTakeRefusesNonEmpty checks that Take does not mix a backup into a
// directory holding something.
func TestTakeRefusesNonEmpty(t *testing.T) {
	n := startNode(t, t.TempDir(), backup.Options{})
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "x"), nil, 0o644)
	if _, err := backup.Take(context.Background(), http.DefaultClient, n.srv.URL, dir); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("take into a non-empty directory: %v", err)
	}
	if n.sess.Stats().Started != 0 {
		t.Error("take into a non-empty directory started a snapshot")
	}
}

func rebase(p, from, to string) string {
	rel, _ := filepath.Rel(from, p)
	return filepath.Join(to, rel)
}

func truncate(t *testing.T, p string) {
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(p, fi.Size()/2); err != nil {
		t.Fatal(err)
	}
}

func flip(t *testing.T, p string) {
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0x40
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func copyTree(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		dst := rebase(p, from, to)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o644)
	})
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
}
