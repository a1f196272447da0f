package remote

import (
	"bytes"
	"math"
	"reflect"
	"testing"

	"github.com/soltixdb/soltix/model"
)

func TestTailRecordRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name   string
		points []model.Point
	}{
		{"empty", nil},
		{"every kind", []model.Point{{Collection: "c", Tags: model.Tags{{Key: "device_id", Value: "d"}, {Key: "z", Value: ""}}, Time: -5,
			Fields: []model.Field{{Key: "f", Value: model.Float(math.Inf(-1))}, {Key: "i", Value: model.Int(math.MinInt64)},
				{Key: "u", Value: model.Uint(math.MaxUint64)}, {Key: "b", Value: model.Bool(true)}, {Key: "s", Value: model.String("x\x00y")},
				{Key: "n", Value: model.Null}}}}},
		{"no tags", []model.Point{{Collection: "c", Time: 1, Fields: []model.Field{{Key: "b", Value: model.Bool(false)}}},
			{Collection: "d", Time: math.MaxInt64, Fields: []model.Field{{Key: "v", Value: model.Int(3)}}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := appendTailRecord([]byte("x"), 42, tc.points)[1:]
			b = appendTailRecord(b, 43, nil)
			seq, got, rest, err := decodeTailRecord(b)
			if err != nil || seq != 42 {
				t.Fatalf("seq %d err %v", seq, err)
			}
			if len(got) != len(tc.points) || (len(got) > 0 && !reflect.DeepEqual(got, tc.points)) {
				t.Fatalf("points %+v, want %+v", got, tc.points)
			}
			if seq, got, rest, err = decodeTailRecord(rest); err != nil || seq != 43 || len(got) != 0 || len(rest) != 0 {
				t.Fatalf("second record: seq %d points %d rest %d err %v", seq, len(got), len(rest), err)
			}
		})
	}
}

func TestTailRecordDamage(t *testing.T) {
	good := appendTailRecord(nil, 7, []model.Point{{Collection: "c", Time: 1, Fields: []model.Field{{Key: "v", Value: model.Int(1)}}}})
	flip := bytes.Clone(good)
	flip[len(flip)-1] ^= 1
	for _, tc := range []struct {
		name string
		b    []byte
	}{
		{"short header", good[:5]},
		{"short payload", good[:len(good)-1]},
		{"checksum", flip},
		{"huge length", append([]byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0}, good[8:]...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, _, err := decodeTailRecord(tc.b); err == nil {
				t.Fatal("damaged record decoded")
			}
		})
	}
}

func TestTailLog(t *testing.T) {
	tl := newTailLog(1 << 20)
	pts := []model.Point{{Collection: "c", Time: 1, Fields: []model.Field{{Key: "v", Value: model.Int(1)}}}}
	for range 5 {
		tl.append(pts)
	}
	b, next, end, err := tl.read(0, 1)
	if err != nil || next != 1 || end != 5 || len(b) == 0 {
		t.Fatalf("read(0,1): %d bytes next %d end %d err %v", len(b), next, end, err)
	}
	if _, next, end, err = tl.read(3, 1<<20); err != nil || next != 5 || end != 5 {
		t.Fatalf("read(3): next %d end %d err %v", next, end, err)
	}
	if _, _, _, err = tl.read(1, 1<<20); err == nil {
		t.Fatal("read of an acknowledged batch succeeded")
	}
	small := newTailLog(int64(len(appendTailRecord(nil, 0, pts))))
	small.append(pts)
	small.append(pts)
	if _, _, _, err := small.read(0, 1<<20); err != ErrTailOverflow {
		t.Fatalf("overflowed tail read: %v", err)
	}
}

func FuzzDecodeTailRecord(f *testing.F) {
	f.Add(appendTailRecord(nil, 1, []model.Point{{Collection: "c", Tags: model.Tags{{Key: "k", Value: "v"}}, Time: 1,
		Fields: []model.Field{{Key: "f", Value: model.Float(1.5)}, {Key: "s", Value: model.String("x")}}}}))
	f.Add([]byte{})
	f.Add([]byte{1, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		seq, pts, rest, err := decodeTailRecord(b)
		if err != nil {
			return
		}
		// What decodes re-encodes to a record that decodes the same.
		seq2, pts2, rest2, err := decodeTailRecord(appendTailRecord(nil, seq, pts))
		if err != nil || seq2 != seq || len(rest2) != 0 || len(pts2) != len(pts) || (len(pts) > 0 && !reflect.DeepEqual(pts, pts2)) {
			t.Fatalf("re-encoded record: seq %d/%d, %d/%d points, err %v", seq2, seq, len(pts2), len(pts), err)
		}
		if len(rest) >= len(b) {
			t.Fatal("a record decoded from no bytes")
		}
	})
}
