package replication

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/soltixdb/soltix/model"
)

// Applier is what a replica applies a group's messages to: storage.DB. Each
// call records seq as the group's applied position with the change, and
// is a no-op for a seq at or below Applied(g).
type Applier interface {
	WriteApplied(ctx context.Context, points []model.Point, g int, seq uint64) error
	DeleteApplied(ctx context.Context, collection string, series []model.Tags, min, max int64, g int, seq uint64) error
	// SetApplied records seq without a change (a fence).
	SetApplied(g int, seq uint64) error
	Applied(g int) uint64
}

// ErrGap is the error of a Follower that received a message whose
// predecessor it never applied: the stream no longer holds messages the
// replica needs (or the replica's copy is older than the stream's first
// message). The replica must copy the group from its primary.
var ErrGap = errors.New("replication: gap in the group's messages")

// ErrEmpty is the error of a Follower started on a group with nothing
// applied whose subject does not begin with a fence of a primary that held
// nothing: the stream alone may not hold the group's older data, and the
// replica must copy the group from its primary first.
var ErrEmpty = errors.New("replication: nothing applied: the group must be copied first")

// ErrResync stops a replica at a fence of a primary that restarted after a
// crash (Message.Resync): the primary may hold changes it applied and never
// published, so the replica copies the group rather than follow on.
var ErrResync = errors.New("replication: the primary restarted after a crash: the group must be copied again")

// FollowStatus is what a Follower reports.
type FollowStatus struct {
	Applied uint64    // the last stream sequence applied
	Pending uint64    // messages of the subject after it, as the consumer last saw
	At      time.Time // when the message applied last was stored in the stream
	Err     error     // why it stopped (ErrGap, ErrEmpty), or the last error it retries after
	Running bool
	// CaughtUp is set once the follower has applied everything the
	// subject held (nothing pending) since it started: from then on its
	// data lags the primary only by what is in flight.
	CaughtUp bool
}

// Follower applies one group's messages, in order, as a replica.
type Follower struct {
	r *Replicator
	g int
	a Applier
	// toLead is set for a promoted replica applying the stream before it
	// leads: a resync fence of the old primary cannot be acted on (the
	// changes only it held are lost with it), and is applied as a fence.
	toLead bool
	cancel context.CancelFunc
	done   chan struct{}

	mu     sync.Mutex
	status FollowStatus
	waits  []chan struct{}
}

// Follow starts following group g into a, from the message after
// a.Applied(g), with a durable consumer named after the node and group.
// It runs until Stop, or until a gap (ErrGap) or ErrEmpty stops it; other
// errors (NATS unreachable, a failed apply) are retried.
func (r *Replicator) Follow(g int, a Applier) *Follower { return r.follow(g, a, false) }

func (r *Replicator) follow(g int, a Applier, toLead bool) *Follower {
	ctx, cancel := context.WithCancel(context.Background())
	f := &Follower{r: r, g: g, a: a, toLead: toLead, cancel: cancel, done: make(chan struct{})}
	f.status.Applied = a.Applied(g)
	f.status.Running = true
	go f.run(ctx)
	return f
}

// Stop stops the follower and waits for it.
func (f *Follower) Stop() {
	f.cancel()
	<-f.done
}

// Status reports the follower's position.
func (f *Follower) Status() FollowStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.status
}

// WaitApplied waits until the follower applied seq or stopped.
func (f *Follower) WaitApplied(ctx context.Context, seq uint64) error {
	for {
		f.mu.Lock()
		st := f.status
		if st.Applied >= seq {
			f.mu.Unlock()
			return nil
		}
		if !st.Running {
			f.mu.Unlock()
			return fmt.Errorf("replication: follower of group %d stopped at %d: %w", f.g, st.Applied, st.Err)
		}
		ch := make(chan struct{})
		f.waits = append(f.waits, ch)
		f.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (f *Follower) update(fn func(*FollowStatus)) {
	f.mu.Lock()
	fn(&f.status)
	ws := f.waits
	f.waits = nil
	f.mu.Unlock()
	for _, ch := range ws {
		close(ch)
	}
}

func (f *Follower) run(ctx context.Context) {
	defer close(f.done)
	defer f.update(func(s *FollowStatus) { s.Running = false })
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := f.follow(ctx)
		if ctx.Err() != nil {
			return
		}
		f.update(func(s *FollowStatus) { s.Err = err })
		if errors.Is(err, ErrGap) || errors.Is(err, ErrEmpty) || errors.Is(err, ErrResync) {
			f.r.log.Error("replication follower stopped", "group", f.g, "err", err)
			return
		}
		f.r.log.Warn("replication follower retrying", "group", f.g, "err", err, "retry_in", backoff)
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// follow (re)creates the consumer at the applied position and applies
// what it delivers until an error.
func (f *Follower) follow(ctx context.Context) error {
	applied := f.a.Applied(f.g)
	if applied == 0 {
		var err error
		if applied, err = f.start(ctx); err != nil {
			return err
		}
	}
	name := consumerName(f.r.opts.Node, f.g)
	cctx, cancel := context.WithTimeout(ctx, f.r.opts.Timeout)
	// The replica's own record is the truth: a consumer left from before
	// (another copy of the group, a wiped node) starts over from it.
	if err := f.r.stream.DeleteConsumer(cctx, name); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		cancel()
		return fmt.Errorf("replication: delete consumer %s: %w", name, err)
	}
	cons, err := f.r.stream.CreateConsumer(cctx, jetstream.ConsumerConfig{
		Durable:       name,
		Description:   fmt.Sprintf("replica %s of group %d", f.r.opts.Node, f.g),
		FilterSubject: groupSubject(f.r.opts.Cluster, f.g),
		DeliverPolicy: jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:   applied + 1,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       time.Minute,
		MaxAckPending: 1024,
	})
	cancel()
	if err != nil {
		return fmt.Errorf("replication: create consumer %s: %w", name, err)
	}
	ictx, cancel := context.WithTimeout(ctx, f.r.opts.Timeout)
	info, err := cons.Info(ictx)
	cancel()
	if err != nil {
		return fmt.Errorf("replication: consumer %s: %w", name, err)
	}
	if info.NumPending == 0 && info.NumAckPending == 0 {
		f.update(func(s *FollowStatus) { s.CaughtUp, s.Pending = true, 0 })
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(256))
	if err != nil {
		return fmt.Errorf("replication: consume %s: %w", name, err)
	}
	defer it.Stop()
	stop := context.AfterFunc(ctx, it.Stop)
	defer stop()
	first := true // the first message since the consumer was made
	for {
		msg, err := it.Next()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("replication: next message of group %d: %w", f.g, err)
		}
		meta, err := msg.Metadata()
		if err != nil {
			return fmt.Errorf("replication: message metadata: %w", err)
		}
		if err := f.apply(ctx, msg, meta, first); err != nil {
			return err
		}
		first = false
		if err := msg.Ack(); err != nil {
			f.r.log.Debug("replication ack failed", "group", f.g, "err", err)
		}
		f.update(func(s *FollowStatus) {
			s.Applied, s.Pending, s.At, s.Err = meta.Sequence.Stream, meta.NumPending, meta.Timestamp, nil
			s.CaughtUp = s.CaughtUp || meta.NumPending == 0
		})
	}
}

// start begins a replica that holds nothing of the group at the
// subject's first message, when it is a fence of a primary that held
// nothing (a group new to a replicated cluster): it records the fence as
// applied.
func (f *Follower) start(ctx context.Context) (uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, f.r.opts.Timeout)
	defer cancel()
	raw, err := f.r.stream.GetMsg(ctx, 1, jetstream.WithGetMsgSubject(groupSubject(f.r.opts.Cluster, f.g)))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return 0, fmt.Errorf("replication: group %d has no messages yet: %w", f.g, errNoStart)
	}
	if err != nil {
		return 0, fmt.Errorf("replication: first message of group %d: %w", f.g, err)
	}
	m, err := decodeMessage(raw.Header, raw.Data, raw.Sequence, f.g)
	if err != nil {
		return 0, err
	}
	if m.Kind != KindFence || !m.Empty {
		return 0, fmt.Errorf("replication: group %d's first message %d is a %s: %w", f.g, m.Seq, m.Kind, ErrEmpty)
	}
	// A node that holds data of the group but no position (an old primary
	// back as a replica) may hold changes the stream does not: it copies
	// the group instead.
	if e, ok := f.a.(interface{ GroupEmpty(int) bool }); ok && !e.GroupEmpty(f.g) {
		return 0, fmt.Errorf("replication: group %d: data here but no position: %w", f.g, ErrEmpty)
	}
	if err := f.a.SetApplied(f.g, m.Seq); err != nil {
		return 0, fmt.Errorf("replication: start group %d at %d: %w", f.g, m.Seq, err)
	}
	f.update(func(s *FollowStatus) { s.Applied, s.At = m.Seq, raw.Time })
	return m.Seq, nil
}

// errNoStart: a replica with nothing waits for the group's primary to
// publish its first fence.
var errNoStart = errors.New("no fence to start from")

// errOutOfOrder: a consumer delivered a message before its predecessor
// (after a reconnection, an unacknowledged message comes back only after
// the acknowledgement wait); the follower makes its consumer again.
var errOutOfOrder = errors.New("message delivered before its predecessor")

// apply applies one message unless it was applied before. first says it
// is the first a new consumer delivered: a predecessor missing then is
// missing from the stream.
func (f *Follower) apply(ctx context.Context, msg jetstream.Msg, meta *jetstream.MsgMetadata, first bool) error {
	seq := meta.Sequence.Stream
	applied := f.a.Applied(f.g)
	if seq <= applied {
		return nil // redelivered
	}
	m, err := decodeMessage(msg.Headers(), msg.Data(), seq, f.g)
	if err != nil {
		return err
	}
	if m.Prev != applied {
		why := errOutOfOrder
		if first {
			why = ErrGap
		}
		return fmt.Errorf("replication: group %d: message %d follows %d, the replica applied up to %d: %w", f.g, seq, m.Prev, applied, why)
	}
	switch m.Kind {
	case KindWrite:
		err = f.a.WriteApplied(ctx, m.Points, f.g, seq)
	case KindDelete:
		d := m.Delete
		err = f.a.DeleteApplied(ctx, d.Collection, d.Series, d.Min, d.Max, f.g, seq)
	case KindFence:
		if m.Resync && !f.toLead {
			return fmt.Errorf("replication: group %d: fence %d: %w", f.g, seq, ErrResync)
		}
		err = f.a.SetApplied(f.g, seq)
	}
	if err != nil {
		return fmt.Errorf("replication: apply message %d of group %d: %w", seq, f.g, err)
	}
	return nil
}
