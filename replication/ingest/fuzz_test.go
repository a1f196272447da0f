package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/soltixdb/soltix/storage"
)

// FuzzProcess feeds arbitrary bodies and headers to the message handling
// over a real storage.DB: it never panics, a body is either written whole
// or has a dead-letter reason, bad lines always come with one, the reply
// is JSON and the dead letter fits the payload limit.
func FuzzProcess(f *testing.F) {
	seeds := []struct {
		ct, enc, prec string
		body          []byte
	}{
		{"", "", "", []byte("f,device_id=d v=1 1\n")},
		{"", "", "s", []byte("f,device_id=d v=1 1\nf,device_id=d v=oops 2\n")},
		{"application/json", "", "", []byte(`[{"device_id":"d","time":1,"fields":{"v":1}}]`)},
		{"application/json", "", "", []byte(`{"device_id":`)},
		{"", "gzip", "", []byte("not gzip")},
		{"", "br", "", nil},
		{"", "", "parsec", []byte("x")},
		{"", "", "", []byte("other,device_id=d v=1 1\n")},
	}
	for _, s := range seeds {
		f.Add(s.ct, s.enc, s.prec, s.body)
	}
	db, err := storage.Open(f.TempDir(), &storage.Options{FlushInterval: -1, Logger: quiet()})
	if err != nil {
		f.Fatal(err)
	}
	defer db.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := &Subscriber{store: db, opts: Options{MaxBodyBytes: 1 << 16, MaxRetries: -1}.withDefaults(), log: quiet(), stopping: ctx}
	s.metrics.deadLetters = map[string]uint64{}
	f.Fuzz(func(t *testing.T, ct, enc, prec string, body []byte) {
		hdr := nats.Header{}
		for k, v := range map[string]string{HeaderContentType: ct, HeaderContentEncoding: enc, HeaderPrecision: prec} {
			if v != "" {
				hdr.Set(k, v)
			}
		}
		r := s.process(SubjectPrefix+"f", hdr, body)
		switch {
		case r.reason == "" && len(r.bad) > 0:
			t.Fatalf("bad lines %v without a reason", r.bad)
		case r.reason == ReasonBadLines && len(r.bad) == 0:
			t.Fatal("reason bad-lines without bad lines")
		case r.reason != "" && r.err == "":
			t.Fatalf("reason %s without an error", r.reason)
		case r.written < 0 || r.written > len(body)/4+1:
			t.Fatalf("%d points written from %d bytes", r.written, len(body))
		}
		if !json.Valid(r.reply()) {
			t.Fatalf("reply %q is not JSON", r.reply())
		}
		const max = 1 << 12
		dl := s.deadLetterMsg(&nats.Msg{Subject: SubjectPrefix + "f", Header: hdr, Data: body}, r, max)
		if size := headerSize(dl.Header) + int64(len(dl.Data)); size > max && len(dl.Data) > 0 {
			t.Fatalf("dead letter of %d bytes over %d", size, max)
		}
		if !bytes.HasPrefix(body, dl.Data) {
			t.Fatal("dead letter body is not the start of the body")
		}
	})
}
