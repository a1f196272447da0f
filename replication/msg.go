package replication

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/nats-io/nats.go"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/remote/wire"
)

// A message of a group's subject. Its headers:
//
//	Soltix-Kind   "write", "delete" or "fence"
//	Soltix-Group  the group, decimal
//	Soltix-Epoch  the epoch its primary held the group at, decimal
//	Soltix-Prev   the stream sequence of the previous message on the
//	              subject (0: none), which JetStream checked on publish
//	Soltix-Empty  "1" on a fence published by a primary that held nothing
//	              of the group: a replica with nothing may start there
//	Soltix-Resync "1" on a fence published by a primary that restarted
//	              after a crash: it may hold changes it never published,
//	              so its replicas copy the group again
//	Nats-Msg-Id   <group>-<epoch>-<lead>-<n>: the publishing lead's random
//	              id and the message's number in it, so that a publish
//	              retried after a lost acknowledgement is recognised as a
//	              duplicate, and no other message is
//
// A write's data is one write frame of remote/wire (the group, the epoch
// and the points, checksummed); a delete's is collection, min, max and the
// series (wire.MsgEnc strings, varints and tags); a fence's is empty.
const (
	hdrKind   = "Soltix-Kind"
	hdrGroup  = "Soltix-Group"
	hdrEpoch  = "Soltix-Epoch"
	hdrPrev   = "Soltix-Prev"
	hdrEmpty  = "Soltix-Empty"
	hdrResync = "Soltix-Resync"
)

// Kind says what a message carries.
type Kind string

// The kinds of message.
const (
	KindWrite  Kind = "write"
	KindDelete Kind = "delete"
	KindFence  Kind = "fence"
)

// Delete is a replicated delete: the series of a collection lose their
// points with times in [Min, Max].
type Delete struct {
	Collection string
	Series     []model.Tags
	Min, Max   int64
}

// Message is one change of a group as a replica receives it.
type Message struct {
	Kind  Kind
	Group int
	Epoch uint64
	Prev  uint64 // the stream sequence of the subject's previous message
	Seq   uint64 // this message's stream sequence
	// Empty marks a fence published by a primary holding nothing of the
	// group.
	Empty bool
	// Resync marks a fence published by a primary that restarted after a
	// crash: its replicas copy the group (ErrResync).
	Resync bool
	// ID is the message's Nats-Msg-Id (set by its lead).
	ID     string
	Points []model.Point
	Delete *Delete
}

// ErrMalformed is wrapped by the errors of a message that does not decode.
var ErrMalformed = errors.New("malformed replication message")

// maxData bounds a message's data: NATS's default max_payload (1 MiB)
// less room for headers. A write frame larger than it is split.
const maxData = 1<<20 - 4<<10

// encodeData returns a message's data.
func encodeData(m *Message) ([]byte, error) {
	switch m.Kind {
	case KindWrite:
		return wire.AppendFrame(nil, uint32(m.Group), m.Epoch, m.Points)
	case KindDelete:
		var e wire.MsgEnc
		e.String(m.Delete.Collection)
		e.Varint(m.Delete.Min)
		e.Varint(m.Delete.Max)
		e.Uvarint(uint64(len(m.Delete.Series)))
		for _, t := range m.Delete.Series {
			e.Tags(t)
		}
		return e.B, nil
	case KindFence:
		return nil, nil
	}
	return nil, fmt.Errorf("replication: message of kind %q", m.Kind)
}

// header returns a message's headers.
func header(m *Message) nats.Header {
	h := nats.Header{}
	h.Set(hdrKind, string(m.Kind))
	h.Set(hdrGroup, strconv.Itoa(m.Group))
	h.Set(hdrEpoch, strconv.FormatUint(m.Epoch, 10))
	h.Set(hdrPrev, strconv.FormatUint(m.Prev, 10))
	if m.ID != "" {
		h.Set(nats.MsgIdHdr, m.ID)
	}
	if m.Kind == KindFence && m.Empty {
		h.Set(hdrEmpty, "1")
	}
	if m.Kind == KindFence && m.Resync {
		h.Set(hdrResync, "1")
	}
	return h
}

// decodeMessage decodes a message of group g's subject (h its headers,
// data its payload, seq its stream sequence); maxPoints bounds a write's
// points.
func decodeMessage(h nats.Header, data []byte, seq uint64, g int) (*Message, error) {
	m := &Message{Kind: Kind(h.Get(hdrKind)), Seq: seq}
	var err error
	num := func(name string) uint64 {
		v, e := strconv.ParseUint(h.Get(name), 10, 64)
		if e != nil && err == nil {
			err = fmt.Errorf("replication: header %s %q: %w", name, h.Get(name), ErrMalformed)
		}
		return v
	}
	group := num(hdrGroup)
	m.Epoch = num(hdrEpoch)
	m.Prev = num(hdrPrev)
	if err != nil {
		return nil, err
	}
	if group != uint64(g) {
		return nil, fmt.Errorf("replication: message of group %d on group %d's subject: %w", group, g, ErrMalformed)
	}
	m.Group = g
	if m.Prev >= seq {
		return nil, fmt.Errorf("replication: message %d names %d as its previous: %w", seq, m.Prev, ErrMalformed)
	}
	switch m.Kind {
	case KindWrite:
		b, err := wire.Decode(data, wire.Limits{MaxFrameBytes: maxData})
		if err != nil {
			return nil, fmt.Errorf("replication: write %d: %w: %w", seq, err, ErrMalformed)
		}
		if len(b.Frames) != 1 || b.Frames[0].Group != uint32(g) || b.Frames[0].Epoch != m.Epoch {
			return nil, fmt.Errorf("replication: write %d: want one frame of group %d at epoch %d: %w", seq, g, m.Epoch, ErrMalformed)
		}
		m.Points = b.Points
	case KindDelete:
		d := wire.MsgDec{B: data}
		del := &Delete{Collection: d.String(), Min: d.Varint(), Max: d.Varint()}
		n := d.Count(1)
		for i := 0; i < n && d.Err() == nil; i++ {
			del.Series = append(del.Series, d.Tags())
		}
		if err := d.Done(); err != nil {
			return nil, fmt.Errorf("replication: delete %d: %w: %w", seq, err, ErrMalformed)
		}
		if del.Collection == "" || del.Min > del.Max {
			return nil, fmt.Errorf("replication: delete %d of %q over [%d, %d]: %w", seq, del.Collection, del.Min, del.Max, ErrMalformed)
		}
		m.Delete = del
	case KindFence:
		if len(data) != 0 {
			return nil, fmt.Errorf("replication: fence %d with %d bytes: %w", seq, len(data), ErrMalformed)
		}
		m.Empty = h.Get(hdrEmpty) == "1"
		m.Resync = h.Get(hdrResync) == "1"
	default:
		return nil, fmt.Errorf("replication: message %d of kind %q: %w", seq, m.Kind, ErrMalformed)
	}
	return m, nil
}
