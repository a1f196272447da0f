package planner

import (
	"errors"
	"math"
	"strconv"
)

// ErrLimit is matched (errors.Is) by the *LimitError of a well-formed query
// that would exceed a resource limit (rows, points, buckets), which tells it
// from a query that is wrong. The HTTP layer answers it with 422.
var ErrLimit = errors.New("query exceeds a resource limit")

// countText formats a count that saturates at math.MaxUint64.
func countText(n uint64) string {
	if n == math.MaxUint64 {
		return "at least " + strconv.FormatUint(n, 10)
	}
	return strconv.FormatUint(n, 10)
}
