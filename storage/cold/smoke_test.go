package cold

import (
	"bytes"
	"context"
	"math/rand"
	"testing"
)

func TestSmoke(t *testing.T) {
	cfg := fakeConfig(t)
	cfg.PartSize = MinPartSize
	s := openT(t, cfg)
	ctx := context.Background()
	for _, size := range []int{0, 10, 3 << 20, 12 << 20} {
		b := make([]byte, size)
		rand.New(rand.NewSource(1)).Read(b)
		key := s.Key("c", 1, "raw", "f")
		o, err := s.Upload(ctx, key, bytes.NewReader(b), int64(size))
		if err != nil {
			t.Fatal(size, err)
		}
		t.Logf("%+v", o)
		st, err := s.Stat(ctx, key)
		t.Logf("%+v %v", st, err)
		r := s.Reader(key, int64(size))
		got := make([]byte, size)
		if _, err := r.ReadAt(got, 0); err != nil && size > 0 {
			t.Fatal(err)
		}
		if !bytes.Equal(got, b) {
			t.Fatal("differs")
		}
		t.Logf("%+v", r.Stats())
	}
}
