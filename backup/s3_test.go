package backup_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/soltixdb/soltix/backup"
	"github.com/soltixdb/soltix/internal/s3test"
	"github.com/soltixdb/soltix/storage"
)

// s3Opts reaches srv (or a proxy in front of it at endpoint).
func s3Opts(endpoint string) backup.S3Options {
	return backup.S3Options{Endpoint: endpoint, Region: s3test.Region, PathStyle: true,
		AccessKeyID: s3test.AccessKey, SecretAccessKey: s3test.SecretKey}
}

func openS3(t *testing.T, loc string, o backup.S3Options) backup.Target {
	t.Helper()
	tg, err := backup.OpenTarget(context.Background(), loc, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tg.Close)
	return tg
}

// seeded starts a node holding files and memory of collection cpu, with
// settings, and returns it with its contents.
func seeded(t *testing.T) (*node, map[string]int64) {
	t.Helper()
	n := startNode(t, t.TempDir(), backup.Options{})
	write(t, n.db, points(0, 500))
	if err := n.db.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	write(t, n.db, points(500, 300))
	set := storage.CollectionSettings{}
	set.Retention[1] = 90 * 24 * time.Hour
	if err := n.db.SetSettings(context.Background(), "cpu", set); err != nil {
		t.Fatal(err)
	}
	return n, contents(t, n.db)
}

// TestS3RoundTrip takes a backup into an S3 prefix and restores it from
// there: the restored node holds what the node held, with its settings;
// a second backup into the same prefix is refused.
func TestS3RoundTrip(t *testing.T) {
	srv := s3test.Start(t)
	n, want := seeded(t)
	ctx := context.Background()
	loc := "s3://" + srv.Bucket() + "/backups/one"
	dst := openS3(t, loc, s3Opts(srv.Endpoint()))
	man, err := backup.TakeTo(ctx, http.DefaultClient, dst, nil, backup.Node{Base: n.srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	if len(man.Groups) == 0 {
		t.Fatal("the backup holds no group")
	}
	if _, err := os.Stat(filepath.Join(srv.BucketDir(), "backups", "one", backup.ManifestFile)); err != nil {
		t.Fatalf("no manifest object: %v", err)
	}
	if _, err := backup.TakeTo(ctx, http.DefaultClient, dst, nil, backup.Node{Base: n.srv.URL}); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("a second backup into the same prefix: %v", err)
	}

	data := filepath.Join(t.TempDir(), "restored")
	got, err := backup.RestoreFrom(ctx, openS3(t, loc, s3Opts(srv.Endpoint())), data, dbOpts(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Groups, man.Groups) {
		t.Errorf("restored groups %v, backed up %v", got.Groups, man.Groups)
	}
	db, err := storage.Open(data, dbOpts())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if have := contents(t, db); !reflect.DeepEqual(have, want) {
		t.Errorf("restored %d points, want %d", len(have), len(want))
	}
	if s := db.Settings()["cpu"]; s.Retention[1] != 90*24*time.Hour {
		t.Errorf("restored settings %+v", s)
	}
}

// TestS3FaultMidBackup makes S3 answer 500 to everything after the first
// upload: the backup fails naming S3, and no manifest claims a complete
// backup (a restore from the prefix refuses it).
func TestS3FaultMidBackup(t *testing.T) {
	srv := s3test.Start(t)
	proxy := s3test.StartProxy(t, srv.Endpoint())
	var puts atomic.Int64
	proxy.OnRequest(func(r *http.Request) {
		if r.Method == http.MethodPut && puts.Add(1) == 2 {
			proxy.Set(s3test.Fail500)
		}
	})
	n, _ := seeded(t)
	ctx := context.Background()
	loc := "s3://" + srv.Bucket() + "/faulty"
	o := s3Opts(proxy.URL())
	_, err := backup.TakeTo(ctx, http.DefaultClient, openS3(t, loc, o), nil, backup.Node{Base: n.srv.URL})
	if err == nil || !strings.Contains(err.Error(), "500") && !strings.Contains(err.Error(), "InternalError") {
		t.Fatalf("backup with S3 failing: %v", err)
	}
	t.Logf("backup: %v", err)
	if !strings.Contains(err.Error(), "s3://") {
		t.Errorf("the error does not name the object: %v", err)
	}
	if st := n.sess.Stats(); st.Held != 0 {
		t.Errorf("a failed backup left %d snapshots held", st.Held)
	}
	proxy.Set(s3test.Healthy)
	if _, err := os.Stat(filepath.Join(srv.BucketDir(), "faulty", backup.ManifestFile)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a failed backup left a manifest: %v", err)
	}
	data := filepath.Join(t.TempDir(), "restored")
	if _, err := backup.RestoreFrom(ctx, openS3(t, loc, o), data, dbOpts(), nil); err == nil || !strings.Contains(err.Error(), "no backup.json") {
		t.Errorf("restore of the failed backup: %v", err)
	}
}

// TestS3RestoreChecksFirst damages one object of a backup in the bucket:
// the restore fails naming it before it writes anything.
func TestS3RestoreChecksFirst(t *testing.T) {
	srv := s3test.Start(t)
	n, _ := seeded(t)
	ctx := context.Background()
	loc := "s3://" + srv.Bucket() + "/damaged"
	man, err := backup.TakeTo(ctx, http.DefaultClient, openS3(t, loc, s3Opts(srv.Endpoint())), nil, backup.Node{Base: n.srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	g := man.Groups[len(man.Groups)-1]
	f := g.Files[len(g.Files)-1]
	name := filepath.Join(srv.BucketDir(), "damaged", "groups", fmt.Sprintf("%04d", g.Group), filepath.FromSlash(f.Path))
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(name, b, 0o644); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(t.TempDir(), "restored")
	_, err = backup.RestoreFrom(ctx, openS3(t, loc, s3Opts(srv.Endpoint())), data, dbOpts(), nil)
	if err == nil || !strings.Contains(err.Error(), f.Path) {
		t.Fatalf("restore of a damaged backup: %v", err)
	}
	t.Logf("restore: %v", err)
	if _, err := os.Stat(data); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the restore wrote into the data directory before it checked the backup: %v", err)
	}
}

// TestStartGroups checks a backup of some groups: only those are in it;
// a group Options.Owns refuses answers 409, a bad list 400; two nodes
// that both give a group fail the backup, releasing both snapshots.
func TestStartGroups(t *testing.T) {
	n := startNode(t, t.TempDir(), backup.Options{Owns: func(g int) error {
		if g == 2 {
			return fmt.Errorf("node n1 is not the group's primary: %w", backup.ErrNotOwner)
		}
		return nil
	}})
	write(t, n.db, points(0, 400))
	ctx := context.Background()
	for _, c := range []struct {
		groups string
		code   int
	}{{"2", http.StatusConflict}, {"1,2", http.StatusConflict}, {"x", http.StatusBadRequest}, {"9", http.StatusBadRequest}, {"1,1", http.StatusBadRequest}} {
		resp, err := http.Post(n.srv.URL+"/api/v1/admin/backup?groups="+c.groups, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.code {
			t.Errorf("groups=%s: %d, want %d", c.groups, resp.StatusCode, c.code)
		}
	}
	man, err := backup.TakeTo(ctx, http.DefaultClient, openDir(t), nil, backup.Node{Base: n.srv.URL, Groups: []int{1, 3}})
	if err != nil {
		t.Fatal(err)
	}
	if len(man.Groups) == 0 {
		t.Fatal("no group backed up")
	}
	for _, g := range man.Groups {
		if g.Group != 1 && g.Group != 3 {
			t.Errorf("backup of groups 1,3 holds group %d", g.Group)
		}
	}
	_, err = backup.TakeTo(ctx, http.DefaultClient, openDir(t), nil, backup.Node{Base: n.srv.URL, Groups: []int{1}}, backup.Node{Base: n.srv.URL, Groups: []int{1, 3}})
	if err == nil || !strings.Contains(err.Error(), "two nodes") {
		t.Errorf("a group from two nodes: %v", err)
	}
	if st := n.sess.Stats(); st.Held != 0 {
		t.Errorf("%d snapshots held after the backups", st.Held)
	}
}

func openDir(t *testing.T) backup.Target {
	t.Helper()
	return openS3(t, filepath.Join(t.TempDir(), "bk"), backup.S3Options{})
}
