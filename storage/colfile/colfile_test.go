package colfile

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/soltixdb/soltix/model"
)

// Column constructors for tests.

func fcol(name string, ts []int64, vs ...float64) model.Column {
	return model.Column{Name: name, Kind: model.KindFloat, Times: ts, Floats: vs}
}

func icol(name string, ts []int64, vs ...int64) model.Column {
	return model.Column{Name: name, Kind: model.KindInt, Times: ts, Ints: vs}
}

func ucol(name string, ts []int64, vs ...uint64) model.Column {
	return model.Column{Name: name, Kind: model.KindUint, Times: ts, Uints: vs}
}

func bcol(name string, ts []int64, vs ...bool) model.Column {
	return model.Column{Name: name, Kind: model.KindBool, Times: ts, Bools: vs}
}

func scol(name string, ts []int64, vs ...string) model.Column {
	return model.Column{Name: name, Kind: model.KindString, Times: ts, Strings: vs}
}

// times returns n timestamps start, start+step, ...
func times(n int, start, step int64) []int64 {
	ts := make([]int64, n)
	for i := range ts {
		ts[i] = start + int64(i)*step
	}
	return ts
}

func tags(kv ...string) model.Tags {
	var ts model.Tags
	for i := 0; i+1 < len(kv); i += 2 {
		ts = append(ts, model.Tag{Key: kv[i], Value: kv[i+1]})
	}
	return ts
}

// columnsEqual compares two columns bit for bit (floats by their bits, so
// NaN payloads and -0 are distinguished) and describes the first difference.
func columnsEqual(got, want model.Column) error {
	if got.Name != want.Name || got.Kind != want.Kind {
		return fmt.Errorf("got column %q %s, want %q %s", got.Name, got.Kind, want.Name, want.Kind)
	}
	if len(got.Times) != len(want.Times) {
		return fmt.Errorf("column %q: got %d times, want %d", want.Name, len(got.Times), len(want.Times))
	}
	for i := range want.Times {
		if got.Times[i] != want.Times[i] {
			return fmt.Errorf("column %q: time %d: got %d, want %d", want.Name, i, got.Times[i], want.Times[i])
		}
		var same bool
		switch want.Kind {
		case model.KindFloat:
			same = i < len(got.Floats) && math.Float64bits(got.Floats[i]) == math.Float64bits(want.Floats[i])
		default:
			same = i < got.Len() && got.Value(i).Equal(want.Value(i))
		}
		if !same {
			return fmt.Errorf("column %q: value %d: got %v, want %v", want.Name, i, got.Value(i), want.Value(i))
		}
	}
	return nil
}

// checkFile opens path and checks that it holds exactly series of collection.
func checkFile(t *testing.T, path, collection string, series []SeriesData) *Reader {
	t.Helper()
	r, err := Open(path)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	t.Cleanup(func() { _ = r.Close() })
	if got := r.NumSeries(); got != len(series) {
		t.Fatalf("got %d series, want %d", got, len(series))
	}
	prev := ""
	for i, s := range r.AllSeries() {
		if i > 0 && s.Key <= prev {
			t.Errorf("series %d key %q not after %q", i, s.Key, prev)
		}
		prev = s.Key
	}
	for _, in := range series {
		st := append(model.Tags(nil), in.Tags...)
		st.Sort()
		key := model.SeriesKey(collection, st)
		i, ok := r.Find(key)
		if !ok {
			t.Fatalf("series %q missing", key)
		}
		info := r.SeriesAt(i)
		if !info.Tags.Equal(st) {
			t.Errorf("series %q: got tags %v, want %v", key, info.Tags, st)
		}
		if len(info.Columns) != len(in.Columns) {
			t.Fatalf("series %q: got %d columns, want %d", key, len(info.Columns), len(in.Columns))
		}
		for _, want := range in.Columns {
			j := -1
			for k, c := range info.Columns {
				if c.Name == want.Name {
					j = k
				}
			}
			if j < 0 {
				t.Fatalf("series %q: column %q missing", key, want.Name)
			}
			ci := info.Columns[j]
			if ci.Name != want.Name || ci.Kind != want.Kind || ci.Count != want.Len() || ci.MinTime != want.Times[0] || ci.MaxTime != want.Times[want.Len()-1] {
				t.Errorf("series %q: got column info %q %s ×%d [%d, %d], want %q %s ×%d [%d, %d]", key,
					ci.Name, ci.Kind, ci.Count, ci.MinTime, ci.MaxTime,
					want.Name, want.Kind, want.Len(), want.Times[0], want.Times[want.Len()-1])
			}
			got, err := r.ReadColumn(i, j)
			if err != nil {
				t.Fatalf("ReadColumn(%q, %q): %v", key, want.Name, err)
			}
			if err := columnsEqual(got, want); err != nil {
				t.Errorf("series %q: %v", key, err)
			}
			checkBlocks(t, r, i, j, want)
		}
	}
	return r
}

func TestRoundTrip(t *testing.T) {
	nan2 := math.Float64frombits(0x7ff8_0000_dead_beef)
	long := strings.Repeat("x€", 50_000)
	var many []SeriesData
	for i := range 300 {
		many = append(many, SeriesData{
			Tags:    tags("host", fmt.Sprintf("h-%03d", 299-i), "région", "Zürich,=\\ 東京"),
			Columns: []model.Column{fcol("v", times(i%7+1, int64(i), 10), make([]float64, i%7+1)...)},
		})
	}
	tests := []struct {
		name       string
		collection string
		series     []SeriesData
	}{
		{"no series", "empty", nil},
		{"one point", "c", []SeriesData{{Tags: tags("a", "b"), Columns: []model.Column{icol("x", []int64{42}, 7)}}}},
		{"no tags", "c", []SeriesData{{Columns: []model.Column{ucol("x", []int64{1, 2}, 1, 2)}}}},
		{"floats special", "c", []SeriesData{{Columns: []model.Column{fcol("f", times(10, -5, 1),
			math.NaN(), nan2, math.Inf(1), math.Inf(-1), math.Copysign(0, -1), 0,
			math.MaxFloat64, math.SmallestNonzeroFloat64, -1.5, 1e300)}}}},
		{"ints extreme", "c", []SeriesData{{Columns: []model.Column{icol("i", times(8, 0, 1),
			math.MinInt64, math.MaxInt64, math.MinInt64, -1, 0, 1, math.MaxInt64, -1234567890123)}}}},
		{"uints extreme", "c", []SeriesData{{Columns: []model.Column{ucol("u", times(5, 0, 1),
			0, math.MaxUint64, 1<<63, 1, 127)}}}},
		{"bools", "c", []SeriesData{{Columns: []model.Column{
			bcol("b1", times(1, 0, 1), true),
			bcol("b7", times(7, 0, 1), true, false, true, true, false, false, true),
			bcol("b8", times(8, 0, 1), true, true, true, true, true, true, true, true),
			bcol("b9", times(9, 0, 1), false, false, false, false, false, false, false, false, true),
		}}}},
		{"strings", "c", []SeriesData{{Columns: []model.Column{scol("s", times(6, 0, 1),
			"", "a", "", "ünïcødé 東京 🚀", "nul\x00byte", long)}}}},
		{"all empty strings", "c", []SeriesData{{Columns: []model.Column{scol("s", times(3, 0, 1), "", "", "")}}}},
		{"extreme times", "c", []SeriesData{{Columns: []model.Column{
			icol("t", []int64{math.MinInt64, -1, 0, math.MaxInt64}, 1, 2, 3, 4)}}}},
		{"every kind unsorted columns", "cpu", []SeriesData{
			{Tags: tags("zone", "b", "host", "x"), Columns: []model.Column{
				scol("s", times(3, 100, 10), "a", "b", "c"),
				fcol("f", times(3, 100, 10), 1, 2, 3),
				bcol("b", times(2, 0, 10), true, false),
				ucol("u", times(1, 5, 1), 9),
				icol("i", times(4, -20, 10), -1, 1, -1, 1),
			}},
			{Tags: tags("host", "a"), Columns: []model.Column{fcol("f", times(2, 0, 1e9), 0.5, 0.25)}},
		}},
		{"many series unicode tags", "métriques", many},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "f.col")
			meta, err := Write(path, tc.collection, 3, 77, tc.series)
			if err != nil {
				t.Fatalf("Write: %v", err)
			}
			want := Meta{Collection: tc.collection, Group: 3, Seq: 77}
			for _, s := range tc.series {
				for _, c := range s.Columns {
					if want.Points == 0 {
						want.MinTime, want.MaxTime = c.Times[0], c.Times[c.Len()-1]
					}
					want.MinTime = min(want.MinTime, c.Times[0])
					want.MaxTime = max(want.MaxTime, c.Times[c.Len()-1])
					want.Points += c.Len()
				}
			}
			if !sameMeta(meta, want) {
				t.Errorf("Write meta: got %+v, want %+v", meta, want)
			}
			r := checkFile(t, path, tc.collection, tc.series)
			if got := r.Meta(); !sameMeta(got, want) {
				t.Errorf("Open meta: got %+v, want %+v", got, want)
			}
			if _, err := os.Stat(path + ".tmp"); !os.IsNotExist(err) {
				t.Errorf("tmp file left behind: %v", err)
			}
		})
	}
}

// randomSeries returns a random but valid input for Write.
func randomSeries(rng *rand.Rand) []SeriesData {
	specialF := []float64{math.NaN(), math.Inf(1), math.Inf(-1), math.Copysign(0, -1), 0, math.MaxFloat64}
	specialI := []int64{math.MinInt64, math.MaxInt64, 0, -1}
	seen := map[string]bool{}
	var out []SeriesData
	for range rng.Intn(12) {
		host := fmt.Sprintf("h%d", rng.Intn(1000))
		if seen[host] {
			continue
		}
		seen[host] = true
		s := SeriesData{Tags: tags("host", host, "dc", string(rune('a'+rng.Intn(26))))}
		for c := range 1 + rng.Intn(5) {
			n := 1 + rng.Intn(300)
			if rng.Intn(10) == 0 {
				n = 1 + rng.Intn(5000)
			}
			ts := make([]int64, n)
			t := rng.Int63() - 1<<62
			for i := range ts {
				ts[i] = t
				t += 1 + rng.Int63n(1<<uint(rng.Intn(40)))
			}
			col := model.Column{Name: fmt.Sprintf("f%d", c), Kind: model.Kind(1 + rng.Intn(5)), Times: ts}
			for range n {
				switch col.Kind {
				case model.KindFloat:
					f := rng.NormFloat64() * 1e6
					if rng.Intn(20) == 0 {
						f = specialF[rng.Intn(len(specialF))]
					}
					col.Floats = append(col.Floats, f)
				case model.KindInt:
					v := rng.Int63() - rng.Int63()
					if rng.Intn(20) == 0 {
						v = specialI[rng.Intn(len(specialI))]
					}
					col.Ints = append(col.Ints, v)
				case model.KindUint:
					col.Uints = append(col.Uints, rng.Uint64()>>uint(rng.Intn(64)))
				case model.KindBool:
					col.Bools = append(col.Bools, rng.Intn(2) == 0)
				case model.KindString:
					b := make([]byte, rng.Intn(20))
					rng.Read(b)
					col.Strings = append(col.Strings, string(b))
				}
			}
			s.Columns = append(s.Columns, col)
		}
		out = append(out, s)
	}
	return out
}

func TestRandomRoundTrip(t *testing.T) {
	dir := t.TempDir()
	for seed := range int64(60) {
		rng := rand.New(rand.NewSource(seed))
		series := randomSeries(rng)
		path := filepath.Join(dir, fmt.Sprintf("%d.col", seed))
		// Block sizes from 1 to well above the longest column, and
		// every fifth file in the old format.
		bs := []int{1, 2, 3, 7, 64, 333, 1000, MaxBlockSize}[seed%8]
		var err error
		if seed%5 == 4 {
			err = writeV1(path, "rnd", int(seed), uint64(seed), series)
		} else {
			_, err = WriteWith(path, "rnd", int(seed), uint64(seed), series, &WriteOptions{BlockSize: bs})
		}
		if err != nil {
			t.Fatalf("seed %d: write: %v", seed, err)
		}
		checkFile(t, path, "rnd", series)
	}
}

func TestConcurrentReadColumn(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f.col")
	series := randomSeries(rand.New(rand.NewSource(7)))
	if _, err := Write(path, "c", 0, 1, series); err != nil {
		t.Fatal(err)
	}
	r := checkFile(t, path, "c", series)
	want := map[[2]int]model.Column{}
	for i, s := range r.AllSeries() {
		for j := range s.Columns {
			c, err := r.ReadColumn(i, j)
			if err != nil {
				t.Fatal(err)
			}
			want[[2]int{i, j}] = c
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k, w := range want {
				got, err := r.ReadColumn(k[0], k[1])
				if err == nil {
					err = columnsEqual(got, w)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestReadColumnOutOfRange(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f.col")
	if _, err := Write(path, "c", 0, 1, []SeriesData{{Columns: []model.Column{icol("x", []int64{1}, 1)}}}); err != nil {
		t.Fatal(err)
	}
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for _, in := range [][2]int{{-1, 0}, {1, 0}, {0, 1}, {0, -1}} {
		_, err := r.ReadColumn(in[0], in[1])
		if err == nil || errors.Is(err, ErrCorrupt) {
			t.Errorf("ReadColumn(%d, %d): got %v, want a non-corruption error", in[0], in[1], err)
		}
	}
}

func TestWriteDoesNotModifyInput(t *testing.T) {
	in := []SeriesData{
		{Tags: tags("z", "1", "a", "2"), Columns: []model.Column{icol("b", []int64{1}, 1), icol("a", []int64{1}, 1)}},
		{Tags: tags("a", "1"), Columns: []model.Column{icol("x", []int64{1}, 1)}},
	}
	if _, err := Write(filepath.Join(t.TempDir(), "f.col"), "c", 0, 1, in); err != nil {
		t.Fatal(err)
	}
	if in[0].Tags[0].Key != "z" || in[0].Columns[0].Name != "b" || in[1].Tags[0].Key != "a" {
		t.Errorf("Write reordered its input: %+v", in)
	}
}

// TestWriteFailureLeavesNothing checks that a failed Write leaves neither the
// file nor its tmp behind.
func TestWriteFailureLeavesNothing(t *testing.T) {
	ok := []model.Column{icol("x", []int64{1, 2}, 1, 2)}
	tests := []struct {
		name   string
		path   func(dir string) string
		series []SeriesData
		errHas string
	}{
		{"missing directory", func(dir string) string { return filepath.Join(dir, "nope", "f.col") },
			[]SeriesData{{Columns: ok}}, "no such file"},
		{"path is a directory", func(dir string) string {
			p := filepath.Join(dir, "d")
			if err := os.Mkdir(p, 0o755); err != nil {
				panic(err)
			}
			return p
		}, []SeriesData{{Columns: ok}}, "rename"},
		{"unsorted times", nil, []SeriesData{{Columns: []model.Column{icol("x", []int64{2, 1}, 1, 2)}}}, "not strictly increasing"},
		{"repeated time", nil, []SeriesData{{Columns: []model.Column{icol("x", []int64{1, 1}, 1, 2)}}}, "not strictly increasing"},
		{"empty column", nil, []SeriesData{{Columns: []model.Column{icol("x", nil)}}}, "no values"},
		{"value count mismatch", nil, []SeriesData{{Columns: []model.Column{fcol("x", []int64{1, 2}, 1)}}}, "2 times but 1"},
		{"wrong slice for kind", nil, []SeriesData{{Columns: []model.Column{{Name: "x", Kind: model.KindBool, Times: []int64{1}, Ints: []int64{1}}}}}, "1 times but 0"},
		{"null kind", nil, []SeriesData{{Columns: []model.Column{{Name: "x", Times: []int64{1}}}}}, "invalid kind"},
		{"unknown kind", nil, []SeriesData{{Columns: []model.Column{{Name: "x", Kind: 9, Times: []int64{1}}}}}, "invalid kind"},
		{"duplicate column", nil, []SeriesData{{Columns: append(ok, ok...)}}, "duplicate column"},
		{"no columns", nil, []SeriesData{{Tags: tags("a", "b")}}, "no columns"},
		{"duplicate series", nil, []SeriesData{{Tags: tags("a", "b"), Columns: ok}, {Tags: tags("a", "b"), Columns: ok}}, "duplicate series"},
		{"collection too long", nil, nil, "exceeds 1024"},
		{"duplicate tag key", nil, []SeriesData{{Tags: tags("a", "b", "a", "c"), Columns: ok}}, "duplicate tag key"},
	}
	// Cases that need a collection other than "c".
	collections := map[string]string{"collection too long": strings.Repeat("c", MaxCollectionLen+1)}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "f.col")
			if tc.path != nil {
				path = tc.path(dir)
			}
			collection, ok := collections[tc.name]
			if !ok {
				collection = "c"
			}
			before, _ := os.ReadDir(dir)
			meta, err := Write(path, collection, 0, 1, tc.series)
			if err == nil || !strings.Contains(err.Error(), tc.errHas) {
				t.Fatalf("Write: got error %v, want one containing %q", err, tc.errHas)
			}
			if !sameMeta(meta, Meta{}) {
				t.Errorf("Write meta on error: got %+v, want zero", meta)
			}
			if st, err := os.Stat(path); err == nil && !st.IsDir() {
				t.Errorf("file %s exists after failed Write", path)
			}
			if _, err := os.Stat(path + ".tmp"); !os.IsNotExist(err) {
				t.Errorf("tmp file exists after failed Write: %v", err)
			}
			after, _ := os.ReadDir(dir)
			if len(after) != len(before) {
				t.Errorf("directory entries: got %d after, want %d (as before)", len(after), len(before))
			}
		})
	}
}

// writeSample writes a small file with several series and kinds, and for
// version 2 with blocks sharing times, and returns its path and bytes.
func writeSample(t *testing.T, version int) (string, []byte) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "sample.col")
	var err error
	if version == 1 {
		err = writeV1(path, "cpu", 1, 2, goldenSeriesV2())
	} else {
		_, err = WriteWith(path, "cpu", 1, 2, goldenSeriesV2(), &WriteOptions{BlockSize: 2, Replaces: []uint64{1}})
	}
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, b
}

// openAndReadAll opens path and reads every column, returning the first
// error.
func openAndReadAll(path string) error {
	r, err := Open(path)
	if err != nil {
		return err
	}
	defer r.Close()
	for i, s := range r.AllSeries() {
		for j := range s.Columns {
			if _, err := r.ReadColumn(i, j); err != nil {
				return err
			}
		}
	}
	return nil
}

func TestCorruption(t *testing.T) {
	for _, v := range []int{1, Version} {
		t.Run(fmt.Sprintf("v%d", v), func(t *testing.T) { testCorruption(t, v) })
	}
}

func testCorruption(t *testing.T, version int) {
	path, orig := writeSample(t, version)
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	lastCol := r.blockRefs()[len(r.blockRefs())-1]
	lastRef := lastCol[len(lastCol)-1][len(lastCol[len(lastCol)-1])-1]
	idxOff := lastRef.off + lastRef.length + blockTrailerSize
	firstKey, firstCol := r.SeriesAt(0).Key, r.SeriesAt(0).Columns[0].Name
	_ = r.Close()
	size := int64(len(orig))

	mutate := func(f func(b []byte) []byte) string {
		b := f(append([]byte(nil), orig...))
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	flip := func(off int64) string { return mutate(func(b []byte) []byte { b[off] ^= 0x10; return b }) }

	t.Run("data block byte", func(t *testing.T) {
		p := flip(HeaderSize + 1)
		r, err := Open(p)
		if err != nil {
			t.Fatalf("Open after flipping a data byte: %v, want success", err)
		}
		defer r.Close()
		_, err = r.ReadColumn(0, 0)
		if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("ReadColumn: got %v, want ErrCorrupt", err)
		}
		var ce *CorruptionError
		if !errors.As(err, &ce) || ce.Path != p || ce.Offset != HeaderSize {
			t.Fatalf("ReadColumn: got %#v, want CorruptionError for %s at offset %d", err, p, HeaderSize)
		}
		for _, s := range []string{p, firstKey, firstCol, fmt.Sprint(HeaderSize), "block 0"} {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("error %q does not name %q", err, s)
			}
		}
		if _, err := r.ReadColumn(1, 0); err != nil {
			t.Errorf("ReadColumn of an intact block: %v", err)
		}
	})

	t.Run("every data byte", func(t *testing.T) {
		for off := int64(HeaderSize); off < idxOff; off++ {
			if err := openAndReadAll(flip(off)); !errors.Is(err, ErrCorrupt) {
				t.Errorf("flip at %d: got %v, want ErrCorrupt", off, err)
			}
		}
	})

	t.Run("every index and footer byte", func(t *testing.T) {
		for off := idxOff; off < size; off++ {
			_, err := Open(flip(off))
			if !errors.Is(err, ErrCorrupt) {
				t.Errorf("flip at %d: Open got %v, want ErrCorrupt", off, err)
			}
		}
	})

	t.Run("magic", func(t *testing.T) {
		for off := int64(0); off < 8; off++ {
			_, err := Open(flip(off))
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "magic") {
				t.Errorf("flip at %d: Open got %v, want ErrCorrupt about the magic", off, err)
			}
		}
	})

	t.Run("truncated", func(t *testing.T) {
		for n := int64(0); n < size; n++ {
			_, err := Open(mutate(func(b []byte) []byte { return b[:n] }))
			if !errors.Is(err, ErrCorrupt) {
				t.Errorf("truncated to %d bytes: Open got %v, want ErrCorrupt", n, err)
			}
		}
	})

	t.Run("appended garbage", func(t *testing.T) {
		_, err := Open(mutate(func(b []byte) []byte { return append(b, 0) }))
		if !errors.Is(err, ErrCorrupt) {
			t.Errorf("Open got %v, want ErrCorrupt", err)
		}
	})

	t.Run("unknown version", func(t *testing.T) {
		for _, v := range []uint16{0, Version + 1, 0xffff} {
			p := mutate(func(b []byte) []byte { binary.LittleEndian.PutUint16(b[8:], v); return b })
			_, err := Open(p)
			if !errors.Is(err, ErrUnsupportedVersion) || errors.Is(err, ErrCorrupt) {
				t.Fatalf("version %d: Open got %v, want ErrUnsupportedVersion and not ErrCorrupt", v, err)
			}
			var ve *VersionError
			if !errors.As(err, &ve) || ve.Version != v {
				t.Fatalf("version %d: Open got %#v, want *VersionError with that version", v, err)
			}
			for _, s := range []string{p, fmt.Sprintf("version %d", v), fmt.Sprintf("versions 1 to %d", Version)} {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not mention %q", err, s)
				}
			}
		}
	})
}

func TestCorruptionErrorMessage(t *testing.T) {
	cause := errors.New("boom")
	tests := []struct {
		in   *CorruptionError
		want string
	}{
		{&CorruptionError{Path: "/d/f.col", Offset: 10, What: "bad magic"}, "colfile: corrupt file /d/f.col at offset 10: bad magic"},
		{&CorruptionError{Path: "f", Offset: 0, What: "x", Err: cause}, "colfile: corrupt file f at offset 0: x: boom"},
	}
	for _, tc := range tests {
		if got := tc.in.Error(); got != tc.want {
			t.Errorf("%+v.Error(): got %q, want %q", tc.in, got, tc.want)
		}
		if !errors.Is(tc.in, ErrCorrupt) {
			t.Errorf("errors.Is(%+v, ErrCorrupt) = false", tc.in)
		}
		if tc.in.Err != nil && !errors.Is(tc.in, tc.in.Err) {
			t.Errorf("errors.Is(%+v, cause) = false", tc.in)
		}
	}
}

func TestDecodeBlockBodyV1Rejects(t *testing.T) {
	valid := appendBlockBodyV1(nil, &model.Column{Kind: model.KindBool, Times: []int64{1, 2, 3}, Bools: []bool{true, false, true}})
	tests := []struct {
		name  string
		body  []byte
		kind  model.Kind
		count int
	}{
		{"empty", nil, model.KindBool, 3},
		{"kind mismatch", valid, model.KindInt, 3},
		{"count mismatch", valid, model.KindBool, 4},
		{"bitmap padding", append(append([]byte(nil), valid[:len(valid)-1]...), 0xff), model.KindBool, 3},
		{"trailing byte", append(append([]byte(nil), valid...), 0), model.KindBool, 3},
		{"short", valid[:len(valid)-1], model.KindBool, 3},
		{"times not increasing", []byte{byte(model.KindUint), 2, 2, 0, 1, 1}, model.KindUint, 2},
		{"huge count", []byte{byte(model.KindUint), 0xff, 0xff, 0xff, 0xff, 0x0f}, model.KindUint, 1<<32 - 1},
		{"string too long", []byte{byte(model.KindString), 1, 2, 5, 'a'}, model.KindString, 1},
	}
	for _, tc := range tests {
		if _, err := decodeBlockBodyV1(tc.body, tc.kind, tc.count); err == nil {
			t.Errorf("%s: decodeBlockBodyV1(%x, %s, %d): got nil error, want one", tc.name, tc.body, tc.kind, tc.count)
		}
	}
}
