package coord

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.etcd.io/etcd/client/v3/concurrency"
)

// Mover copies a group from one storage node to another and switches the
// map to the new primary (with UpdateGroup, under the context it is given,
// so a deposed coordinator's switch fails with ErrNotLeader).
//
// Move is called with the group's current primary as from. The group may
// already be in state moving from an earlier attempt (possibly toward
// another node, by a coordinator since deposed). Move returns nil once the
// group's primary is to; on an error the group must still be served by
// from (its state may stay moving: the coordinator calls Move again, or
// clears the state when the move is no longer wanted).
type Mover interface {
	Move(ctx context.Context, group int, from, to string) error
}

// MoverFunc adapts a function to Mover.
type MoverFunc func(ctx context.Context, group int, from, to string) error

// Move calls f.
func (f MoverFunc) Move(ctx context.Context, group int, from, to string) error {
	return f(ctx, group, from, to)
}

// Retry bounds of the coordinator: a failed move or write is tried again
// after retryMin, doubling up to retryMax; resync re-examines the map even
// when nothing changed.
const (
	retryMin = time.Second
	retryMax = 30 * time.Second
	resync   = 10 * time.Second
)

// RunCoordinator campaigns to be the cluster's coordinator (an etcd
// election under coordinator/, on a session lease of LeaseTTL) and, while
// elected, keeps the map placed: it assigns unassigned groups to live nodes
// and asks mover to move the groups that rendezvous hashing gives to a node
// that joined. When its session ends (etcd lost it) it stops, campaigns
// again and another process takes over meanwhile. It returns nil when ctx
// ends, after resigning.
func (c *Coord) RunCoordinator(ctx context.Context, mover Mover) error {
	wait := retryMin
	for ctx.Err() == nil {
		start := time.Now()
		err := c.lead(ctx, mover)
		if ctx.Err() != nil {
			break
		}
		c.log.Warn("coord: coordinator session ended, campaigning again", "err", err)
		if time.Since(start) > retryMax {
			wait = retryMin
		}
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
		wait = min(2*wait, retryMax)
	}
	return nil
}

// lead runs one session: campaign, then coordinate until the session or
// ctx ends. Closing the session revokes its lease: the election key goes.
func (c *Coord) lead(ctx context.Context, mover Mover) error {
	sess, err := concurrency.NewSession(c.cli, concurrency.WithTTL(int(c.ttlSeconds())))
	if err != nil {
		return fmt.Errorf("session: %w", err)
	}
	defer sess.Close()
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-sess.Done():
			cancel()
		case <-lctx.Done():
		}
	}()
	e := concurrency.NewElection(sess, c.pfx+electionPrefix)
	if err := e.Campaign(lctx, c.cfg.Name); err != nil {
		return fmt.Errorf("campaign: %w", err)
	}
	c.log.Info("coord: elected coordinator", "name", c.cfg.Name)
	gctx := context.WithValue(lctx, guardKey{}, leaderGuard{key: e.Key(), rev: e.Rev()})
	err = c.coordinate(gctx, mover)
	c.log.Info("coord: coordinator stepped down", "name", c.cfg.Name, "err", err)
	return err
}

// moveJob is one call of Mover.Move.
type moveJob struct {
	group    int
	from, to string
	err      error
}

// coordinate is the elected coordinator's loop: reconcile after every map
// change, finished move and retry deadline, one move at a time.
func (c *Coord) coordinate(ctx context.Context, mover Mover) error {
	v := c.view
	if err := v.RefreshContext(ctx); err != nil {
		return err
	}
	done := make(chan moveJob, 1)
	var running *moveJob
	defer func() {
		if running != nil {
			<-done // the move's ctx is ending with ours
		}
	}()
	retry := map[int]retryState{}
	for {
		changed := v.Changed()
		c.promoteSoon = false
		next, err := c.reconcile(ctx, v.Map(), running, retry)
		if errors.Is(err, ErrNotLeader) || ctx.Err() != nil {
			return errors.Join(err, ctx.Err())
		}
		wake := resync
		if c.promoteSoon {
			wake = retryMin
		}
		if err != nil {
			c.log.Warn("coord: placing groups", "err", err)
			wake = retryMin
		}
		if running == nil && next != nil {
			running = next
			go func(j moveJob) {
				c.log.Info("coord: moving group", "group", j.group, "from", j.from, "to", j.to)
				j.err = mover.Move(ctx, j.group, j.from, j.to)
				if j.err == nil {
					// Let the next reconcile see the switch.
					j.err = v.RefreshContext(ctx)
				}
				done <- j
			}(*next)
		}
		now := time.Now()
		for _, r := range retry {
			wake = min(wake, max(r.at.Sub(now), 0))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-changed:
		case j := <-done:
			running = nil
			if j.err != nil {
				r := retry[j.group]
				r.wait = min(max(2*r.wait, retryMin), retryMax)
				r.at = time.Now().Add(r.wait)
				retry[j.group] = r
				c.log.Warn("coord: moving group failed, will retry", "group", j.group,
					"from", j.from, "to", j.to, "retry_in", r.wait, "err", j.err)
			} else {
				delete(retry, j.group)
				c.log.Info("coord: moved group", "group", j.group, "from", j.from, "to", j.to)
			}
		case <-time.After(wake):
		}
	}
}

// retryState delays the next attempt at a group after a failed move.
type retryState struct {
	at   time.Time
	wait time.Duration
}

// reconcile makes one pass over the map: it assigns every unassigned group
// (once MinNodes nodes are up, for a new cluster), clears a stale moving
// state, and returns the next move to start (nil if none is due).
func (c *Coord) reconcile(ctx context.Context, m Map, running *moveJob, retry map[int]retryState) (*moveJob, error) {
	var live []string
	up := map[string]bool{}
	for _, n := range m.Nodes {
		if n.Up {
			live = append(live, n.ID)
			up[n.ID] = true
		}
	}
	if len(live) == 0 {
		return nil, nil
	}
	assigned := slices.ContainsFunc(m.Groups, func(g Group) bool { return g.Primary != "" })
	var errs []error
	if assigned || len(live) >= c.cfg.MinNodes {
		for _, g := range m.Groups {
			if g.Primary != "" {
				continue
			}
			place := Place(g.ID, live, c.info.ReplicationFactor)
			_, err := c.UpdateGroup(ctx, g.ID, func(cur *Group) error {
				if cur.Primary != "" {
					return errAssigned
				}
				cur.Primary, cur.Replicas = place[0], place[1:]
				return nil
			})
			if errors.Is(err, ErrNotLeader) {
				return nil, err
			}
			if err != nil && !errors.Is(err, errAssigned) {
				errs = append(errs, err)
				continue
			}
			if err == nil {
				c.log.Info("coord: group assigned", "group", g.ID, "primary", place[0], "replicas", place[1:])
			}
		}
	}
	// With replication, a group whose primary is down goes to its replica
	// that applied the most.
	if c.cfg.Promoter != nil {
		for _, g := range m.Groups {
			if g.Primary == "" || up[g.Primary] || g.State != "" || (running != nil && running.group == g.ID) {
				continue
			}
			err := c.promote(ctx, g, up)
			if errors.Is(err, ErrNotLeader) {
				return nil, err
			}
			if errors.Is(err, errNoCandidate) {
				// A replica may become eligible soon (its copy done, its
				// node back): look again in retryMin, not at the resync.
				c.promoteSoon = true
				continue
			}
			if err != nil && !errors.Is(err, errAssigned) {
				errs = append(errs, err)
			}
		}
	}
	// Rendezvous over the live nodes and the (possibly down) primaries: a
	// group whose primary is down stays with it, and a group moves only
	// when a live node outscores its live primary (never to one of its
	// replicas: a promoted replica keeps the group when the old primary is
	// back).
	cands := slices.Clone(live)
	for _, g := range m.Groups {
		if g.Primary != "" && !up[g.Primary] {
			cands = append(cands, g.Primary)
		}
	}
	now := time.Now()
	var next *moveJob
	for _, g := range m.Groups {
		if g.Primary == "" || (running != nil && running.group == g.ID) {
			continue
		}
		want := Place(g.ID, cands, 1)[0]
		if slices.Contains(g.Replicas, want) {
			want = g.Primary
		}
		if want == g.Primary || (g.State == StateMoving && !up[g.MovingTo]) {
			if g.State == StateMoving {
				// A move no longer wanted (a deposed coordinator's, or
				// toward a node now down): clear it.
				_, err := c.UpdateGroup(ctx, g.ID, func(cur *Group) error {
					if cur.Primary != g.Primary || cur.State != StateMoving {
						return errAssigned
					}
					cur.State, cur.MovingTo = "", ""
					return nil
				})
				if errors.Is(err, ErrNotLeader) {
					return nil, err
				}
				if err != nil && !errors.Is(err, errAssigned) {
					errs = append(errs, err)
				}
			}
			continue
		}
		if !up[g.Primary] || !up[want] || now.Before(retry[g.ID].at) || next != nil {
			continue
		}
		next = &moveJob{group: g.ID, from: g.Primary, to: want}
	}
	return next, errors.Join(errs...)
}

// Promoter tells the coordinator how far a replica got: the replication
// position a node applied of group g (package replication's, through the
// node's internal API; cmd/soltix wires it).
type Promoter interface {
	Applied(ctx context.Context, node string, g int) (uint64, error)
}

// promote makes the live replica of g that applied the most its primary,
// at a new epoch (the old primary, down, becomes a replica: it copies the
// group when it is back). It does nothing when no replica is up, none
// answers, or none has applied anything (position 0: it holds no
// consistent copy, for instance while it copies the group): the group
// then waits for its primary. Ties go to the replica listed first.
func (c *Coord) promote(ctx context.Context, g Group, up map[string]bool) error {
	best, bestAt := "", uint64(0)
	for _, r := range g.Replicas {
		if !up[r] {
			continue
		}
		at, err := c.cfg.Promoter.Applied(ctx, r, g.ID)
		if err != nil {
			c.log.Warn("coord: replica's position unknown", "group", g.ID, "replica", r, "err", err)
			continue
		}
		if at == 0 {
			// No consistent copy: it never started following, or it is
			// copying the group from its primary (it dropped what it had).
			continue
		}
		if best == "" || at > bestAt {
			best, bestAt = r, at
		}
	}
	if best == "" {
		return errNoCandidate
	}
	_, err := c.UpdateGroup(ctx, g.ID, func(cur *Group) error {
		if cur.Primary != g.Primary || cur.State != "" || !slices.Contains(cur.Replicas, best) {
			return errAssigned
		}
		rs := []string{}
		for _, r := range cur.Replicas {
			if r != best {
				rs = append(rs, r)
			}
		}
		cur.Primary, cur.Replicas = best, append(rs, g.Primary)
		return nil
	})
	if err == nil {
		c.log.Warn("coord: promoted a replica of a group whose primary is down", "group", g.ID,
			"down", g.Primary, "primary", best, "applied", bestAt)
	}
	return err
}

// errNoCandidate: no replica of a group can be promoted now.
var errNoCandidate = errors.New("coord: no replica to promote")

// errAssigned stops an UpdateGroup whose premise another writer changed.
var errAssigned = errors.New("coord: group changed meanwhile")
