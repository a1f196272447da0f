package main

import (
	"context"

	"github.com/soltixdb/soltix/coord"
	"github.com/soltixdb/soltix/remote"
)

// coordGroups adapts coord's map to what group moves need of it
// (remote.GroupView and remote.GroupUpdater).
type coordGroups struct {
	co   *coord.Coord
	view *coord.View
}

func groupInfo(g coord.Group) remote.GroupInfo {
	return remote.GroupInfo{Group: g.ID, Primary: g.Primary, Replicas: g.Replicas, Epoch: g.Epoch, State: g.State, MovingTo: g.MovingTo}
}

// Group returns group g's entry in the latest map seen.
func (a coordGroups) Group(g int) (remote.GroupInfo, bool) {
	e, ok := a.view.Group(g)
	if !ok || e.Primary == "" {
		return remote.GroupInfo{}, false
	}
	return groupInfo(e), true
}

// NodeAddr returns the base URL a node registered with.
func (a coordGroups) NodeAddr(id string) (string, bool) {
	n, ok := a.view.Node(id)
	return n.Addr, ok && n.Addr != ""
}

// Refresh returns once the view is at least as new as etcd.
func (a coordGroups) Refresh() error { return a.view.Refresh() }

// UpdateGroup changes group g's entry with coord's compare-and-swap.
func (a coordGroups) UpdateGroup(ctx context.Context, g int, update func(*remote.GroupInfo) error) (remote.GroupInfo, error) {
	cg, err := a.co.UpdateGroup(ctx, g, func(e *coord.Group) error {
		gi := groupInfo(*e)
		if err := update(&gi); err != nil {
			return err
		}
		e.Primary, e.Replicas, e.State, e.MovingTo = gi.Primary, gi.Replicas, gi.State, gi.MovingTo
		return nil
	})
	return groupInfo(cg), err
}
