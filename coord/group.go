package coord

import (
	"context"
	"errors"
	"fmt"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// ErrNotLeader is returned by UpdateGroup called with a coordinator's
// context (the one RunCoordinator gives a Mover) once that coordinator has
// lost its election.
var ErrNotLeader = errors.New("coord: no longer the coordinator")

// guardKey carries a leaderGuard in a context.
type guardKey struct{}

// leaderGuard is an elected coordinator's election key: its writes compare
// the key's create revision, so a deposed leader's writes fail.
type leaderGuard struct {
	key string
	rev int64
}

// UpdateGroup changes group g's entry with compare-and-swap: it reads the
// entry (an absent key reads as an unassigned Group), calls fn on a copy,
// and writes the result with If(mod_revision(groups/<g>) == read) — plus,
// under a coordinator's context, If(create_revision(its election key) ==
// its revision) — retrying from the read when another writer came first.
// So fn may run more than once and must decide from the Group it is given.
// A change of anything sets the epoch to the stored epoch + 1 (fn cannot
// set it); when fn changes nothing, nothing is written. UpdateGroup returns
// the entry as stored, or fn's error.
func (c *Coord) UpdateGroup(ctx context.Context, g int, fn func(*Group) error) (Group, error) {
	if g < 0 || g >= c.info.NumGroups {
		return Group{}, fmt.Errorf("coord: group %d: want 0-%d", g, c.info.NumGroups-1)
	}
	key := c.pfx + groupKey(g)
	guard, guarded := ctx.Value(guardKey{}).(leaderGuard)
	for {
		resp, err := c.cli.Get(ctx, key)
		if err != nil {
			return Group{}, fmt.Errorf("coord: group %d: %w", g, err)
		}
		cur, modRev := Group{ID: g}, int64(0)
		if len(resp.Kvs) > 0 {
			modRev = resp.Kvs[0].ModRevision
			if cur, err = decodeGroup(g, resp.Kvs[0].Value); err != nil {
				return Group{}, fmt.Errorf("coord: %w", err)
			}
		}
		next := cur.clone()
		if err := fn(&next); err != nil {
			return cur, err
		}
		next.ID, next.Epoch = g, cur.Epoch
		if len(next.Replicas) == 0 {
			next.Replicas = nil
		}
		if next.equal(cur) {
			return cur, nil
		}
		next.Epoch = cur.Epoch + 1
		if err := next.validate(); err != nil {
			return cur, fmt.Errorf("coord: %w", err)
		}
		cmps := []clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(key), "=", modRev)}
		if guarded {
			cmps = append(cmps, clientv3.Compare(clientv3.CreateRevision(guard.key), "=", guard.rev))
		}
		txn := c.cli.Txn(ctx).If(cmps...).Then(clientv3.OpPut(key, string(encodeGroup(next))))
		if guarded {
			txn = txn.Else(clientv3.OpGet(guard.key, clientv3.WithKeysOnly()))
		}
		tresp, err := txn.Commit()
		if err != nil {
			return Group{}, fmt.Errorf("coord: group %d: %w", g, err)
		}
		if tresp.Succeeded {
			return next, nil
		}
		if guarded {
			kvs := tresp.Responses[0].GetResponseRange().Kvs
			if len(kvs) == 0 || kvs[0].CreateRevision != guard.rev {
				return cur, ErrNotLeader
			}
		}
	}
}
