// Package wire holds the binary encodings of the internal API between a
// cluster's router and its storage nodes: length-framed, checksummed
// messages and the codecs of what they carry (tags, values, columns,
// summaries). No JSON on the hot path.
package wire

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
)

// A message (frame) is
//
//	length  uint32, big endian: the bytes of type and payload
//	type    1 byte
//	payload length-1 bytes
//	crc     uint32, big endian: CRC-32C (Castagnoli) of type and payload
//
// A reader refuses a frame longer than its limit before reading it.

// MaxMsg is the default limit on a message's length: 64 MiB.
const MaxMsg = 64 << 20

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrCorrupt is returned (wrapped) for a message whose checksum or
// encoding is wrong.
var ErrCorrupt = errors.New("corrupt message")

// AppendMsg appends the frame of a message of type typ to dst.
func AppendMsg(dst []byte, typ byte, payload []byte) []byte {
	n := 1 + len(payload)
	dst = binary.BigEndian.AppendUint32(dst, uint32(n))
	start := len(dst)
	dst = append(dst, typ)
	dst = append(dst, payload...)
	return binary.BigEndian.AppendUint32(dst, crc32.Checksum(dst[start:], castagnoli))
}

// WriteMsg writes one message to w.
func WriteMsg(w io.Writer, typ byte, payload []byte) error {
	_, err := w.Write(AppendMsg(make([]byte, 0, len(payload)+9), typ, payload))
	return err
}

// MsgReader reads messages from a stream.
type MsgReader struct {
	r   *bufio.Reader
	max int
	buf []byte
	// Bytes counts the bytes read so far, frames included.
	Bytes int64
}

// NewMsgReader reads messages of at most max bytes (MaxMsg when max <= 0).
func NewMsgReader(r io.Reader, max int) *MsgReader {
	if max <= 0 {
		max = MaxMsg
	}
	return &MsgReader{r: bufio.NewReaderSize(r, 64<<10), max: max}
}

// Next returns the next message. The payload is valid until the next call.
// At the end of the stream between messages it returns io.EOF; a stream
// that ends inside one gives io.ErrUnexpectedEOF.
func (m *MsgReader) Next() (typ byte, payload []byte, err error) {
	var hdr [4]byte
	if _, err := io.ReadFull(m.r, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := int(binary.BigEndian.Uint32(hdr[:]))
	if n < 1 || n > m.max {
		return 0, nil, fmt.Errorf("message of %d bytes, limit %d: %w", n, m.max, ErrCorrupt)
	}
	if cap(m.buf) < n+4 {
		m.buf = make([]byte, n+4)
	}
	b := m.buf[:n+4]
	if _, err := io.ReadFull(m.r, b); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return 0, nil, err
	}
	m.Bytes += int64(n + 8)
	if crc32.Checksum(b[:n], castagnoli) != binary.BigEndian.Uint32(b[n:]) {
		return 0, nil, fmt.Errorf("message checksum mismatch: %w", ErrCorrupt)
	}
	return b[0], b[1:n], nil
}
