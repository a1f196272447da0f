package storage

import (
	"encoding/binary"

	"github.com/soltixdb/soltix/model"
)

// Record encoders for tests: the engine writes through a pooled
// batchEncoder (DB.Write).

// appendBatch encodes a batch of points with its sequence number.
func appendBatch(dst []byte, seq uint64, points []model.Point) []byte {
	var e batchEncoder
	return e.encode(dst, seq, points)
}

// appendBatchV1 encodes a batch in the first version of the record, which
// readers still accept (tests write it to check that).
func appendBatchV1(dst []byte, seq uint64, points []model.Point) []byte {
	dst = append(dst, recordBatchV1)
	dst = binary.AppendUvarint(dst, seq)
	dst = binary.AppendUvarint(dst, uint64(len(points)))
	for i := range points {
		p := &points[i]
		dst = appendStr(dst, p.Collection)
		dst = binary.AppendUvarint(dst, uint64(len(p.Tags)))
		for _, t := range p.Tags {
			dst = appendStr(dst, t.Key)
			dst = appendStr(dst, t.Value)
		}
		dst = binary.AppendVarint(dst, p.Time)
		dst = binary.AppendUvarint(dst, uint64(len(p.Fields)))
		for _, f := range p.Fields {
			dst = appendStr(dst, f.Key)
			dst = appendFieldValue(dst, f.Value)
		}
	}
	return dst
}
