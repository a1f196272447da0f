package remote

import (
	"bytes"
	"errors"
	"math"
	"reflect"
	"testing"

	"github.com/soltixdb/soltix/model"
)

func TestTailRecordRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name string
		e    tailEntry
	}{
		{"empty write", tailEntry{Seq: 42}},
		{"every kind", tailEntry{Seq: 42, Points: []model.Point{{Collection: "c", Tags: model.Tags{{Key: "device_id", Value: "d"}, {Key: "z", Value: ""}}, Time: -5,
			Fields: []model.Field{{Key: "f", Value: model.Float(math.Inf(-1))}, {Key: "i", Value: model.Int(math.MinInt64)},
				{Key: "u", Value: model.Uint(math.MaxUint64)}, {Key: "b", Value: model.Bool(true)}, {Key: "s", Value: model.String("x\x00y")},
				{Key: "n", Value: model.Null}}}}}},
		{"no tags", tailEntry{Seq: math.MaxUint64, Points: []model.Point{{Collection: "c", Time: 1, Fields: []model.Field{{Key: "b", Value: model.Bool(false)}}},
			{Collection: "d", Time: math.MaxInt64, Fields: []model.Field{{Key: "v", Value: model.Int(3)}}}}}},
		{"delete", tailEntry{Seq: 7, Delete: &tailDelete{Collection: "c", Min: math.MinInt64, Max: 5,
			Series: []model.Tags{{{Key: "device_id", Value: "a"}}, nil, {{Key: "k", Value: "v"}, {Key: "l", Value: "w"}}}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := appendTailRecord([]byte("x"), tc.e)[1:]
			b = appendTailRecord(b, tailEntry{Seq: 43})
			got, rest, err := decodeTailRecord(b)
			if err != nil {
				t.Fatal(err)
			}
			if got.Seq != tc.e.Seq || len(got.Points) != len(tc.e.Points) || (len(got.Points) > 0 && !reflect.DeepEqual(got.Points, tc.e.Points)) ||
				!reflect.DeepEqual(got.Delete, tc.e.Delete) {
				t.Fatalf("decoded %+v, want %+v", got, tc.e)
			}
			if got, rest, err = decodeTailRecord(rest); err != nil || got.Seq != 43 || len(got.Points) != 0 || got.Delete != nil || len(rest) != 0 {
				t.Fatalf("second record: %+v rest %d err %v", got, len(rest), err)
			}
		})
	}
}

func TestTailRecordDamage(t *testing.T) {
	good := appendTailRecord(nil, tailEntry{Seq: 7, Points: []model.Point{{Collection: "c", Time: 1, Fields: []model.Field{{Key: "v", Value: model.Int(1)}}}}})
	flip := bytes.Clone(good)
	flip[len(flip)-1] ^= 1
	kind := bytes.Clone(good)
	kind[9] = 9 // the kind byte, after the one-byte batch number
	kind = finishTailRecord(kind, 0)
	for _, tc := range []struct {
		name string
		b    []byte
	}{
		{"short header", good[:5]},
		{"short payload", good[:len(good)-1]},
		{"checksum", flip},
		{"unknown kind", kind},
		{"huge length", append([]byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0}, good[8:]...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := decodeTailRecord(tc.b); err == nil {
				t.Fatal("damaged record decoded")
			}
		})
	}
}

func TestTailLog(t *testing.T) {
	tl := newTailLog(1 << 20)
	pts := []model.Point{{Collection: "c", Time: 1, Fields: []model.Field{{Key: "v", Value: model.Int(1)}}}}
	for range 4 {
		tl.appendWrite(pts)
	}
	tl.appendDelete("c", []model.Tags{nil}, 0, 1)
	b, next, end, err := tl.read(0, 1)
	if err != nil || next != 1 || end != 5 || len(b) == 0 {
		t.Fatalf("read(0,1): %d bytes next %d end %d err %v", len(b), next, end, err)
	}
	if b, next, end, err = tl.read(3, 1<<20); err != nil || next != 5 || end != 5 {
		t.Fatalf("read(3): next %d end %d err %v", next, end, err)
	}
	for want := uint64(3); len(b) > 0; want++ {
		var e tailEntry
		if e, b, err = decodeTailRecord(b); err != nil || e.Seq != want || (want == 4) != (e.Delete != nil) {
			t.Fatalf("batch %d: %+v err %v", want, e, err)
		}
	}
	if _, _, _, err = tl.read(1, 1<<20); err == nil {
		t.Fatal("read of an acknowledged batch succeeded")
	}
	small := newTailLog(int64(len(appendTailRecord(nil, tailEntry{Points: pts}))))
	small.appendWrite(pts)
	small.appendWrite(pts)
	if _, _, _, err := small.read(0, 1<<20); !errors.Is(err, ErrTailOverflow) {
		t.Fatalf("overflowed tail read: %v", err)
	}
}

func FuzzDecodeTailRecord(f *testing.F) {
	f.Add(appendTailRecord(nil, tailEntry{Seq: 1, Points: []model.Point{{Collection: "c", Tags: model.Tags{{Key: "k", Value: "v"}}, Time: 1,
		Fields: []model.Field{{Key: "f", Value: model.Float(1.5)}, {Key: "s", Value: model.String("x")}}}}}))
	f.Add(appendTailRecord(nil, tailEntry{Seq: 2, Delete: &tailDelete{Collection: "c", Series: []model.Tags{{{Key: "k", Value: "v"}}}, Max: 9}}))
	f.Add([]byte{})
	f.Add([]byte{1, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		e, rest, err := decodeTailRecord(b)
		if err != nil {
			return
		}
		if len(rest) >= len(b) {
			t.Fatal("a record decoded from no bytes")
		}
		// What decodes re-encodes to a record that decodes the same.
		e2, rest2, err := decodeTailRecord(appendTailRecord(nil, e))
		if err != nil || len(rest2) != 0 || e2.Seq != e.Seq || len(e2.Points) != len(e.Points) ||
			(len(e.Points) > 0 && !reflect.DeepEqual(e.Points, e2.Points)) || !reflect.DeepEqual(e.Delete, e2.Delete) {
			t.Fatalf("re-encoded record decodes to %+v, want %+v (err %v)", e2, e, err)
		}
	})
}
