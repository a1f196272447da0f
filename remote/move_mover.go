// Group moves, the coordinator's side: the steps of one move through the
// cluster map and the two nodes, and the roll-back of a move that failed.

package remote

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"
)

// MoverOptions configure a Mover.
type MoverOptions struct {
	// CopyTimeout bounds the copy of one group (default 30 minutes).
	CopyTimeout time.Duration
	// SwitchTimeout bounds the switch, during which the group's writes
	// are refused (default 30 seconds).
	SwitchTimeout time.Duration
	// Logger receives the mover's logs (default slog.Default()).
	Logger *slog.Logger
	// TLS, when set, is the cluster's mutual TLS: the mover's requests to
	// the nodes go over it (nil: cleartext HTTP/2).
	TLS *ClusterTLS
}

// Mover moves groups between storage nodes online; the coordinator calls
// Move for each group rendezvous hashing gives another node.
type Mover struct {
	view GroupView
	upd  GroupUpdater
	opts MoverOptions
	log  *slog.Logger
	http *http.Client

	metrics moverCounters
}

// NewMover returns a Mover changing the map through upd and reading it
// through view.
func NewMover(view GroupView, upd GroupUpdater, opts MoverOptions) *Mover {
	if opts.CopyTimeout <= 0 {
		opts.CopyTimeout = 30 * time.Minute
	}
	if opts.SwitchTimeout <= 0 {
		opts.SwitchTimeout = 30 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Mover{view: view, upd: upd, opts: opts, log: opts.Logger, http: newH2Client(opts.TLS)}
}

// ErrMoveConflict is what Move fails with when the map does not show the
// group where the move expects it (another change came first).
var ErrMoveConflict = errors.New("group not where the move expects it")

// Move moves group g from node from (its primary) to node to:
//
//  1. the map marks g moving to `to` (epoch+1); from keeps taking its
//     writes (recording them) and reads;
//  2. `to` pulls g from `from`: the files of a snapshot, then the tail of
//     writes `from` accepted since, until it has caught up;
//  3. the switch: `to` pulls the final tail, which fences `from` first (it
//     refuses g's writes with 503 from then on while the map moves g);
//  4. the map makes `to` the primary (epoch+1); from drops g.
//
// Any failure rolls the map back (from stays the primary, at a new epoch,
// and takes writes again) and makes `to` drop what it copied; the move can
// be tried again.
func (mv *Mover) Move(ctx context.Context, g int, from, to string) (err error) {
	if from == to {
		return fmt.Errorf("move group %d: from and to are both %q", g, from)
	}
	toAddr, ok := mv.view.NodeAddr(to)
	if !ok {
		return fmt.Errorf("move group %d: node %q has no address", g, to)
	}
	fromAddr, ok := mv.view.NodeAddr(from)
	if !ok {
		return fmt.Errorf("move group %d: node %q has no address", g, from)
	}
	// An earlier attempt (perhaps a deposed coordinator's, perhaps toward
	// another node) may have left the group moving: this move starts over
	// at its own epoch, and the nodes of the earlier one end it when they
	// see the map.
	moving, err := mv.upd.UpdateGroup(ctx, g, func(e *GroupInfo) error {
		if e.Primary != from {
			return fmt.Errorf("group %d: primary %q, want %q: %w", g, e.Primary, from, ErrMoveConflict)
		}
		e.State, e.MovingTo = StateMoving, to
		return nil
	})
	if err != nil {
		return fmt.Errorf("move group %d: mark it moving: %w", g, err)
	}
	mv.log.Info("moving a group", "group", g, "from", from, "to", to, "epoch", moving.Epoch)
	defer func() {
		if err != nil {
			mv.metrics.failed.Add(1)
			if rerr := mv.rollback(ctx, g, from, to, fromAddr, toAddr, moving.Epoch); rerr != nil {
				err = errors.Join(err, rerr)
			}
		}
	}()
	q := url.Values{"epoch": {u64(moving.Epoch)}, "source": {from}}

	start := time.Now()
	cctx, cancel := context.WithTimeout(ctx, mv.opts.CopyTimeout)
	var copied pullAnswer
	err = mv.callJSON(cctx, toAddr, g, "pull", q, &copied)
	cancel()
	if err != nil {
		return fmt.Errorf("move group %d: copy to %s: %w", g, to, err)
	}

	copyTook := time.Since(start)
	fenced := time.Now()
	sctx, cancel := context.WithTimeout(ctx, mv.opts.SwitchTimeout)
	defer cancel()
	var final pullAnswer
	q.Set("final", "1")
	if err = mv.callJSON(sctx, toAddr, g, "pull", q, &final); err != nil {
		return fmt.Errorf("move group %d: final tail to %s: %w", g, to, err)
	}
	done, err := mv.upd.UpdateGroup(sctx, g, func(e *GroupInfo) error {
		if e.Epoch != moving.Epoch || e.State != StateMoving || e.MovingTo != to || e.Primary != from {
			return fmt.Errorf("group %d changed during its move (epoch %d): %w", g, e.Epoch, ErrMoveConflict)
		}
		e.Primary, e.State, e.MovingTo = to, "", ""
		// A replica that becomes the primary leaves its place to the old
		// primary (which then keeps the group).
		if i := slices.Index(e.Replicas, to); i >= 0 {
			e.Replicas = slices.Clone(e.Replicas)
			e.Replicas[i] = from
		}
		return nil
	})
	if err != nil {
		// The answer may be lost after the change was made: read again.
		if rerr := mv.view.Refresh(); rerr == nil {
			if e, ok := mv.view.Group(g); ok && e.Primary == to && e.Epoch > moving.Epoch {
				done, err = e, nil
			}
		}
		if err != nil {
			return fmt.Errorf("move group %d: make %s its primary: %w", g, to, err)
		}
	}
	mv.metrics.moved.Add(1)
	mv.log.Info("moved a group", "group", g, "from", from, "to", to, "epoch", done.Epoch,
		"files", copied.Files, "bytes", copied.Bytes, "tail_batches", final.Next,
		"copy", copyTook, "switch", time.Since(fenced))
	// The old primary also drops it when its map shows the change (Sweep).
	rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer rcancel()
	if rerr := mv.post(rctx, fromAddr, g, "release", url.Values{"epoch": {u64(done.Epoch)}}); rerr != nil {
		mv.log.Warn("release a moved group on its old primary", "group", g, "node", from, "err", rerr)
	}
	return nil
}

// rollback ends a failed move begun at epoch move: unless another change
// came since, the map goes back to from as the sole primary (a new epoch),
// and both nodes are told to end the move (they also do when their maps
// show it). It runs also when the move's ctx has ended, with the ctx's
// values (a coordinator's guard).
func (mv *Mover) rollback(mctx context.Context, g int, from, to, fromAddr, toAddr string, move uint64) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(mctx), 30*time.Second)
	defer cancel()
	back, err := mv.upd.UpdateGroup(ctx, g, func(e *GroupInfo) error {
		if e.Primary != from || e.State == "" || e.MovingTo != to || e.Epoch != move {
			return fmt.Errorf("group %d: primary %q state %q moving to %q: %w", g, e.Primary, e.State, e.MovingTo, errNoRollback)
		}
		e.State, e.MovingTo = "", ""
		return nil
	})
	if err != nil && !errors.Is(err, errNoRollback) {
		return fmt.Errorf("roll back the move of group %d: %w", g, err)
	}
	if err == nil {
		mv.metrics.rolledBack.Add(1)
		mv.log.Warn("rolled back a group move", "group", g, "from", from, "to", to, "epoch", back.Epoch)
	}
	q := url.Values{"epoch": {u64(back.Epoch)}, "move": {u64(move)}}
	if back.Epoch == 0 {
		q.Set("epoch", u64(move))
	}
	for _, addr := range []string{toAddr, fromAddr} {
		if perr := mv.post(ctx, addr, g, "abort", q); perr != nil {
			mv.log.Warn("end a failed move on a node", "group", g, "addr", addr, "err", perr)
		}
	}
	return nil
}

var errNoRollback = errors.New("nothing to roll back")

// Rollback ends whatever move group g is in (a coordinator that takes over
// may call it for each group it finds moving): the primary stays
// where it is, at a new epoch.
func (mv *Mover) Rollback(ctx context.Context, g int) error {
	e, ok := mv.view.Group(g)
	if !ok || e.State == "" {
		return nil
	}
	fromAddr, _ := mv.view.NodeAddr(e.Primary)
	toAddr, _ := mv.view.NodeAddr(e.MovingTo)
	var addrs []string
	for _, a := range []string{fromAddr, toAddr} {
		if a != "" {
			addrs = append(addrs, a)
		}
	}
	back, err := mv.upd.UpdateGroup(ctx, g, func(c *GroupInfo) error {
		if c.State == "" {
			return errNoRollback
		}
		c.State, c.MovingTo = "", ""
		return nil
	})
	if errors.Is(err, errNoRollback) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("roll back the move of group %d: %w", g, err)
	}
	for _, a := range addrs {
		if perr := mv.post(ctx, a, g, "abort", url.Values{"epoch": {u64(back.Epoch)}}); perr != nil {
			mv.log.Warn("end a failed move on a node", "group", g, "addr", a, "err", perr)
		}
	}
	return nil
}

func (mv *Mover) callJSON(ctx context.Context, addr string, g int, what string, q url.Values, v any) error {
	resp, err := callNode(ctx, mv.http, http.MethodPost, addr+groupPath(g, what)+"?"+q.Encode())
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return decodeJSON(resp, v)
}

func (mv *Mover) post(ctx context.Context, addr string, g int, what string, q url.Values) error {
	resp, err := callNode(ctx, mv.http, http.MethodPost, addr+groupPath(g, what)+"?"+q.Encode())
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

func u64(v uint64) string { return strconv.FormatUint(v, 10) }
