package storage

import "fmt"

// SeriesLimitError is a write some of whose points were refused because
// they begin new series of a collection that has gained more new series
// in the last minute than a limit allows (a cluster storage node's
// limits.new_series_per_minute, applied to the writes it receives). The
// other points were written: writing the refused ones again later is
// harmless and stores them once the limit allows.
type SeriesLimitError struct {
	// Points are the indexes of the refused points in the batch, in
	// ascending order.
	Points []int `json:"points"`
	// Limit is the limit in new series per minute.
	Limit int `json:"limit"`
	// RetryAfter is the whole seconds until the limit allows one more
	// new series.
	RetryAfter int `json:"retry_after"`
}

// Error implements error.
func (e *SeriesLimitError) Error() string {
	return fmt.Sprintf("%d points refused: their new series are over the limit of %d new series per minute of their collection", len(e.Points), e.Limit)
}
