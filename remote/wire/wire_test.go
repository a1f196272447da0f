package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"

	"github.com/soltixdb/soltix/model"
)

// randomPoints returns n points over a few series and field keys, with
// every kind and extreme values.
func randomPoints(rng *rand.Rand, n int) []model.Point {
	colls := []string{"cpu", "mem", "", "ünï,= code"}
	tagsets := []model.Tags{
		nil,
		{{Key: "device_id", Value: "d1"}},
		{{Key: "device_id", Value: "d2"}, {Key: "region", Value: "eu"}},
		{{Key: "", Value: ""}},
	}
	keys := []string{"v", "temp", "on", "msg", "n", "u"}
	values := []func() model.Value{
		func() model.Value { return model.Float(rng.NormFloat64()) },
		func() model.Value { return model.Float(math.Inf(-1)) },
		func() model.Value { return model.Float(math.NaN()) },
		func() model.Value { return model.Int(rng.Int64() - math.MaxInt64/2) },
		func() model.Value { return model.Int(math.MinInt64) },
		func() model.Value { return model.Uint(rng.Uint64()) },
		func() model.Value { return model.Uint(math.MaxUint64) },
		func() model.Value { return model.Bool(rng.IntN(2) == 0) },
		func() model.Value { return model.String(fmt.Sprint(rng.Int())) },
		func() model.Value { return model.String("") },
	}
	times := []int64{math.MinInt64, math.MaxInt64, 0, -1}
	ps := make([]model.Point, n)
	for i := range ps {
		p := model.Point{Collection: colls[rng.IntN(len(colls))], Time: rng.Int64N(1 << 62)}
		if rng.IntN(5) == 0 {
			p.Time = times[rng.IntN(len(times))]
		}
		if ts := tagsets[rng.IntN(len(tagsets))]; ts != nil {
			p.Tags = append(model.Tags(nil), ts...) // not shared, as a parser gives them
		}
		for _, j := range rng.Perm(len(keys))[:1+rng.IntN(len(keys))] {
			p.Fields = append(p.Fields, model.Field{Key: keys[j], Value: values[rng.IntN(len(values))]()})
		}
		ps[i] = p
	}
	return ps
}

// samePoints compares points, NaN equal to NaN (Value.Equal compares bits).
func samePoints(t *testing.T, got, want []model.Point) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d points, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		ok := g.Collection == w.Collection && g.Time == w.Time && g.Tags.Equal(w.Tags) && len(g.Fields) == len(w.Fields)
		for j := 0; ok && j < len(w.Fields); j++ {
			ok = g.Fields[j].Key == w.Fields[j].Key && g.Fields[j].Value.Equal(w.Fields[j].Value)
		}
		if !ok {
			t.Fatalf("point %d: got %+v, want %+v", i, g, w)
		}
	}
}

func TestFrameRoundTrip(t *testing.T) {
	for seed := range uint64(50) {
		rng := rand.New(rand.NewPCG(seed, 7))
		nframes := rng.IntN(4)
		var (
			body   []byte
			frames [][]model.Point
			err    error
		)
		for f := range nframes {
			ps := randomPoints(rng, rng.IntN(300))
			if len(ps) == 0 {
				ps = randomPoints(rng, 1)
			}
			body, err = AppendFrame(body, uint32(f*7), uint64(f)<<40|seed, ps)
			if err != nil {
				t.Fatal(err)
			}
			frames = append(frames, ps)
		}
		b, err := Decode(body, Limits{})
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		if len(b.Frames) != nframes {
			t.Fatalf("seed %d: %d frames, want %d", seed, len(b.Frames), nframes)
		}
		var all []model.Point
		for f, want := range frames {
			fr := b.Frames[f]
			if fr.Group != uint32(f*7) || fr.Epoch != uint64(f)<<40|seed {
				t.Fatalf("seed %d frame %d: group %d epoch %d", seed, f, fr.Group, fr.Epoch)
			}
			samePoints(t, fr.Points, want)
			all = append(all, want...)
		}
		samePoints(t, b.Points, all)
	}
}

// TestFrameSharesSeries: a series' tags are written once per frame and
// decoded points of one series share them (storage finds the series once).
func TestFrameSharesSeries(t *testing.T) {
	tags := model.Tags{{Key: "device_id", Value: "a-rather-long-device-name"}}
	var ps []model.Point
	for i := range 1000 {
		ps = append(ps, model.Point{Collection: "c", Tags: append(model.Tags(nil), tags...), Time: int64(i) * 1e9,
			Fields: []model.Field{{Key: "v", Value: model.Float(float64(i))}}})
	}
	body, err := AppendFrame(nil, 0, 1, ps)
	if err != nil {
		t.Fatal(err)
	}
	// 1000 × (series 1 + time delta 5 + count 1 + key 1 + kind 1 + float 8).
	if len(body) > FrameOverhead+64+1000*17 {
		t.Fatalf("frame of %d bytes: series not shared", len(body))
	}
	b, err := Decode(body, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if &b.Points[0].Tags[0] != &b.Points[999].Tags[0] {
		t.Fatal("decoded points of one series do not share their tags")
	}
}

func TestAppendFrameRefuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    model.Point
	}{
		{"no field", model.Point{Collection: "c"}},
		{"null value", model.Point{Collection: "c", Fields: []model.Field{{Key: "v"}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := []byte("keep")
			out, err := AppendFrame(dst, 0, 0, []model.Point{tc.p})
			if err == nil || string(out) != "keep" {
				t.Fatalf("got %q, %v; want an error and dst unchanged", out, err)
			}
		})
	}
}

func validBody(t testing.TB) []byte {
	ps := []model.Point{
		{Collection: "cpu", Tags: model.Tags{{Key: "device_id", Value: "d1"}}, Time: 10,
			Fields: []model.Field{{Key: "v", Value: model.Float(1.5)}, {Key: "s", Value: model.String("x")}}},
		{Collection: "cpu", Tags: model.Tags{{Key: "device_id", Value: "d1"}}, Time: 20,
			Fields: []model.Field{{Key: "b", Value: model.Bool(true)}, {Key: "i", Value: model.Int(-3)}, {Key: "u", Value: model.Uint(3)}}},
	}
	body, err := AppendFrame(nil, 3, 9, ps)
	if err != nil {
		t.Fatal(err)
	}
	body, err = AppendFrame(body, 4, 9, ps[:1])
	if err != nil {
		t.Fatal(err)
	}
	return body
}

// TestDecodeRefusesEveryDamage: every truncation (but at a frame's end)
// and every single-bit flip of a valid body is refused: the checksum
// covers the header too.
func TestDecodeRefusesEveryDamage(t *testing.T) {
	body := validBody(t)
	if _, err := Decode(body, Limits{}); err != nil {
		t.Fatal(err)
	}
	for n := 1; n < len(body); n++ {
		_, err := Decode(body[:n], Limits{})
		if isFrameBoundary(body, n) {
			if err != nil {
				t.Fatalf("cut after a whole frame (%d bytes): %v", n, err)
			}
			continue
		}
		if !errors.Is(err, ErrTruncated) {
			t.Fatalf("truncated to %d bytes: %v, want ErrTruncated", n, err)
		}
	}
	for i := range body {
		for bit := range 8 {
			c := bytes.Clone(body)
			c[i] ^= 1 << bit
			if _, err := Decode(c, Limits{}); err == nil {
				t.Fatalf("bit %d of byte %d flipped: no error", bit, i)
			}
		}
	}
}

// isFrameBoundary reports whether n is where a frame of body ends.
func isFrameBoundary(body []byte, n int) bool {
	off := 0
	for off < n {
		off += FrameOverhead + int(binary.LittleEndian.Uint32(body[off+20:]))
	}
	return off == n
}

// frameWith returns a frame around payload with a correct checksum.
func frameWith(payload []byte) []byte {
	b := append([]byte(frameMagic), FrameVersion, 0, 0, 0)
	b = binary.LittleEndian.AppendUint32(b, 1)
	b = binary.LittleEndian.AppendUint64(b, 2)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(payload)))
	b = append(b, payload...)
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, crcTable))
}

// payload builds a payload from uvarints (ints) and raw strings.
func payload(parts ...any) []byte {
	var b []byte
	for _, p := range parts {
		switch p := p.(type) {
		case int:
			b = binary.AppendUvarint(b, uint64(p))
		case string:
			b = append(b, p...)
		case []byte:
			b = append(b, p...)
		}
	}
	return b
}

func TestDecodeErrors(t *testing.T) {
	good := validBody(t)
	trailing := append(bytes.Clone(good), 0)
	badVersion := bytes.Clone(good)
	badVersion[4] = 2
	reserved := bytes.Clone(good)
	reserved[6] = 1
	long := bytes.Clone(good)
	binary.LittleEndian.PutUint32(long[20:], 1<<31)
	for _, tc := range []struct {
		name string
		body []byte
		lim  Limits
		want error
		msg  string
	}{
		{"trailing byte", trailing, Limits{}, ErrTruncated, "frame 2 at byte"},
		{"bad magic", append([]byte("GET / HTTP/1.1\r\nHost: x\r\n"), good...), Limits{}, ErrMalformed, "bad magic"},
		{"version", badVersion, Limits{}, ErrMalformed, "unknown version 2"},
		{"reserved", reserved, Limits{}, ErrMalformed, "reserved"},
		{"huge length", long, Limits{}, ErrLimit, "more than"},
		{"frame limit", good, Limits{MaxFrameBytes: 10}, ErrLimit, "more than 10"},
		{"point limit", good, Limits{MaxPoints: 2}, ErrLimit, "points"},
		{"string limit", good, Limits{MaxStringLen: 2}, ErrLimit, "string of 3 bytes"},
		{"payload trailing", frameWith(payload(0, 0, 0, "x")), Limits{}, ErrMalformed, "1 trailing bytes"},
		{"series count", frameWith(payload(1 << 40)), Limits{}, ErrLimit, "series"},
		{"series beyond payload", frameWith(payload(1000)), Limits{}, ErrTruncated, "1000 series"},
		{"tags over model limit", frameWith(payload(1, 1, "c", 300)), Limits{}, ErrLimit, "300 tags"},
		{"series index", frameWith(payload(0, 1, 1, "v", 1, 0, 0, 1, 0, 1, make([]byte, 8))), Limits{}, ErrMalformed, "series index 0 of 0"},
		{"no field", frameWith(payload(1, 0, 0, 0, 1, 0, 0, 0, "x")), Limits{}, ErrMalformed, "without fields"},
		{"key index", frameWith(payload(1, 0, 0, 0, 1, 0, 0, 1, 5, 4, 1)), Limits{}, ErrMalformed, "field key index 5"},
		{"null value", frameWith(payload(1, 0, 0, 1, 1, "v", 1, 0, 0, 1, 0, 0, 0)), Limits{}, ErrMalformed, "without a value"},
		{"bad bool", frameWith(payload(1, 0, 0, 1, 1, "v", 1, 0, 0, 1, 0, 4, 2)), Limits{}, ErrMalformed, "bool"},
		{"bad kind", frameWith(payload(1, 0, 0, 1, 1, "v", 1, 0, 0, 1, 0, 9, 2)), Limits{}, ErrMalformed, "unknown kind 9"},
		{"varint overflow", frameWith(payload(1, 0, 0, 1, 1, "v", 1, 0, bytes.Repeat([]byte{0xff}, 10), 1)), Limits{}, ErrMalformed, "overflows"},
		{"value cut", frameWith(payload(1, 0, 0, 1, 1, "v", 1, 0, 0, 1, 0, 1, "abc")), Limits{}, ErrTruncated, "uint64"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode(tc.body, tc.lim)
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("got %v, want %v containing %q", err, tc.want, tc.msg)
			}
		})
	}
}

// TestDecodeEmpty: an empty body is no frames.
func TestDecodeEmpty(t *testing.T) {
	b, err := Decode(nil, Limits{})
	if err != nil || len(b.Frames) != 0 || len(b.Points) != 0 {
		t.Fatalf("got %+v, %v", b, err)
	}
}

// TestDecodeAllocatesInProportion: a small frame claiming many points,
// series or a long string allocates nothing for them before the bytes
// are there.
func TestDecodeAllocatesInProportion(t *testing.T) {
	for _, body := range [][]byte{
		frameWith(payload(0, 0, 1<<30)),
		frameWith(payload(1<<20, "")),
		frameWith(payload(1, 1<<23)),
	} {
		allocs := testing.AllocsPerRun(10, func() { Decode(body, Limits{}) })
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		before := ms.TotalAlloc
		Decode(body, Limits{})
		runtime.ReadMemStats(&ms)
		// The byte bound is the point (claimed counts of 2^20 and more
		// allocate nothing); the count bound is loose, since AllocsPerRun
		// counts the whole process's allocations (the race detector's and
		// the runtime's background work included).
		if got := ms.TotalAlloc - before; got > 4096 || allocs > 64 {
			t.Fatalf("%d bytes, %v allocations for a %d-byte body", got, allocs, len(body))
		}
	}
}

// FuzzDecode decodes bodies; with wrap, the input is a frame's payload
// given a valid header and checksum, so that the fuzzer reaches the
// payload's decoder without having to find CRCs.
func FuzzDecode(f *testing.F) {
	f.Add(validBody(f), false)
	f.Add([]byte{}, false)
	f.Add(payload(0, 0, 0), true)
	f.Add(payload(1, 0, 0, 1, 1, "v", 1, 0, 0, 1, 0, 4, 2), true)
	f.Add(payload(1, 1, "c", 1, 1, "k", 1, "v", 2, 1, "a", 1, "b", 2, 0, 10, 2, 0, 4, 1, 1, 2, 7, 0, 1, 1, 5, 2, "xy"), true)
	rng := rand.New(rand.NewPCG(1, 2))
	b, _ := AppendFrame(nil, 5, 6, randomPoints(rng, 20))
	f.Add(b, false)
	f.Add(b[FrameHeaderLen:len(b)-4], true)
	f.Fuzz(func(t *testing.T, body []byte, wrap bool) {
		if wrap {
			body = frameWith(body)
		}
		lim := Limits{MaxFrameBytes: 1 << 20, MaxPoints: 1 << 16, MaxStringLen: 1 << 16}
		batch, err := Decode(body, lim)
		if err != nil {
			return
		}
		// What decodes re-encodes to a body that decodes the same.
		var again []byte
		for _, fr := range batch.Frames {
			if len(fr.Points) == 0 {
				continue
			}
			if again, err = AppendFrame(again, fr.Group, fr.Epoch, fr.Points); err != nil {
				t.Fatalf("re-encode: %v", err)
			}
		}
		b2, err := Decode(again, lim)
		if err != nil {
			t.Fatalf("decode the re-encoded body: %v", err)
		}
		samePoints(t, b2.Points, batch.Points)
	})
}

// TestDecodeIntoReuses: a released batch decodes the next body right,
// reusing its points and fields.
func TestDecodeIntoReuses(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var b Batch
	for round := range 5 {
		ps := randomPoints(rng, 100+round*50)
		body, err := AppendFrame(nil, 1, 2, ps)
		if err != nil {
			t.Fatal(err)
		}
		if err := DecodeInto(&b, body, Limits{}); err != nil {
			t.Fatal(err)
		}
		samePoints(t, b.Points, ps)
		samePoints(t, b.Frames[0].Points, ps)
		if round < 4 {
			b.Release()
		}
	}
	body, _ := AppendFrame(nil, 1, 2, randomPoints(rng, 200))
	allocs := testing.AllocsPerRun(10, func() {
		b.Release()
		if err := DecodeInto(&b, body, Limits{}); err != nil {
			t.Fatal(err)
		}
	})
	fresh := testing.AllocsPerRun(10, func() { Decode(body, Limits{}) })
	if allocs >= fresh-2 {
		t.Fatalf("%v allocations reusing a batch, %v fresh", allocs, fresh)
	}
	if err := DecodeInto(&b, append(body, 0), Limits{}); err == nil || len(b.Frames) != 0 || len(b.Points) != 0 {
		t.Fatalf("after an error: %v, %d frames, %d points", err, len(b.Frames), len(b.Points))
	}
}

// TestEncoderHashCollision: series whose hashes collide keep their own
// table entries.
func TestEncoderHashCollision(t *testing.T) {
	e := encoders.New().(*encoder)
	a := model.Tags{{Key: "device_id", Value: "a"}}
	b := model.Tags{{Key: "device_id", Value: "b"}}
	if got := e.seriesIndex("c", a); got != 0 {
		t.Fatalf("a: %d", got)
	}
	e.byHash[seriesHash("c", b)] = 0 // b's hash now leads to a, as a collision would
	for _, tc := range []struct {
		tags model.Tags
		want int
	}{{b, 1}, {a, 0}, {b, 1}} {
		if got := e.seriesIndex("c", tc.tags); got != tc.want {
			t.Fatalf("%v: index %d, want %d", tc.tags, got, tc.want)
		}
	}
	if len(e.series) != 2 {
		t.Fatalf("%d series", len(e.series))
	}
}
