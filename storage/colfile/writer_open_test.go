package colfile

import (
	"bytes"
	"context"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/soltixdb/soltix/model"
)

// sameReader checks that got (from WriteOpen) holds what want (from
// OpenWith over the same file) holds, and that every series, column and
// block reads the same through both.
func sameReader(t *testing.T, got, want *Reader) {
	t.Helper()
	if got.Version() != want.Version() || got.DataEnd() != want.DataEnd() || got.Path() != want.Path() {
		t.Fatalf("version %d, data end %d, path %s; reopened: %d, %d, %s",
			got.Version(), got.DataEnd(), got.Path(), want.Version(), want.DataEnd(), want.Path())
	}
	if !reflect.DeepEqual(got.Meta(), want.Meta()) {
		t.Fatalf("meta %+v, reopened %+v", got.Meta(), want.Meta())
	}
	if !bytes.Equal(got.index, want.index) {
		t.Fatalf("index of %d bytes differs from the reopened one of %d", len(got.index), len(want.index))
	}
	if !reflect.DeepEqual(got.entries, want.entries) {
		t.Fatalf("series entries differ from the reopened ones")
	}
	if got.NumSeries() != want.NumSeries() {
		t.Fatalf("%d series, reopened %d", got.NumSeries(), want.NumSeries())
	}
	for i := range want.NumSeries() {
		gi, wi := got.SeriesAt(i), want.SeriesAt(i)
		// Printed, as NaN statistics are not DeepEqual to themselves.
		if g, w := fmt.Sprintf("%+v", gi), fmt.Sprintf("%+v", wi); got.Key(i) != want.Key(i) || g != w {
			t.Fatalf("series %d: %s, reopened %s", i, g, w)
		}
		if j, ok := got.Find(want.Key(i)); !ok || j != i {
			t.Fatalf("series %d: Find gives %d, %v", i, j, ok)
		}
		for j, ci := range wi.Columns {
			gc, err := got.ReadColumn(i, j)
			if err != nil {
				t.Fatal(err)
			}
			wc, err := want.ReadColumn(i, j)
			if err != nil {
				t.Fatal(err)
			}
			if err := columnsEqual(gc, wc); err != nil {
				t.Fatalf("series %d column %q: %v", i, ci.Name, err)
			}
			for k := range ci.Blocks {
				gb, err := got.ReadBlock(i, j, k)
				if err != nil {
					t.Fatal(err)
				}
				wb, err := want.ReadBlock(i, j, k)
				if err != nil {
					t.Fatal(err)
				}
				if err := columnsEqual(gb, wb); err != nil {
					t.Fatalf("series %d column %q block %d: %v", i, ci.Name, k, err)
				}
			}
		}
	}
}

// TestWriteOpenMatchesOpen checks that the Reader WriteOpen returns is
// the one OpenWith returns over the file it wrote, for files of every
// shape the writer makes: random kinds and times, shared, subset and
// union times, no statistics, replaced files, empty files, small blocks.
func TestWriteOpenMatchesOpen(t *testing.T) {
	cpu, _ := cpuDataset()
	iot, _ := iotDataset(0)
	gappy, _ := gappyDataset()
	union, _ := gappyDatasetWith(true)
	cases := []struct {
		name   string
		series []SeriesData
		opts   WriteOptions
	}{
		{"empty", nil, WriteOptions{}},
		{"cpu", cpu[:20], WriteOptions{}},
		{"iot", iot[:20], WriteOptions{BlockSize: 500}},
		{"gappy", gappy[:20], WriteOptions{}},
		{"union", union[:20], WriteOptions{}},
		{"nostats", cpu[:5], WriteOptions{NoStats: true, BlockSize: 64}},
		{"replaces", cpu[:5], WriteOptions{Replaces: []uint64{9, 3, 3, 5}}},
	}
	rng := rand.New(rand.NewSource(17))
	for i := range 20 {
		cases = append(cases, struct {
			name   string
			series []SeriesData
			opts   WriteOptions
		}{fmt.Sprintf("random%d", i), randomSeries(rng), WriteOptions{BlockSize: 1 + rng.Intn(2000)}})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "w.col")
			r, err := WriteOpen(path, "cpu", 3, 42, tc.series, &tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			reopened, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer reopened.Close()
			sameReader(t, r, reopened)
		})
	}
}

// TestWriteOpenErrors checks that WriteOpen fails as WriteWith does on bad
// input, leaving nothing at path.
func TestWriteOpenErrors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.col")
	bad := []SeriesData{{Tags: tags("host", "a")}}
	if _, err := WriteOpen(path, "cpu", 0, 1, bad, nil); err == nil {
		t.Fatal("a series without columns was written")
	}
	if _, err := Open(path); err == nil {
		t.Fatal("a file was left behind")
	}
}

// TestWriteGivenKey checks SeriesData.Key: a right key writes the file
// Write writes without it, whatever the order of the tags; a wrong one is
// refused.
func TestWriteGivenKey(t *testing.T) {
	ts := times(10, 1_000, 10)
	col := fcol("v", ts, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10)
	sorted := tags("a", "x,y", "b", "1=2")
	unsorted := model.Tags{sorted[1], sorted[0]}
	key := model.SeriesKey("c\\", sorted)
	dir := t.TempDir()
	plain := filepath.Join(dir, "plain.col")
	if _, err := WriteWith(plain, "c\\", 0, 1, []SeriesData{{Tags: sorted, Columns: []model.Column{col}}}, nil); err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(plain)
	if err != nil {
		t.Fatal(err)
	}
	for _, tg := range []model.Tags{sorted, unsorted} {
		path := filepath.Join(dir, "keyed.col")
		if _, err := WriteWith(path, "c\\", 0, 1, []SeriesData{{Tags: tg, Columns: []model.Column{col}, Key: key}}, nil); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("tags %v: the file with the key given differs", tg)
		}
	}
	for _, wrong := range []string{"", "c\\", key + ",", strings.Replace(key, "x", "z", 1), model.SeriesKey("c", sorted)} {
		if wrong == "" {
			continue
		}
		path := filepath.Join(dir, "wrong.col")
		if _, err := WriteWith(path, "c\\", 0, 1, []SeriesData{{Tags: sorted, Columns: []model.Column{col}, Key: wrong}}, nil); err == nil {
			t.Errorf("key %q accepted for %q", wrong, key)
		}
	}
}

// TestKeyIs checks keyIs against model.SeriesKey on random collections
// and tags made of the characters the key escapes, and on keys one edit
// away from the right one.
func TestKeyIs(t *testing.T) {
	rng := rand.New(rand.NewSource(5))
	const alphabet = "ab,=\\"
	word := func() string {
		b := make([]byte, rng.Intn(4))
		for i := range b {
			b[i] = alphabet[rng.Intn(len(alphabet))]
		}
		return string(b)
	}
	for range 20000 {
		coll := word()
		var tg model.Tags
		for range rng.Intn(4) {
			tg = append(tg, model.Tag{Key: word(), Value: word()})
		}
		key := model.SeriesKey(coll, tg)
		if !keyIs(key, coll, tg) {
			t.Fatalf("keyIs(%q, %q, %v) = false", key, coll, tg)
		}
		// An edit: a byte dropped, added or changed.
		b := []byte(key)
		switch p := rng.Intn(len(b) + 1); rng.Intn(3) {
		case 0:
			if p < len(b) {
				b = append(b[:p:p], b[p+1:]...)
			}
		case 1:
			b = append(b[:p:p], append([]byte{alphabet[rng.Intn(len(alphabet))]}, b[p:]...)...)
		default:
			if p < len(b) {
				b[p] = alphabet[rng.Intn(len(alphabet))]
			}
		}
		if got, want := keyIs(string(b), coll, tg), string(b) == key; got != want {
			t.Fatalf("keyIs(%q, %q, %v) = %v, key is %q", b, coll, tg, got, key)
		}
	}
}

// TestPrepareAllocations checks that preparing series with sorted tags
// and their keys given allocates per call, not per series.
func TestPrepareAllocations(t *testing.T) {
	cpu, _ := cpuDataset()
	for i := range cpu {
		cpu[i].Tags.Sort()
		cpu[i].Key = model.SeriesKey("cpu", cpu[i].Tags)
	}
	allocs := testing.AllocsPerRun(10, func() {
		if _, err := prepare("cpu", cpu); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 3 {
		t.Errorf("prepare of %d series: %.0f allocations, want at most 3", len(cpu), allocs)
	}
}

// TestReadSeries checks that ReadSeries gives what SeriesAt and
// ReadColumn give, series by series, and fails on a position out of range.
func TestReadSeries(t *testing.T) {
	iot, _ := gappyDatasetWith(true)
	path := filepath.Join(t.TempDir(), "s.col")
	if _, err := Write(path, "iot", 0, 1, iot[:10]); err != nil {
		t.Fatal(err)
	}
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx := context.Background()
	for i := range r.NumSeries() {
		info, cols, err := r.ReadSeries(ctx, i)
		if err != nil {
			t.Fatal(err)
		}
		if _, cached := decodedCache.get(entryKey{r, i}); cached {
			t.Fatalf("series %d: ReadSeries left its entry in the cache", i)
		}
		if g, w := fmt.Sprintf("%+v", info), fmt.Sprintf("%+v", r.SeriesAt(i)); g != w {
			t.Fatalf("series %d: %s, SeriesAt %s", i, g, w)
		}
		for j := range info.Columns {
			want, err := r.ReadColumn(i, j)
			if err != nil {
				t.Fatal(err)
			}
			if err := columnsEqual(cols[j], want); err != nil {
				t.Fatalf("series %d column %d: %v", i, j, err)
			}
		}
	}
	for _, i := range []int{-1, r.NumSeries()} {
		if _, _, err := r.ReadSeries(ctx, i); err == nil {
			t.Errorf("series %d read", i)
		}
	}
}
