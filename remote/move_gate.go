// The node's hook for group moves: the Gate its writes, deletes and reads
// of groups pass, and the answers a gate's refusals become.

package remote

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/remote/wire"
)

// Gate brackets a storage node's writes, deletes and reads of groups
// (NodeOptions.Gate); Moves implements it.
type Gate interface {
	// Write applies a write of groups' points through apply, or refuses
	// it (a *StaleEpochError or a *SwitchingError).
	Write(ws []GroupWrite, apply func() error) error
	// Delete applies a delete of groups' series through apply, or refuses
	// it as Write does.
	Delete(collection string, ds []GroupDelete, min, max int64, apply func() error) error
	// ReadGroups admits a read of groups at their epochs; done must be
	// called once the read has finished. It refuses with a
	// *StaleEpochError, or a *ReplicaNotReadyError for a group asked of
	// a replica (GroupEpoch.Replica) that has not caught up.
	ReadGroups(gs []GroupEpoch) (done func(), err error)
}

var _ Gate = (*Moves)(nil)

// ErrGroupSwitching is what a write of a moving group gets while its old
// primary cannot take it: the copy has not begun yet, or the primary is
// fenced for the switch to the new node (a 503 with Retry-After).
var ErrGroupSwitching = errors.New("group switching to its new node")

// SwitchingError refuses a write of a moving group; it is
// ErrGroupSwitching.
type SwitchingError struct{ Group int }

func (e *SwitchingError) Error() string {
	return fmt.Sprintf("group %d is moving to another node and cannot take writes here now: retry", e.Group)
}

// Is makes a *SwitchingError match ErrGroupSwitching.
func (e *SwitchingError) Is(target error) bool { return target == ErrGroupSwitching }

// gateErrorBody maps an error of a gated write or delete to a status and
// an internal error body: a gate's refusals, else storageErrorBody's.
func gateErrorBody(err error) (int, ErrorBody) {
	var se *StaleEpochError
	var sw *SwitchingError
	var nr *ReplicaNotReadyError
	switch {
	case errors.As(err, &se):
		return http.StatusConflict, ErrorBody{Error: err.Error(), Code: CodeStaleEpoch, Groups: []int{se.Group}}
	case errors.As(err, &sw):
		return http.StatusServiceUnavailable, ErrorBody{Error: err.Error(), Code: CodeSwitching, Groups: []int{sw.Group}}
	case errors.As(err, &nr):
		return http.StatusServiceUnavailable, ErrorBody{Error: err.Error(), Code: CodeUnavailable, Groups: []int{nr.Group}}
	}
	return storageErrorBody(err)
}

// ReplicaNotReadyError refuses a replica read of a group whose copy here
// is not usable yet: it is being copied from the primary, or its
// replication has not caught up since the node started (a 503; the router
// asks another copy).
type ReplicaNotReadyError struct{ Group int }

func (e *ReplicaNotReadyError) Error() string {
	return fmt.Sprintf("group %d: this node's replica of it has not caught up", e.Group)
}

// frameWrites returns a write request's frames as the gate sees them.
func frameWrites(fs []wire.Frame) []GroupWrite {
	ws := make([]GroupWrite, len(fs))
	for i, f := range fs {
		ws[i] = GroupWrite{Group: int(f.Group), Epoch: f.Epoch, Points: f.Points}
	}
	return ws
}

// readGroups returns a read session's groups as the gate sees them;
// replica lets them be read from a replica.
func readGroups(gs []groupEpoch, replica bool) []GroupEpoch {
	out := make([]GroupEpoch, len(gs))
	for i, g := range gs {
		out[i] = GroupEpoch{Group: g.Group, Epoch: g.Epoch, Replica: replica}
	}
	return out
}

// deleteGroups returns a delete request's groups as the gate sees them.
func deleteGroups(gs []DeleteGroup) []GroupDelete {
	ds := make([]GroupDelete, len(gs))
	for i, g := range gs {
		series := make([]model.Tags, len(g.Series))
		for j, pairs := range g.Series {
			tags := make(model.Tags, len(pairs))
			for k, kv := range pairs {
				tags[k] = model.Tag{Key: kv[0], Value: kv[1]}
			}
			series[j] = tags
		}
		ds[i] = GroupDelete{Group: g.Group, Epoch: g.Epoch, Series: series}
	}
	return ds
}
