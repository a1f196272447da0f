package model

// Limits on the shape of one point, enforced by every write path (line
// protocol and JSON) so that one line cannot make the write or a later
// SELECT * cost time or memory out of proportion to normal data. They are
// far above what metrics and IoT payloads use.
const (
	// MaxTagsPerPoint is the largest number of tags one point (and so one
	// series) may have.
	MaxTagsPerPoint = 256
	// MaxFieldsPerPoint is the largest number of distinct fields one
	// point may have.
	MaxFieldsPerPoint = 1024
	// MaxKeyBytes is the longest tag key or field key, in bytes.
	MaxKeyBytes = 4 << 10
	// MaxSeriesKeyBytes is the longest series key (the collection name and
	// the tags, see SeriesKey, before escaping), in bytes.
	MaxSeriesKeyBytes = 64 << 10
)

// SeriesKeyLen returns the length of the series key of collection and
// tags before escaping: what MaxSeriesKeyBytes bounds.
func SeriesKeyLen(collection string, tags Tags) int {
	n := len(collection)
	for _, t := range tags {
		n += len(t.Key) + len(t.Value) + 2
	}
	return n
}

// MaxFieldsPerCollection is the largest number of distinct fields a
// collection's schema may hold; a write that would add more is refused.
const MaxFieldsPerCollection = 10_000
