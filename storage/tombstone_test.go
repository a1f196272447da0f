package storage

import (
	"context"
	"fmt"
	"math"
	"reflect"
	"testing"

	"github.com/soltixdb/soltix/model"
)

// TestDelete deletes in every state the data can be in (memory, files,
// both) and checks the answer live, after a flush, and after restarts —
// including the restart after a flush that truncated the WAL segment the
// delete was first written to.
func TestDelete(t *testing.T) {
	d1 := model.Tags{{Key: "device_id", Value: "d1"}}
	d2 := model.Tags{{Key: "device_id", Value: "d2"}}
	type step struct {
		write   []int64 // times written to d1 and d2 (value = time)
		flush   bool
		del     []int64 // [min, max] deleted from d1
		restart bool
	}
	tests := []struct {
		name  string
		steps []step
		want  []int64 // d1's remaining times; d2 keeps everything
	}{
		{"memory only", []step{{write: []int64{1, 2, 3, 4}}, {del: []int64{2, 3}}}, []int64{1, 4}},
		{"files only", []step{{write: []int64{1, 2, 3, 4}, flush: true}, {del: []int64{2, 3}}}, []int64{1, 4}},
		{"files and memory", []step{{write: []int64{1, 2}, flush: true}, {write: []int64{3, 4}}, {del: []int64{2, 3}}}, []int64{1, 4}},
		{"rewritten after delete", []step{{write: []int64{1, 2, 3}, flush: true}, {del: []int64{1, 3}}, {write: []int64{2}}}, []int64{2}},
		{"delete then flush", []step{{write: []int64{1, 2, 3}, flush: true}, {write: []int64{4}}, {del: []int64{3, 4}}, {flush: true}}, []int64{1, 2}},
		{"replayed from the wal", []step{{write: []int64{1, 2, 3}, flush: true}, {del: []int64{1, 1}}, {restart: true}}, []int64{2, 3}},
		{"carried over by flushes", []step{{write: []int64{1, 2, 3}, flush: true}, {del: []int64{2, 2}}, {write: []int64{9}, flush: true}, {flush: true}, {restart: true}}, []int64{1, 3, 9}},
		{"whole range", []step{{write: []int64{-5, 1, 2}, flush: true}, {write: []int64{3}}, {del: []int64{math.MinInt64, math.MaxInt64}}, {restart: true}}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			db := openTest(t, dir)
			defer func() { db.Close() }()
			ctx := context.Background()
			var all []int64
			for i, st := range tc.steps {
				for _, ts := range st.write {
					pts := []model.Point{pt("c", "d1", ts, iv("n", ts)), pt("c", "d2", ts, iv("n", ts))}
					if err := db.Write(ctx, pts); err != nil {
						t.Fatalf("step %d: Write: %v", i, err)
					}
					all = append(all, ts)
				}
				if st.del != nil {
					if err := db.Delete(ctx, "c", []model.Tags{d1}, st.del[0], st.del[1]); err != nil {
						t.Fatalf("step %d: Delete: %v", i, err)
					}
				}
				if st.flush {
					if err := db.Flush(ctx); err != nil {
						t.Fatalf("step %d: Flush: %v", i, err)
					}
				}
				if st.restart {
					if err := db.Close(); err != nil {
						t.Fatal(err)
					}
					db = openTest(t, dir)
				}
			}
			times := func(tags model.Tags) []int64 {
				var out []int64
				for ts, v := range readAll(t, db, "c", tags, "n")["n"] {
					if v.Int() != ts {
						t.Fatalf("value at %d is %v", ts, v)
					}
					out = append(out, ts)
				}
				sortInts(out)
				return out
			}
			if got := times(d1); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("d1 times = %v, want %v", got, tc.want)
			}
			uniq := map[int64]bool{}
			var want2 []int64
			for _, ts := range all {
				if !uniq[ts] {
					uniq[ts] = true
					want2 = append(want2, ts)
				}
			}
			sortInts(want2)
			if got := times(d2); !reflect.DeepEqual(got, want2) {
				t.Errorf("d2 times = %v, want %v (untouched)", got, want2)
			}
			// And once more after a final restart.
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			db = openTest(t, dir)
			if got := times(d1); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("after a last restart: d1 times = %v, want %v", got, tc.want)
			}
		})
	}
}

func sortInts(s []int64) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

func TestDeleteRecordRoundTrip(t *testing.T) {
	in := &tombstone{seq: 42, coll: "c", min: -7, max: 1 << 60, series: []model.Tags{
		{{Key: "device_id", Value: "d1"}}, nil, {{Key: "a", Value: ""}, {Key: "b", Value: "x,y=z"}},
	}}
	in.index()
	got, err := decodeDelete(appendDelete(nil, in))
	if err != nil || got.seq != in.seq || got.coll != in.coll || got.min != in.min || got.max != in.max || fmt.Sprint(got.series) != fmt.Sprint(in.series) || len(got.keys) != 3 {
		t.Fatalf("decodeDelete(appendDelete(%+v)) = %+v, %v", in, got, err)
	}
	for n := 0; n < len(appendDelete(nil, in)); n++ {
		if _, err := decodeDelete(appendDelete(nil, in)[:n]); err == nil {
			t.Fatalf("truncated to %d bytes: decoded without error", n)
		}
	}
}

func FuzzDecodeDelete(f *testing.F) {
	t := &tombstone{seq: 3, coll: "c", min: 1, max: 9, series: []model.Tags{{{Key: "device_id", Value: "d1"}}}}
	f.Add(appendDelete(nil, t))
	f.Add([]byte{2, 1, 0, 0, 0, 200})
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := decodeDelete(b)
		if err != nil {
			return
		}
		again, err := decodeDelete(appendDelete(nil, got))
		if err != nil || again.seq != got.seq || again.coll != got.coll || again.min != got.min || again.max != got.max || !reflect.DeepEqual(again.series, got.series) {
			t.Fatalf("%x: re-encode mismatch: %+v vs %+v (%v)", b, again, got, err)
		}
	})
}
