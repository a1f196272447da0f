package encoding

import (
	"encoding/binary"
	"os"
	"slices"
	"testing"
)

// TestBlockDumpBytes re-encodes a dump of integer blocks with AppendInts
// and logs the bytes, at the dump's blocks and with every nine
// consecutive blocks (one series' column of TSBS cpu-only, a day) joined
// and cut into blocks of 4,096 values. The dump, named by
// SOLTIX_BLOCK_DUMP, holds per block a u32 count and that many u64
// values, little endian. It is skipped without one:
//
//	SOLTIX_BLOCK_DUMP=blocks.bin go test -run BlockDumpBytes -v ./storage/encoding
func TestBlockDumpBytes(t *testing.T) {
	path := os.Getenv("SOLTIX_BLOCK_DUMP")
	if path == "" {
		t.Skip("SOLTIX_BLOCK_DUMP not set")
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var blocks [][]int64
	for len(raw) >= 4 {
		n := int(binary.LittleEndian.Uint32(raw))
		if len(raw) < 4+8*n {
			t.Fatalf("dump truncated in a block of %d values", n)
		}
		vs := make([]int64, n)
		for i := range vs {
			vs[i] = int64(binary.LittleEndian.Uint64(raw[4+8*i:]))
		}
		raw = raw[4+8*n:]
		blocks = append(blocks, vs)
	}
	var joined [][]int64
	for i := 0; i < len(blocks); i += 9 {
		var day []int64
		for _, b := range blocks[i:min(i+9, len(blocks))] {
			day = append(day, b...)
		}
		for len(day) > 0 {
			k := min(4096, len(day))
			joined = append(joined, day[:k])
			day = day[k:]
		}
	}
	for _, set := range []struct {
		name   string
		blocks [][]int64
	}{{"dump blocks", blocks}, {"4,096-value blocks", joined}} {
		var size, values int
		var kinds [packANS + 1]int
		for _, b := range set.blocks {
			enc := AppendInts(nil, b)
			size += len(enc)
			values += len(b)
			if got, err := DecodeInts(nil, enc); err != nil || !slices.Equal(got, b) {
				t.Fatalf("%s: a block of %d values does not round-trip: %v", set.name, len(b), err)
			}
			kinds[planInts(b).p.kind]++
		}
		t.Logf("%s: %d blocks, %d values, %d bytes (%.4f bytes/value); stream kinds %v",
			set.name, len(set.blocks), values, size, float64(size)/float64(values), kinds)
	}
}
