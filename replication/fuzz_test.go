package replication

import (
	"strconv"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/soltixdb/soltix/model"
)

// FuzzDecodeMessage: decoding any headers and data either fails with
// ErrMalformed or yields a message that encodes back to the same data.
func FuzzDecodeMessage(f *testing.F) {
	add := func(m *Message) {
		data, err := encodeData(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(m.Kind), strconv.Itoa(m.Group), strconv.FormatUint(m.Epoch, 10), strconv.FormatUint(m.Prev, 10), data)
	}
	add(&Message{Kind: KindWrite, Group: 2, Epoch: 3, Prev: 4, Points: points(5, 0, false)})
	add(&Message{Kind: KindWrite, Group: 2, Epoch: 3, Prev: 0, Points: points(2, 7, true)})
	add(&Message{Kind: KindDelete, Group: 2, Epoch: 1, Prev: 9, Delete: &Delete{Collection: "dev", Series: []model.Tags{{{Key: "a", Value: "b"}}, {}}, Min: -5, Max: 5}})
	add(&Message{Kind: KindFence, Group: 2, Epoch: 7, Prev: 1})
	f.Add("write", "2", "3", "x", []byte{1, 2, 3})
	f.Add("delete", "2", "1", "1", []byte{0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, kind, group, epoch, prev string, data []byte) {
		h := nats.Header{}
		h.Set(hdrKind, kind)
		h.Set(hdrGroup, group)
		h.Set(hdrEpoch, epoch)
		h.Set(hdrPrev, prev)
		m, err := decodeMessage(h, data, 100, 2)
		if err != nil {
			return
		}
		if m.Group != 2 || m.Prev >= 100 {
			t.Fatalf("decoded %+v", m)
		}
		back, err := encodeData(m)
		if err != nil {
			t.Fatalf("decoded message does not encode: %v", err)
		}
		if m.Kind == KindWrite {
			// A frame re-encodes to the same points, not always to the
			// same bytes (series order); decode it again.
			m2, err := decodeMessage(h, back, 100, 2)
			if err != nil || describe(m2.Points) != describe(m.Points) {
				t.Fatalf("write does not round-trip: %v", err)
			}
			return
		}
		if string(back) != string(data) {
			t.Fatalf("%s re-encodes to %x, was %x", m.Kind, back, data)
		}
	})
}
