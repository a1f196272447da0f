package colfile

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/soltixdb/soltix/model"
)

// TestSubsetTimes: columns that miss some of a series' times store a
// bitmap over the fullest column's times, read back exactly; a flipped
// bitmap bit is caught.
func TestSubsetTimes(t *testing.T) {
	rng := rand.New(rand.NewSource(9))
	var ts []int64
	for i := range 2500 {
		ts = append(ts, int64(i)*10_000_000_000+rng.Int63n(1000)*1_000_000)
	}
	var cols []model.Column
	for _, name := range []string{"a", "b", "full", "z"} {
		c := model.Column{Name: name, Kind: model.KindFloat}
		for i, tm := range ts {
			if name == "full" || rng.Intn(100) >= 3 || i == 0 {
				c.Append(tm, model.Float(float64(i)+0.5))
			}
		}
		cols = append(cols, c)
	}
	series := []SeriesData{{Tags: tags("truck", "t1"), Columns: cols}}
	dir := t.TempDir()
	path := filepath.Join(dir, "f.col")
	if _, err := WriteWith(path, "c", 0, 1, series, &WriteOptions{BlockSize: 1000}); err != nil {
		t.Fatal(err)
	}
	r := checkFile(t, path, "c", series)
	for j, name := range []string{"a", "b", "full", "z"} {
		for k, ref := range r.blockRefs()[0][j] {
			if wantSubset := name != "full"; ref.subset != wantSubset || (wantSubset && ref.timesFrom != 3) {
				t.Errorf("column %s block %d: times from %d, subset %v", name, k, ref.timesFrom, ref.subset)
			}
		}
	}
	r.Close()
	// Without the bitmap the same file would hold the times four times.
	plain := filepath.Join(dir, "plain.col")
	var sep []SeriesData
	for i, c := range cols {
		sep = append(sep, SeriesData{Tags: tags("truck", fmt.Sprint(i)), Columns: []model.Column{c}})
	}
	if _, err := WriteWith(plain, "c", 0, 1, sep, &WriteOptions{BlockSize: 1000}); err != nil {
		t.Fatal(err)
	}
	a, _ := os.Stat(path)
	b, _ := os.Stat(plain)
	t.Logf("subset times: %d bytes; every column with its own times: %d bytes", a.Size(), b.Size())
	if a.Size()*10 > b.Size()*8 {
		t.Errorf("subset times saved too little: %d bytes against %d", a.Size(), b.Size())
	}

	// Flip one bit of a subset block's bitmap (column "a", block 0,
	// stored raw or snappy): the block must fail to decode, never return
	// other data.
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	ref := r2.blockRefs()[0][0][0]
	r2.Close()
	bad := slices.Clone(raw)
	bad[ref.off+1] ^= 0x04
	binary.LittleEndian.PutUint32(bad[ref.off+ref.length:], checksum(bad[ref.off:ref.off+ref.length]))
	badPath := filepath.Join(dir, "bad.col")
	if err := os.WriteFile(badPath, bad, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := openAndReadAll(badPath); !errors.Is(err, ErrCorrupt) {
		t.Errorf("flipped bitmap bit: got %v, want ErrCorrupt", err)
	}
}

// TestNoStats: a file written without block statistics reads back the
// same values, reports Stats false, and is smaller.
func TestNoStats(t *testing.T) {
	rng := rand.New(rand.NewSource(4))
	series := sharedSeries(rng)
	dir := t.TempDir()
	with, without := filepath.Join(dir, "with.col"), filepath.Join(dir, "without.col")
	if _, err := WriteWith(with, "c", 0, 1, series, &WriteOptions{BlockSize: 16}); err != nil {
		t.Fatal(err)
	}
	if _, err := WriteWith(without, "c", 0, 1, series, &WriteOptions{BlockSize: 16, NoStats: true}); err != nil {
		t.Fatal(err)
	}
	rw := checkFile(t, with, "c", series)
	defer rw.Close()
	r, err := Open(without)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for i, s := range r.AllSeries() {
		for j, c := range s.Columns {
			wc := rw.SeriesAt(i).Columns[j]
			if c.Name != wc.Name || c.Kind != wc.Kind || c.Count != wc.Count || len(c.Blocks) != len(wc.Blocks) {
				t.Fatalf("column %q: %+v, want %+v", c.Name, c, wc)
			}
			for k, b := range c.Blocks {
				if b.Stats || b.Count != wc.Blocks[k].Count || b.MinTime != wc.Blocks[k].MinTime || b.MaxTime != wc.Blocks[k].MaxTime {
					t.Fatalf("column %q block %d: %+v, want the same without statistics as %+v", c.Name, k, b, wc.Blocks[k])
				}
			}
			got, err := r.ReadColumn(i, j)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := rw.ReadColumn(i, j)
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("column %q reads differently without statistics", c.Name)
			}
		}
	}
	a, _ := os.Stat(with)
	b, _ := os.Stat(without)
	if b.Size() >= a.Size() {
		t.Errorf("without statistics %d bytes, with %d", b.Size(), a.Size())
	}
}

// TestUnionTimesRoundTrip writes random series whose fields each miss
// readings on their own, so that no column holds every time of its
// series, in random block sizes: every file must read back as written,
// with its blocks laid out as planSubsets planned (checkTimesFrom), and
// the union must be taken where it saves bytes: in the dense cases, and
// never when one column holds every time.
func TestUnionTimesRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewSource(17))
	unions := 0
	for i := range 60 {
		n := 1 + rng.Intn(700)
		base := jitteredTimes(rng, n)
		nCols := 1 + rng.Intn(6)
		miss := []float64{0, 0.01, 0.1, 0.5, 0.95}[rng.Intn(5)]
		full := rng.Intn(4) == 0 // one column holds every time: no union
		var cols []model.Column
		for j := range nCols {
			c := model.Column{Name: string(rune('a' + j)), Kind: allKinds[rng.Intn(len(allKinds))]}
			for _, ts := range base {
				if (full && j == 0) || rng.Float64() >= miss {
					c.Times = append(c.Times, ts)
				}
			}
			if c.Len() == 0 {
				c.Times = append(c.Times, base[rng.Intn(n)])
			}
			fillValues(rng, &c, c.Len())
			cols = append(cols, c)
		}
		bs := []int{1, 3, 64, 1000}[rng.Intn(4)]
		series := []SeriesData{{Tags: tags("host", "u"), Columns: cols}}
		path := filepath.Join(t.TempDir(), "u.col")
		if _, err := WriteWith(path, "c", 0, 1, series, &WriteOptions{BlockSize: bs}); err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		r := checkFile(t, path, "c", series)
		checkTimesFrom(t, r, series, bs)
		for j := range r.blockRefs()[0] {
			for _, ref := range r.blockRefs()[0][j] {
				if ref.union {
					if full {
						t.Errorf("case %d: a union block although column a holds every time", i)
					}
					unions++
				}
			}
		}
		_ = r.Close()
	}
	if unions == 0 {
		t.Error("no union block written")
	}
}

// blockRefs returns the decoded block locations of every series:
// blockRefs()[i][j][k] locates block k of column j of series i.
func (r *Reader) blockRefs() [][][]blockRef {
	out := make([][][]blockRef, r.NumSeries())
	for i := range out {
		out[i] = r.decode(i).refs
	}
	return out
}

// TestSharedTimesReadOnce checks that the times several columns of a
// series share are read and decoded once for all of them (sharedTimes),
// whichever column is read first (the owner's own read aside), that the answers stay the written ones,
// and that Close forgets the Reader's cached times.
func TestSharedTimesReadOnce(t *testing.T) {
	ts := times(9, 100, 10)
	var cols []model.Column
	for c := range 10 {
		cols = append(cols, icol(fmt.Sprintf("c%d", c), ts, 1, 2, 3, 4, 5, 6, 7, int64(c), 9))
	}
	series := []SeriesData{{Tags: tags("host", "a"), Columns: cols}}
	path := filepath.Join(t.TempDir(), "f.col")
	if _, err := WriteWith(path, "cpu", 0, 1, series, &WriteOptions{BlockSize: 3}); err != nil {
		t.Fatal(err)
	}
	for _, first := range []int{0, 5} {
		r, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		reads := map[[2]int]int{} // by column and block
		var mu sync.Mutex
		r.onRead = func(_, column, block int) {
			mu.Lock()
			reads[[2]int{column, block}]++
			mu.Unlock()
		}
		order := []int{first}
		for c := range 10 {
			if c != first {
				order = append(order, c)
			}
		}
		for _, c := range order {
			got, err := r.ReadColumn(0, c)
			if err != nil {
				t.Fatal(err)
			}
			if err := columnsEqual(got, cols[c]); err != nil {
				t.Errorf("first %d, column %d: %v", first, c, err)
			}
		}
		// Each column reads its own blocks; the owner's are read once more
		// when a column sharing its times comes first (for the times; the
		// owner's read needs its values too).
		owner := r.blockRefs()[0][1][0].timesFrom - 1
		want := 1
		if first != owner {
			want = 2
		}
		total := 0
		for k, n := range reads {
			total += n
			if k[0] == owner && n != want {
				t.Errorf("first %d: block %d of the owner (column %d) read %d times, want %d", first, k[1], owner, n, want)
			}
		}
		if total != 30+3*(want-1) {
			t.Errorf("first %d: %d block reads, want %d", first, total, 30+3*(want-1))
		}
		_ = r.Close()
		if sharedTimes.cached(r) {
			t.Errorf("times of a closed Reader still cached")
		}
	}
}
