package remote

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/storage"
	"github.com/soltixdb/soltix/storage/cold"
)

// coldBucket serves an in-process S3 and returns a function opening a
// store on it, and one listing its keys.
func coldBucket(t *testing.T) (open func() *cold.Store, keys func() []string) {
	t.Helper()
	backend := s3mem.New()
	if err := backend.CreateBucket("b"); err != nil {
		t.Fatal(err)
	}
	h := gofakes3.New(backend, gofakes3.WithoutVersioning()).Server()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for k := range r.Header {
			if strings.HasPrefix(strings.ToLower(k), "x-amz-checksum-") {
				r.Header.Del(k)
			}
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	open = func() *cold.Store {
		s, err := cold.Open(context.Background(), cold.Config{Bucket: "b", Endpoint: srv.URL, Region: "us-east-1", PathStyle: true,
			AccessKeyID: "test", SecretAccessKey: "test"})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	keys = func() []string {
		objs, err := open().List(context.Background(), "")
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, o := range objs {
			out = append(out, o.Key)
		}
		return out
	}
	return open, keys
}

// TestMoveCarriesColdFiles moves a group whose files are in the cold
// tier through the move protocol: nothing is uploaded or copied, the
// receiver refers to the sender's objects and answers the same, and keeps
// answering after the sender dropped the group.
func TestMoveCarriesColdFiles(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	open, keys := coldBucket(t)
	c := newMoveCluster(t)
	const g = 1
	l := newMoveLoad(c, g)
	c.set(startMoveNodeWith(t, c.m, "A", t.TempDir(), nil, MoveOptions{}, storage.Options{Cold: open()}))
	c.set(startMoveNodeWith(t, c.m, "B", t.TempDir(), nil, MoveOptions{}, storage.Options{Cold: open()}))
	l.preload(t, ctx, 60)
	a, b := c.node("A"), c.node("B")
	// The preload's times are in 1970: every partition and every rollup
	// partition but the 1y level's has ended.
	var s storage.CollectionSettings
	for _, lv := range []model.Level{model.LevelRaw, model.Level1h, model.Level1d, model.Level1M} {
		s.ColdAfter[lv] = 24 * time.Hour
	}
	for _, n := range []*moveNode{a, b} {
		if err := n.db.SetSettings(ctx, moveColl, s); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.db.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	st, err := a.db.Tier(ctx)
	if err != nil || st.Uploaded == 0 {
		t.Fatalf("Tier: %+v, %v", st, err)
	}
	want, err := readDevs(ctx, a.db, l.devs)
	if err != nil {
		t.Fatal(err)
	}
	before := keys()
	if err := NewMover(c.m, c.m, MoverOptions{Logger: quiet}).Move(ctx, g, "A", "B"); err != nil {
		t.Fatal(err)
	}
	if after := keys(); !slices.Equal(after, before) {
		t.Fatalf("the move changed the bucket: %d objects, %d before", len(after), len(before))
	}
	if cs := b.db.ColdStats(); cs.Files == 0 {
		t.Fatalf("the receiver has no cold files: %+v", cs)
	}
	if gs, _ := a.db.GroupStats(g); gs.ColdFiles != 0 || gs.Files != 0 {
		t.Fatalf("the sender still holds the group: %+v", gs)
	}
	if _, err := a.db.Tier(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := readDevs(ctx, b.db, l.devs)
	if err != nil {
		t.Fatal(err)
	}
	if countVals(got) != countVals(want) || countVals(got) != 60 {
		t.Fatalf("receiver reads %d values, the sender had %d", countVals(got), countVals(want))
	}
	for dev, vals := range want {
		for tm, v := range vals {
			if got[dev][tm] != v {
				t.Fatalf("%s at %d: %d on the receiver, %d on the sender", dev, tm, got[dev][tm], v)
			}
		}
	}
}
