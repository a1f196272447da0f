package colfile

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/golang/snappy"
	"github.com/soltixdb/soltix/model"
)

// A version 1 block body (before snappy compression) is
//
//	kind  byte
//	count uvarint
//	times count × zigzag varint delta (t[i] - t[i-1], with t[-1] = 0; wrapping)
//	values, by kind:
//	  float  count × 8-byte little-endian IEEE 754 bits
//	  int    count × zigzag varint delta (v[i] - v[i-1], with v[-1] = 0; wrapping)
//	  uint   count × uvarint
//	  bool   ceil(count/8) bytes, value i is bit i%8 (LSB first) of byte i/8;
//	         unused high bits of the last byte are zero
//	  string count × (uvarint length, bytes)
//
// and must be consumed exactly. Version 1 files hold one block per column,
// always snappy-compressed. This package no longer writes them; the encoder
// lives in the tests.

// decodeBlockV1 decompresses and decodes a version 1 block's stored bytes,
// whose CRC has been checked, holding count values of the given kind.
func decodeBlockV1(stored []byte, kind model.Kind, count int) (model.Column, error) {
	body, err := unsnappy(stored)
	if err != nil {
		return model.Column{}, err
	}
	return decodeBlockBodyV1(body, kind, count)
}

// unsnappy decodes snappy block-format data, refusing claims of a decoded
// length that snappy cannot reach from len(stored) bytes.
func unsnappy(stored []byte) ([]byte, error) {
	n, err := snappy.DecodedLen(stored)
	if err != nil {
		return nil, fmt.Errorf("snappy header: %w", err)
	}
	if uint64(n) > maxSnappyRatio*uint64(len(stored)) {
		return nil, fmt.Errorf("snappy claims %d decoded bytes from %d stored", n, len(stored))
	}
	body, err := snappy.Decode(make([]byte, n), stored)
	if err != nil {
		return nil, fmt.Errorf("snappy: %w", err)
	}
	return body, nil
}

// decodeBlockBodyV1 decodes an uncompressed block body that the index says
// holds count values of the given kind. It never allocates more than a small
// multiple of len(body), and it checks that the body is consumed exactly and
// that the times are strictly increasing.
func decodeBlockBodyV1(body []byte, kind model.Kind, count int) (model.Column, error) {
	col := model.Column{Kind: kind}
	d := decoder{b: body}
	if k := model.Kind(d.byte()); d.err == nil && k != kind {
		return col, fmt.Errorf("block kind %s, index says %s", k, kind)
	}
	n := d.uvarint()
	if d.err != nil {
		return col, d.err
	}
	if n != uint64(count) {
		return col, fmt.Errorf("block count %d, index says %d", n, count)
	}
	// Every value takes at least one byte for its time and, except bools,
	// one byte for itself, so a count above the body length is a lie that
	// must not drive an allocation.
	if count <= 0 || uint64(count) > uint64(len(body)) {
		return col, fmt.Errorf("block count %d impossible for %d-byte body", count, len(body))
	}
	col.Times = make([]int64, count)
	var prev int64
	for i := range col.Times {
		t := prev + d.varint()
		if i > 0 && t <= prev {
			if d.err == nil {
				d.err = fmt.Errorf("times not strictly increasing at index %d", i)
			}
			break
		}
		col.Times[i] = t
		prev = t
	}
	if d.err != nil {
		return col, d.err
	}
	switch kind {
	case model.KindFloat:
		raw := d.bytes(8 * uint64(count))
		if d.err != nil {
			return col, d.err
		}
		col.Floats = make([]float64, count)
		for i := range col.Floats {
			col.Floats[i] = math.Float64frombits(binary.LittleEndian.Uint64(raw[8*i:]))
		}
	case model.KindInt:
		col.Ints = make([]int64, count)
		prev = 0
		for i := range col.Ints {
			prev += d.varint()
			col.Ints[i] = prev
		}
	case model.KindUint:
		col.Uints = make([]uint64, count)
		for i := range col.Uints {
			col.Uints[i] = d.uvarint()
		}
	case model.KindBool:
		raw := d.bytes((uint64(count) + 7) / 8)
		if d.err != nil {
			return col, d.err
		}
		if count%8 != 0 && raw[len(raw)-1]>>(count%8) != 0 {
			return col, errors.New("bool bitmap padding bits set")
		}
		col.Bools = make([]bool, count)
		for i := range col.Bools {
			col.Bools[i] = raw[i/8]&(1<<(i%8)) != 0
		}
	case model.KindString:
		// One allocation for all string bytes; the values are substrings.
		all := string(d.b[d.off:])
		base := d.off
		col.Strings = make([]string, count)
		for i := range col.Strings {
			l := d.uvarint()
			start := d.off
			d.bytes(l)
			if d.err != nil {
				break
			}
			col.Strings[i] = all[start-base : d.off-base]
		}
	default:
		return col, fmt.Errorf("invalid kind %s", kind)
	}
	if d.err != nil {
		return col, d.err
	}
	if d.off != len(d.b) {
		return col, fmt.Errorf("%d trailing bytes after block values", len(d.b)-d.off)
	}
	return col, nil
}
