package wire

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func messages() []byte {
	var b []byte
	b = AppendMessage(b, 1, []byte("first"))
	b = AppendMessage(b, 2, nil)
	b, start := BeginMessage(b, 3)
	b = AppendString(b, strings.Repeat("x", 200_000))
	return FinishMessage(b, start)
}

func TestMessagesRoundTrip(t *testing.T) {
	for _, slow := range []bool{false, true} {
		var r io.Reader = bytes.NewReader(messages())
		if slow {
			r = iotest.OneByteReader(r)
		}
		m := NewMessageReader(r, 1<<20)
		want := []struct {
			typ byte
			n   int
		}{{1, 5}, {2, 0}, {3, 200_003}}
		for i, w := range want {
			typ, p, err := m.Next()
			if err != nil || typ != w.typ || len(p) != w.n {
				t.Fatalf("message %d: type %d, %d bytes, %v; want type %d, %d bytes", i, typ, len(p), err, w.typ, w.n)
			}
			if i == 2 {
				rd := NewReader(p, 0, 1<<20)
				if s := rd.String(); len(s) != 200_000 || rd.Done() != nil {
					t.Fatalf("payload: %d bytes, %v", len(s), rd.Err())
				}
			}
		}
		if _, _, err := m.Next(); err != io.EOF {
			t.Fatalf("after the last message: %v, want io.EOF", err)
		}
	}
}

func TestMessagesRefuse(t *testing.T) {
	all := messages()
	first := len(AppendMessage(nil, 1, []byte("first")))
	flipped := bytes.Clone(all)
	flipped[first+5] ^= 0x10 // the second message's type
	for _, tc := range []struct {
		name string
		b    []byte
		max  int
		want error
		msg  string
	}{
		{"cut in header", all[:first+3], 1 << 20, ErrTruncated, "message 1 at byte 21: header of 3 bytes"},
		{"cut in payload", all[:len(all)-1], 1 << 20, ErrTruncated, "message 2"},
		{"checksum", flipped, 1 << 20, ErrChecksum, "message 1"},
		{"limit", all, 100, ErrLimit, "payload of 200003 bytes, more than 100"},
		{"magic", append([]byte("HTTP/1.1 200 OK"), all...), 1 << 20, ErrMalformed, "bad magic"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := NewMessageReader(bytes.NewReader(tc.b), tc.max)
			var err error
			for err == nil {
				_, _, err = m.Next()
			}
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("got %v, want %v containing %q", err, tc.want, tc.msg)
			}
			if _, _, again := m.Next(); again != err {
				t.Fatalf("error does not stick: %v", again)
			}
		})
	}
}

// TestMessageReaderGrowsWithInput: a header claiming a large payload
// allocates for the bytes that arrive, not for the claim.
func TestMessageReaderGrowsWithInput(t *testing.T) {
	b, _ := BeginMessage(nil, 1)
	b[8], b[9], b[10] = 0xff, 0xff, 0xff // 16 MiB claimed, nothing sent
	allocs := testing.AllocsPerRun(5, func() {
		m := NewMessageReader(bytes.NewReader(b), 64<<20)
		if _, _, err := m.Next(); !errors.Is(err, ErrTruncated) {
			t.Fatal(err)
		}
	})
	if allocs > 20 {
		t.Fatalf("%v allocations", allocs)
	}
}

func FuzzMessages(f *testing.F) {
	f.Add(messages())
	f.Add([]byte{})
	f.Add(AppendMessage(nil, 0, []byte{1, 2, 3}))
	f.Fuzz(func(t *testing.T, b []byte) {
		m := NewMessageReader(bytes.NewReader(b), 1<<16)
		var n int
		for {
			_, p, err := m.Next()
			if err != nil {
				if err == io.EOF && n > len(b) {
					t.Fatalf("%d messages from %d bytes", n, len(b))
				}
				return
			}
			n += MessageHeaderLen + len(p) + 4
			// Values decode without panicking.
			r := NewReader(p, 0, 1<<10)
			for r.Len() > 0 && r.Err() == nil {
				r.Value()
			}
		}
	})
}
