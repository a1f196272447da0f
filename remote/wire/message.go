package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
)

// A message is one unit of a streamed answer (a query fragment's rows,
// summaries, an error, the end): a 12-byte header, a payload and the
// CRC-32C of header and payload:
//
//	magic "SXMS" | version 1 | type byte | 2 zero bytes |
//	payload length uint32                  (little endian)
//	payload
//	crc32c uint32
//
// The type is the caller's; this package only frames and checks.
const (
	messageMagic = "SXMS"
	// MessageVersion is the message format's version.
	MessageVersion = 1
	// MessageHeaderLen is the length of a message's header.
	MessageHeaderLen = 12
)

// BeginMessage appends a message header of type typ to dst, for the
// caller to append the payload and then call FinishMessage with the
// returned start.
func BeginMessage(dst []byte, typ byte) (out []byte, start int) {
	start = len(dst)
	dst = append(dst, messageMagic...)
	dst = append(dst, MessageVersion, typ, 0, 0, 0, 0, 0, 0)
	return dst, start
}

// FinishMessage sets the length of the message begun at start and appends
// its checksum. It panics if the payload is over 4 GiB (a caller's bug:
// streams send bounded chunks).
func FinishMessage(dst []byte, start int) []byte {
	n := len(dst) - start - MessageHeaderLen
	if n < 0 || uint64(n) > 1<<32-1 {
		panic(fmt.Sprintf("wire: message payload of %d bytes", n))
	}
	binary.LittleEndian.PutUint32(dst[start+8:], uint32(n))
	return binary.LittleEndian.AppendUint32(dst, crc32.Checksum(dst[start:], crcTable))
}

// AppendMessage appends a whole message of type typ holding payload.
func AppendMessage(dst []byte, typ byte, payload []byte) []byte {
	dst, start := BeginMessage(dst, typ)
	dst = append(dst, payload...)
	return FinishMessage(dst, start)
}

// MessageReader reads messages from a stream, refusing payloads over a
// limit. It reads only whole messages: a stream that ends between two
// messages ends with io.EOF, one that ends inside a message with an error
// wrapping ErrTruncated.
type MessageReader struct {
	r   io.Reader
	max int
	off int64 // offset of the next message in the stream
	hdr [MessageHeaderLen]byte
	buf []byte
	n   int // messages read
	err error
}

// NewMessageReader returns a reader of the messages in r whose payloads
// are at most maxPayload bytes.
func NewMessageReader(r io.Reader, maxPayload int) *MessageReader {
	return &MessageReader{r: r, max: maxPayload}
}

// Next returns the next message's type and payload. The payload is valid
// until the next call. After an error every call returns it.
func (m *MessageReader) Next() (typ byte, payload []byte, err error) {
	if m.err != nil {
		return 0, nil, m.err
	}
	typ, payload, err = m.next()
	if err != nil {
		m.err = err
	}
	return typ, payload, err
}

func (m *MessageReader) next() (byte, []byte, error) {
	at := func(err error) error {
		return fmt.Errorf("message %d at byte %d: %w", m.n, m.off, err)
	}
	k, err := io.ReadFull(m.r, m.hdr[:])
	switch {
	case k == 0 && errors.Is(err, io.EOF):
		return 0, nil, io.EOF
	case errors.Is(err, io.ErrUnexpectedEOF):
		return 0, nil, at(fmt.Errorf("header of %d bytes: %w", k, ErrTruncated))
	case err != nil:
		return 0, nil, at(err)
	}
	h := m.hdr[:]
	if string(h[:4]) != messageMagic {
		return 0, nil, at(fmt.Errorf("bad magic %q: %w", h[:4], ErrMalformed))
	}
	if h[4] != MessageVersion {
		return 0, nil, at(fmt.Errorf("unknown version %d: %w", h[4], ErrMalformed))
	}
	if h[6]|h[7] != 0 {
		return 0, nil, at(fmt.Errorf("reserved bytes are not zero: %w", ErrMalformed))
	}
	n := binary.LittleEndian.Uint32(h[8:])
	if uint64(n) > uint64(m.max) {
		return 0, nil, at(fmt.Errorf("payload of %d bytes, more than %d: %w", n, m.max, ErrLimit))
	}
	// The buffer grows with the bytes that arrive, not with the length
	// the header claims.
	need := int(n) + 4
	if cap(m.buf) > 1<<20 && need < cap(m.buf)/4 {
		m.buf = nil
	}
	m.buf = m.buf[:0]
	for len(m.buf) < need {
		chunk := min(need-len(m.buf), max(64<<10, len(m.buf)))
		if cap(m.buf)-len(m.buf) < chunk {
			grown := make([]byte, len(m.buf), len(m.buf)+chunk)
			copy(grown, m.buf)
			m.buf = grown
		}
		k, err := io.ReadFull(m.r, m.buf[len(m.buf):len(m.buf)+chunk])
		m.buf = m.buf[:len(m.buf)+k]
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return 0, nil, at(fmt.Errorf("payload of %d bytes and checksum, %d bytes read: %w", n, len(m.buf), ErrTruncated))
		}
		if err != nil {
			return 0, nil, at(err)
		}
	}
	crc := crc32.Update(crc32.Checksum(h, crcTable), crcTable, m.buf[:n])
	if crc != binary.LittleEndian.Uint32(m.buf[n:]) {
		return 0, nil, at(ErrChecksum)
	}
	m.off += int64(MessageHeaderLen + need)
	m.n++
	return h[5], m.buf[:n:n], nil
}
