package model

// SeriesIndex is a view of one collection's series index: postings lists
// (the ascending ids of the series holding each tag value), as Prometheus'
// index keeps them, so that a tag filter costs the postings it touches
// rather than a test of every series. Each series has an id in [0, Len()),
// fixed for as long as the series exists; a removed series' id is not
// reused. The view holds the series that existed when it was taken (later
// ones are left out); a series removed since may still be listed by
// Postings and Values but not by Series.
//
// Lists handed out (to fn, or returned) are never modified afterwards: the
// caller may keep them but must not change them. Implementations must be
// safe for concurrent use.
type SeriesIndex interface {
	// Len bounds the ids: every id is in [0, Len()).
	Len() int
	// Postings returns the ascending ids of the series whose tag key has
	// value (nil when none has).
	Postings(key, value string) []int32
	// Values calls fn, in no particular order, for every value of the tag
	// key that some series holds and that starts with prefix ("": every
	// value), with those series' ascending ids. fn must not call into the
	// index's source.
	Values(key, prefix string, fn func(value string, ids []int32))
	// Series returns the ids of the series in the set and their tags, both
	// sorted by series key (SeriesKey), leaving out removed series. The set
	// is ids (ascending, distinct), or when complement is true every series
	// of the view except them.
	Series(ids []int32, complement bool) ([]int32, []Tags)
}
