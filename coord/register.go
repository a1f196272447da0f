package coord

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// NodeInfo is what a storage node registers.
type NodeInfo struct {
	// ID names the node: 1-64 characters of A-Z a-z 0-9 . _ -.
	ID string
	// Addr is the base URL routers reach it at ("http://10.0.0.5:7001").
	Addr string
}

// Registration is a node's live registration: nodes/<id> under a lease
// kept alive until Close or until etcd drops it.
type Registration struct {
	c      *Coord
	node   NodeInfo
	lease  clientv3.LeaseID
	cancel context.CancelFunc
	lost   chan struct{}
	done   chan struct{} // keep-alive goroutine ended
	once   sync.Once
}

// ErrNodeLive is returned by Register when a live process holds the id.
var ErrNodeLive = errors.New("node id is registered by a live process")

// Register puts nodes/<id> under a new lease (and members/<id>) with one
// transaction, If(create_revision(nodes/<id>) == 0), and keeps the lease
// alive. When the id is already registered, Register waits for that lease
// to run out (a node restarted after a crash finds its old lease still
// alive) and fails with ErrNodeLive if its holder keeps renewing it.
func (c *Coord) Register(ctx context.Context, n NodeInfo) (*Registration, error) {
	if err := validNodeID(n.ID); err != nil {
		return nil, fmt.Errorf("coord: register: %w", err)
	}
	if n.Addr == "" {
		return nil, fmt.Errorf("coord: register node %q: empty address", n.ID)
	}
	lease, err := c.putNode(ctx, n)
	if err != nil {
		return nil, err
	}
	kctx, cancel := context.WithCancel(c.ctx)
	ch, err := c.cli.KeepAlive(kctx, lease)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("coord: register node %q: keep-alive: %w", n.ID, err)
	}
	r := &Registration{c: c, node: n, lease: lease, cancel: cancel, lost: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(r.done)
		for range ch {
		}
		if kctx.Err() == nil {
			c.log.Error("coord: node registration lost (lease expired); the node is down", "node", n.ID)
		}
		close(r.lost)
	}()
	c.log.Info("coord: node registered", "node", n.ID, "addr", n.Addr)
	return r, nil
}

// putNode runs the registration transaction under a new lease, waiting
// once for a previous holder's lease to end, and returns the lease.
func (c *Coord) putNode(ctx context.Context, n NodeInfo) (clientv3.LeaseID, error) {
	key, val := c.pfx+dirNodes+n.ID, string(encodeNode(nodeValue{ID: n.ID, Addr: n.Addr}))
	for attempt := 0; ; attempt++ {
		lease, err := c.cli.Grant(ctx, c.ttlSeconds())
		if err != nil {
			return 0, fmt.Errorf("coord: register node %q: lease: %w", n.ID, err)
		}
		resp, err := c.cli.Txn(ctx).
			If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
			Then(clientv3.OpPut(key, val, clientv3.WithLease(lease.ID)), clientv3.OpPut(c.pfx+dirMembers+n.ID, val)).
			Else(clientv3.OpGet(key)).
			Commit()
		if err == nil && resp.Succeeded {
			return lease.ID, nil
		}
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.cfg.DialTimeout)
		c.cli.Revoke(rctx, lease.ID)
		cancel()
		if err != nil {
			return 0, fmt.Errorf("coord: register node %q: %w", n.ID, err)
		}
		kvs := resp.Responses[0].GetResponseRange().Kvs
		if len(kvs) == 0 {
			continue // deleted in between
		}
		if attempt > 0 || kvs[0].Lease == 0 {
			return 0, fmt.Errorf("coord: register node %q: %w", n.ID, ErrNodeLive)
		}
		ttl, err := c.cli.TimeToLive(ctx, clientv3.LeaseID(kvs[0].Lease))
		if err != nil {
			return 0, fmt.Errorf("coord: register node %q: %w", n.ID, err)
		}
		// Wait for the key's deletion for the lease's whole TTL and a
		// margin for etcd's expiry check (every 500 ms, then a raft
		// round): a dead holder last renewed before now, a live one keeps
		// renewing meanwhile.
		wait := time.Duration(max(ttl.GrantedTTL, ttl.TTL, 1))*time.Second + 2*time.Second
		c.log.Info("coord: node id still registered, waiting for its lease", "node", n.ID, "wait", wait)
		if err := c.waitDeleted(ctx, key, kvs[0].ModRevision, wait); err != nil {
			return 0, fmt.Errorf("coord: register node %q: %w", n.ID, err)
		}
	}
}

// waitDeleted returns nil once key is deleted after revision rev, and
// ErrNodeLive if it still exists after d.
func (c *Coord) waitDeleted(ctx context.Context, key string, rev int64, d time.Duration) error {
	wctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	for resp := range c.cli.Watch(wctx, key, clientv3.WithRev(rev+1), clientv3.WithFilterPut()) {
		if err := resp.Err(); err != nil {
			return err
		}
		if len(resp.Events) > 0 {
			return nil
		}
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return ErrNodeLive
}

// Node returns what was registered.
func (r *Registration) Node() NodeInfo { return r.node }

// Lost returns a channel closed when the lease is gone: expired (etcd did
// not hear from this process for LeaseTTL), revoked, or after Close. The
// node is then down; to be up again it registers anew.
func (r *Registration) Lost() <-chan struct{} { return r.lost }

// Close stops the keep-alive and revokes the lease, so the node is down at
// once (after Coord.Close, the lease is left to expire).
func (r *Registration) Close() error {
	var err error
	r.once.Do(func() {
		r.cancel()
		<-r.done
		if r.c.ctx.Err() != nil {
			return // the Coord is closed: the lease expires on its own
		}
		ctx, cancel := context.WithTimeout(context.Background(), r.c.cfg.DialTimeout)
		defer cancel()
		if _, e := r.c.cli.Revoke(ctx, r.lease); e != nil {
			err = fmt.Errorf("coord: unregister node %q: %w", r.node.ID, e)
		}
	})
	return err
}
