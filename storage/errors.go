package storage

import (
	"errors"
	"fmt"
	"strings"

	"github.com/soltixdb/soltix/model"
)

// ErrUnavailable is returned (wrapped) by Write when the write could not be
// made durable, for example because the WAL failed; nothing of the batch
// was acknowledged and the client may retry against a healthy node.
var ErrUnavailable = errors.New("storage unavailable")

// ErrClosed is returned by operations on a closed DB.
var ErrClosed = errors.New("storage closed")

// Conflict is one field of one point whose kind differs from the kind the
// collection already has (or has earlier in the same batch) for that field.
type Conflict struct {
	Point      int // index of the point in the batch given to Write
	Collection string
	Field      string
	Have       model.Kind // the field's kind in the collection
	Got        model.Kind // the kind in this point
}

// ConflictError reports every point of a batch whose field kinds clash with
// the collection's schema. A batch with a conflict is not written at all.
type ConflictError struct {
	Conflicts []Conflict
}

// Error implements error.
func (e *ConflictError) Error() string {
	var b strings.Builder
	for i, c := range e.Conflicts {
		if i > 0 {
			b.WriteString("; ")
		}
		if i == 5 {
			fmt.Fprintf(&b, "and %d more", len(e.Conflicts)-5)
			break
		}
		b.WriteString(c.Reason())
	}
	return b.String()
}

// Reason describes the conflict without naming the point.
func (c Conflict) Reason() string {
	return fmt.Sprintf("field %q of collection %q is %s, got %s", c.Field, c.Collection, c.Have, c.Got)
}
