package replication

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ErrFenced is returned by a Lead whose group's subject holds a message of
// another primary (a newer epoch): this node no longer leads the group.
var ErrFenced = errors.New("replication: fenced by a newer primary")

// ErrClosed is returned by a Lead that was closed.
var ErrClosed = errors.New("replication: lead closed")

// BehindError is returned by Lead when the subject holds messages after
// the last one the caller applied: it must apply them first.
type BehindError struct {
	Group         int
	Applied, Last uint64
}

func (e *BehindError) Error() string {
	return fmt.Sprintf("replication: group %d applied up to %d, its subject is at %d", e.Group, e.Applied, e.Last)
}

// maxQueued bounds the bytes a Lead holds unpublished before Reserve
// waits.
const maxQueued = 64 << 20

// Lead publishes one group's changes as its primary, in the order given,
// one message after the other (each names its predecessor, which
// JetStream checks). Publish only queues; a worker publishes and retries
// through NATS outages until the message is stored or the lead is fenced
// or closed.
type Lead struct {
	r     *Replicator
	g     int
	epoch uint64
	subj  string

	mu     sync.Mutex
	cond   *sync.Cond // signalled when the queue shrinks or the lead ends
	queue  []*pending
	queued int
	last   uint64 // the subject's last message as this lead knows it
	err    error  // set once fenced or closed
	wake   chan struct{}
	done   chan struct{}
	ids    *msgIDs
}

// msgIDs numbers the messages of one publisher: a random id and a count,
// which make each message's Nats-Msg-Id unique (a retry keeps its id).
type msgIDs struct {
	g     int
	epoch uint64
	nonce uint64
	n     atomic.Uint64
}

func newMsgIDs(g int, epoch uint64) *msgIDs {
	return &msgIDs{g: g, epoch: epoch, nonce: rand.Uint64()}
}

func (ids *msgIDs) next() string {
	return fmt.Sprintf("%d-%d-%x-%d", ids.g, ids.epoch, ids.nonce, ids.n.Add(1))
}

type pending struct {
	m    Message
	data []byte
	rc   *Receipt
}

// Receipt tells when a published change is stored in the stream.
type Receipt struct {
	n    int // messages left
	seq  uint64
	err  error
	mu   sync.Mutex
	done chan struct{}
}

// Wait returns the stream sequence of the change's last message once
// JetStream stored it, or the lead's error.
func (rc *Receipt) Wait(ctx context.Context) (uint64, error) {
	select {
	case <-rc.done:
		return rc.seq, rc.err
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

func (rc *Receipt) finish(seq uint64, err error) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.n == 0 {
		return
	}
	if err != nil {
		rc.err, rc.n = err, 0
		close(rc.done)
		return
	}
	rc.n--
	rc.seq = seq
	if rc.n == 0 {
		close(rc.done)
	}
}

// Lead takes group g over as its primary at epoch. applied is the stream
// sequence of the last message of g the caller holds (0: none); empty says
// that the caller holds nothing of g (its fence then tells replicas with
// nothing that they may start there). When the
// subject's last message is of epoch itself, the caller led g at this
// epoch before (a restart) and continues after it — unless unclean says
// that it may hold changes it applied and never published (it crashed
// while leading): it then publishes a fence marked Resync, and its
// replicas copy the group again. When it is older, the
// caller must hold it (a *BehindError otherwise), and Lead publishes a
// fence message after it: from then on a primary of an older epoch cannot
// append. When it is newer, Lead fails with ErrFenced.
func (r *Replicator) Lead(ctx context.Context, g int, epoch, applied uint64, empty, unclean bool) (*Lead, error) {
	subj := groupSubject(r.opts.Cluster, g)
	ids := newMsgIDs(g, epoch)
	for {
		last, lastEpoch, err := r.lastMessage(ctx, g)
		if err != nil {
			return nil, err
		}
		switch {
		case lastEpoch > epoch:
			return nil, fmt.Errorf("replication: group %d: subject at epoch %d, above %d: %w", g, lastEpoch, epoch, ErrFenced)
		case lastEpoch == epoch && last > 0 && !unclean:
			return r.newLead(g, epoch, subj, last, nil), nil
		case lastEpoch == epoch && last > 0:
			// This node led the group before and crashed: its replicas
			// copy the group again (a resync fence).
		case last > applied:
			return nil, &BehindError{Group: g, Applied: applied, Last: last}
		}
		// last == applied, or last < applied: the stream's retention (or a
		// purge) removed messages the caller applied; it holds the rest.
		m := Message{Kind: KindFence, Group: g, Epoch: epoch, Prev: last, Empty: empty, Resync: unclean && !empty, ID: ids.next()}
		ack, err := r.publish(ctx, subj, &m, nil)
		if isWrongLast(err) {
			continue // someone published meanwhile: look again
		}
		if err != nil {
			return nil, err
		}
		return r.newLead(g, epoch, subj, ack.Sequence, ids), nil
	}
}

func (r *Replicator) newLead(g int, epoch uint64, subj string, last uint64, ids *msgIDs) *Lead {
	if ids == nil {
		ids = newMsgIDs(g, epoch)
	}
	l := &Lead{r: r, g: g, epoch: epoch, subj: subj, last: last, wake: make(chan struct{}, 1), done: make(chan struct{}), ids: ids}
	l.cond = sync.NewCond(&l.mu)
	go l.run()
	return l
}

// lastMessage returns the stream sequence and epoch of the last message on
// group g's subject (0, 0 when there is none).
func (r *Replicator) lastMessage(ctx context.Context, g int) (uint64, uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, r.opts.Timeout)
	defer cancel()
	m, err := r.stream.GetLastMsgForSubject(ctx, groupSubject(r.opts.Cluster, g))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return 0, 0, nil
	}
	if err != nil {
		return 0, 0, fmt.Errorf("replication: last message of group %d: %w", g, err)
	}
	epoch, err := strconv.ParseUint(m.Header.Get(hdrEpoch), 10, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("replication: last message %d of group %d: epoch %q: %w", m.Sequence, g, m.Header.Get(hdrEpoch), ErrMalformed)
	}
	return m.Sequence, epoch, nil
}

// publish publishes one message after m.Prev.
func (r *Replicator) publish(ctx context.Context, subj string, m *Message, data []byte) (*jetstream.PubAck, error) {
	if data == nil {
		var err error
		if data, err = encodeData(m); err != nil {
			return nil, err
		}
	}
	ctx, cancel := context.WithTimeout(ctx, r.opts.Timeout)
	defer cancel()
	msg := &nats.Msg{Subject: subj, Header: header(m), Data: data}
	return r.js.PublishMsg(ctx, msg, jetstream.WithExpectLastSequencePerSubject(m.Prev))
}

// isWrongLast reports whether err is JetStream's refusal of a message
// whose expected last subject sequence is not the subject's.
func isWrongLast(err error) bool {
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) {
		return false
	}
	return apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant
}

// Epoch is the epoch the lead publishes at.
func (l *Lead) Epoch() uint64 { return l.epoch }

// Last returns the stream sequence of the last message the lead knows
// stored on its subject.
func (l *Lead) Last() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.last
}

// Reserve waits until the lead holds less than its bound of unpublished
// bytes, so that a change made durable next can be published. Call it
// before making the change durable: Publish itself never waits.
func (l *Lead) Reserve(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() {
		l.mu.Lock()
		l.cond.Broadcast()
		l.mu.Unlock()
	})
	defer stop()
	l.mu.Lock()
	defer l.mu.Unlock()
	for l.err == nil && l.queued >= maxQueued && ctx.Err() == nil {
		l.cond.Wait()
	}
	if l.err != nil {
		return l.err
	}
	return ctx.Err()
}

// refence handles a publish refused because the subject's last message is
// not prev. When the subject lost messages instead (retention removed an
// idle group's last ones, or the stream was purged: its last message is
// older than prev and of no newer epoch), the lead publishes a fence after
// what is left and goes on: replicas then see a gap and copy the group.
// It returns false when another primary appended (the lead is fenced) or
// the subject cannot be read.
func (l *Lead) refence(prev uint64) bool {
	last, lastEpoch, err := l.r.lastMessage(context.Background(), l.g)
	if err != nil || lastEpoch > l.epoch || last >= prev {
		return false
	}
	m := Message{Kind: KindFence, Group: l.g, Epoch: l.epoch, Prev: last, ID: l.ids.next()}
	ack, err := l.r.publish(context.Background(), l.subj, &m, nil)
	if err != nil {
		return false
	}
	l.r.log.Warn("replication: the group's subject lost messages; fenced again after what is left",
		"group", l.g, "epoch", l.epoch, "expected", prev, "found", last, "fence", ack.Sequence)
	l.mu.Lock()
	l.last = ack.Sequence
	l.mu.Unlock()
	return true
}

// drain waits until every change queued is stored (or the lead ends).
func (l *Lead) drain(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() {
		l.mu.Lock()
		l.cond.Broadcast()
		l.mu.Unlock()
	})
	defer stop()
	l.mu.Lock()
	defer l.mu.Unlock()
	for l.err == nil && len(l.queue) > 0 && ctx.Err() == nil {
		l.cond.Wait()
	}
	if l.err != nil {
		return l.err
	}
	return ctx.Err()
}

// Publish queues a write's points or a delete (m.Kind, m.Points, m.Delete;
// the lead sets the rest) after everything published before. A write too
// large for one message goes as several, in order.
func (l *Lead) Publish(m *Message) (*Receipt, error) {
	msgs, err := l.split(m)
	if err != nil {
		return nil, err
	}
	rc := &Receipt{n: len(msgs), done: make(chan struct{})}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		return nil, l.err
	}
	for _, p := range msgs {
		p.rc = rc
		l.queue = append(l.queue, p)
		l.queued += len(p.data)
	}
	select {
	case l.wake <- struct{}{}:
	default:
	}
	return rc, nil
}

// split encodes m as one or more messages of at most maxData bytes.
func (l *Lead) split(m *Message) ([]*pending, error) {
	one := Message{Kind: m.Kind, Group: l.g, Epoch: l.epoch, Points: m.Points, Delete: m.Delete, ID: l.ids.next()}
	data, err := encodeData(&one)
	if err != nil {
		return nil, err
	}
	if len(data) <= maxData || m.Kind != KindWrite || len(m.Points) < 2 {
		if len(data) > maxData {
			return nil, fmt.Errorf("replication: a %s of %d bytes exceeds a message's %d", m.Kind, len(data), maxData)
		}
		return []*pending{{m: one, data: data}}, nil
	}
	half := len(m.Points) / 2
	a, err := l.split(&Message{Kind: KindWrite, Points: m.Points[:half]})
	if err != nil {
		return nil, err
	}
	b, err := l.split(&Message{Kind: KindWrite, Points: m.Points[half:]})
	if err != nil {
		return nil, err
	}
	return append(a, b...), nil
}

// Close stops the lead: queued changes not yet stored fail with
// ErrClosed.
func (l *Lead) Close() {
	l.end(ErrClosed)
	<-l.done
}

func (l *Lead) end(err error) {
	l.mu.Lock()
	if l.err == nil {
		l.err = err
	}
	q := l.queue
	l.queue, l.queued = nil, 0
	l.cond.Broadcast()
	l.mu.Unlock()
	for _, p := range q {
		p.rc.finish(0, l.err)
	}
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// run publishes the queue in order.
func (l *Lead) run() {
	defer close(l.done)
	backoff := 50 * time.Millisecond
	for {
		l.mu.Lock()
		if l.err != nil {
			l.mu.Unlock()
			return
		}
		if len(l.queue) == 0 {
			l.mu.Unlock()
			<-l.wake
			continue
		}
		p := l.queue[0]
		p.m.Prev = l.last
		l.mu.Unlock()

		ack, err := l.r.publish(context.Background(), l.subj, &p.m, p.data)
		switch {
		case err == nil:
			backoff = 50 * time.Millisecond
			l.mu.Lock()
			if l.err != nil { // closed meanwhile: the receipt failed already
				l.mu.Unlock()
				return
			}
			l.last = ack.Sequence
			l.queue = l.queue[1:]
			l.queued -= len(p.data)
			l.cond.Broadcast()
			l.mu.Unlock()
			p.rc.finish(ack.Sequence, nil)
		case isWrongLast(err):
			if l.refence(p.m.Prev) {
				continue // the same message after the new fence
			}
			l.r.log.Warn("replication lead fenced", "group", l.g, "epoch", l.epoch, "prev", p.m.Prev)
			l.end(fmt.Errorf("replication: group %d at epoch %d: %w", l.g, l.epoch, ErrFenced))
			return
		default:
			// NATS unreachable, a timeout, a lost acknowledgement: the
			// same message again (a stored one comes back as a duplicate
			// of its Nats-Msg-Id with its sequence).
			l.r.log.Warn("replication publish failed; retrying", "group", l.g, "err", err, "retry_in", backoff)
			select {
			case <-time.After(backoff):
			case <-l.wake:
			}
			backoff = min(2*backoff, 2*time.Second)
		}
	}
}
