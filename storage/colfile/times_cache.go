package colfile

// sharedTimes is the process's cache of the decoded times of blocks whose
// times other columns' blocks share (the block at the same position in an
// earlier column of the series, or a union block; see blockRef). A query
// reading several fields of one series (every field of cpu-only's hosts:
// ten) then reads, checks and decodes those times once instead of once per
// field. The times are immutable once cached: readers select from them or
// copy them.
var sharedTimes = newLRU[timesKey, []int64](8 << 20)

// timesKey names block block of column column of series series of r.
type timesKey struct {
	r                     *Reader
	series, column, block int
}

func (k timesKey) reader() *Reader { return k.r }

// timesSize estimates the bytes of cached times.
func timesSize(ts []int64) int { return 8*len(ts) + 128 }

// sharesTimes reports whether block k of column column of a series holds
// times that a block of another column of it takes (timesFrom).
func sharesTimes(ds *decodedSeries, column, k int) bool {
	for j := range ds.refs {
		if j != column && k < len(ds.refs[j]) && ds.refs[j][k].timesFrom == column+1 {
			return true
		}
	}
	return false
}

// storedBlocks is the process's cache of blocks' stored bytes (flag and
// payload, their CRC checked), so that the blocks queries keep coming back
// to (the partial hours at the edges of their windows, the rollup blocks
// of recent days) cost neither a read from the file nor a checksum nor an
// allocation. Decoders only read them.
var storedBlocks = newLRU[blockKey, []byte](storedCacheBytes)

// storedCacheBytes bounds storedBlocks (docs/operations.md, "Memory").
const storedCacheBytes = 32 << 20

// blockKey names the block at offset off of r.
type blockKey struct {
	r   *Reader
	off int64
}

func (k blockKey) reader() *Reader { return k.r }

// bulkRead marks a context whose reads do not go into storedBlocks
// (ReadSeries: a series read whole to be rewritten).
type bulkRead struct{}
