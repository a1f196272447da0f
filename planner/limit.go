package planner

import (
	"errors"
	"fmt"
	"math"
	"strconv"
)

// ErrLimit marks the *Error of a well-formed query that would exceed a
// resource limit (rows, buckets): errors.Is(err, ErrLimit) tells it from a
// query that is wrong. The HTTP layer answers it with 422.
var ErrLimit = errors.New("query exceeds a resource limit")

// limitErrorf returns an *Error that matches ErrLimit.
func limitErrorf(format string, args ...any) *Error {
	return &Error{Msg: fmt.Sprintf(format, args...), limit: true}
}

// Unwrap returns ErrLimit for an error made by limitErrorf.
func (e *Error) Unwrap() error {
	if e.limit {
		return ErrLimit
	}
	return nil
}

// countText formats a count that saturates at math.MaxUint64.
func countText(n uint64) string {
	if n == math.MaxUint64 {
		return "at least " + strconv.FormatUint(n, 10)
	}
	return strconv.FormatUint(n, 10)
}
