package replication

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/soltixdb/soltix/internal/natstest"
	"github.com/soltixdb/soltix/model"
)

// memApplier is an Applier over memory, with the contract storage keeps:
// each change records its seq, and a seq at or below the applied one
// changes nothing.
type memApplier struct {
	mu      sync.Mutex
	applied map[int]uint64
	changes []string // "w <g> <seq> <points...>", "d ...", "f ..."
}

func newMemApplier() *memApplier { return &memApplier{applied: map[int]uint64{}} }

func (a *memApplier) record(g int, seq uint64, s string) bool {
	if seq <= a.applied[g] {
		return false
	}
	a.applied[g] = seq
	a.changes = append(a.changes, s)
	return true
}

func (a *memApplier) WriteApplied(_ context.Context, points []model.Point, g int, seq uint64) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	var b strings.Builder
	for _, p := range points {
		fmt.Fprintf(&b, " %s@%d=%v", model.SeriesKey(p.Collection, p.Tags), p.Time, p.Fields[0].Value)
	}
	a.record(g, seq, "w"+b.String())
	return nil
}

func (a *memApplier) DeleteApplied(_ context.Context, coll string, series []model.Tags, min, max int64, g int, seq uint64) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.record(g, seq, fmt.Sprintf("d %s %d %d %d", coll, len(series), min, max))
	return nil
}

func (a *memApplier) SetApplied(g int, seq uint64) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.applied[g] = seq
	return nil
}

func (a *memApplier) Applied(g int) uint64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.applied[g]
}

func (a *memApplier) writes() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.changes)
}

func open(t *testing.T, srv *natstest.Server, node string) *Replicator {
	t.Helper()
	r, err := Open(context.Background(), Options{URLs: []string{srv.URL()}, Cluster: "c.t_1", Node: node, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r
}

func points(n, from int, big bool) []model.Point {
	ps := make([]model.Point, n)
	for i := range ps {
		v := model.Int(int64(from + i))
		if big {
			v = model.String(strings.Repeat("x", 200) + fmt.Sprint(from+i))
		}
		ps[i] = model.Point{Collection: "dev", Tags: model.Tags{{Key: "device_id", Value: fmt.Sprintf("d%d", i%7)}},
			Time: int64(from + i), Fields: []model.Field{{Key: "v", Value: v}}}
	}
	return ps
}

func describe(ps []model.Point) string {
	var b strings.Builder
	for _, p := range ps {
		fmt.Fprintf(&b, " %s@%d=%v", model.SeriesKey(p.Collection, p.Tags), p.Time, p.Fields[0].Value)
	}
	return b.String()
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return c
}

// TestLeadFollow: every change a lead publishes reaches a replica once, in
// order, including a write split over several messages and a delete.
func TestLeadFollow(t *testing.T) {
	srv := natstest.Start(t)
	p, r := open(t, srv, "p1"), open(t, srv, "r1")
	const g = 3
	lead, err := p.Lead(ctx(t), g, 1, 0, false, false)
	if err != nil {
		t.Fatal(err)
	}
	defer lead.Close()
	// The replica starts from a copy of the (empty) group at the fence.
	a := newMemApplier()
	a.SetApplied(g, lead.Last())
	f := r.Follow(g, a)
	defer f.Stop()

	var want []string
	var last *Receipt
	for i := range 20 {
		ps := points(50, i*50, false)
		if i == 7 { // about 1.5 MiB: split
			ps = points(6000, i*50, true)
		}
		rc, err := lead.Publish(&Message{Kind: KindWrite, Points: ps})
		if err != nil {
			t.Fatal(err)
		}
		last = rc
		if i == 7 {
			// the halves arrive as separate writes, in order
			var parts []string
			var split func([]model.Point)
			split = func(ps []model.Point) {
				data, _ := encodeData(&Message{Kind: KindWrite, Group: g, Epoch: 1, Points: ps})
				if len(data) <= maxData {
					parts = append(parts, "w"+describe(ps))
					return
				}
				split(ps[:len(ps)/2])
				split(ps[len(ps)/2:])
			}
			split(ps)
			if len(parts) < 2 {
				t.Fatalf("the big write was not split: %d part", len(parts))
			}
			want = append(want, parts...)
			continue
		}
		want = append(want, "w"+describe(ps))
	}
	rc, err := lead.Publish(&Message{Kind: KindDelete, Delete: &Delete{Collection: "dev", Series: []model.Tags{{{Key: "device_id", Value: "d1"}}}, Min: 10, Max: 20}})
	if err != nil {
		t.Fatal(err)
	}
	want = append(want, "d dev 1 10 20")
	if _, err := last.Wait(ctx(t)); err != nil {
		t.Fatal(err)
	}
	seq, err := rc.Wait(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if seq != lead.Last() {
		t.Errorf("last receipt at %d, lead's last %d", seq, lead.Last())
	}
	if err := f.WaitApplied(ctx(t), seq); err != nil {
		t.Fatal(err)
	}
	if got := a.writes(); !slices.Equal(got, want) {
		t.Fatalf("replica applied %d changes, want %d (first differing shown)\n%s", len(got), len(want), firstDiff(got, want))
	}
	if st := f.Status(); st.Applied != seq || st.Err != nil || !st.Running || st.Pending != 0 {
		t.Errorf("status %+v, want applied %d, running, nothing pending", st, seq)
	}
}

func firstDiff(a, b []string) string {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return fmt.Sprintf("at %d:\n got %.200s\nwant %.200s", i, a[i], b[i])
		}
	}
	return "one is a prefix of the other"
}

// TestFencing: a lead at a newer epoch fences the older one, which can no
// longer append; taking over needs every message applied.
func TestFencing(t *testing.T) {
	srv := natstest.Start(t)
	r1, r2 := open(t, srv, "n1"), open(t, srv, "n2")
	const g = 0
	old, err := r1.Lead(ctx(t), g, 1, 0, false, false)
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	rc, _ := old.Publish(&Message{Kind: KindWrite, Points: points(3, 0, false)})
	if _, err := rc.Wait(ctx(t)); err != nil {
		t.Fatal(err)
	}
	// n2 takes over at epoch 2 but has not applied the last write.
	_, err = r2.Lead(ctx(t), g, 2, old.Last()-1, false, false)
	var be *BehindError
	if !errors.As(err, &be) || be.Last != old.Last() {
		t.Fatalf("taking over behind: %v, want a BehindError at %d", err, old.Last())
	}
	lead2, err := r2.Lead(ctx(t), g, 2, old.Last(), false, false)
	if err != nil {
		t.Fatal(err)
	}
	defer lead2.Close()
	if lead2.Last() <= old.Last() {
		t.Fatalf("the fence is at %d, not after %d", lead2.Last(), old.Last())
	}
	// The old lead's next publish fails: it is fenced, and so is every
	// later one.
	rc, err = old.Publish(&Message{Kind: KindWrite, Points: points(3, 100, false)})
	if err == nil {
		_, err = rc.Wait(ctx(t))
	}
	if !errors.Is(err, ErrFenced) {
		t.Fatalf("publish of a fenced lead: %v, want ErrFenced", err)
	}
	if _, err := old.Publish(&Message{Kind: KindWrite, Points: points(1, 0, false)}); !errors.Is(err, ErrFenced) {
		t.Fatalf("publish after the fence: %v, want ErrFenced", err)
	}
	// Leading at an older epoch again is refused.
	if _, err := r1.Lead(ctx(t), g, 1, lead2.Last(), false, false); !errors.Is(err, ErrFenced) {
		t.Fatalf("lead at epoch 1 after epoch 2: %v, want ErrFenced", err)
	}
	// The new lead publishes after its fence.
	rc, err = lead2.Publish(&Message{Kind: KindWrite, Points: points(2, 200, false)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rc.Wait(ctx(t)); err != nil {
		t.Fatal(err)
	}
	// A restart of the same node at the same epoch continues after its
	// own last message, without a fence.
	lead2.Close()
	again, err := r2.Lead(ctx(t), g, 2, 0, false, false)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if again.Last() != lead2.Last() {
		t.Errorf("resumed lead at %d, want %d", again.Last(), lead2.Last())
	}
}

// TestFollowerResumesAndStopsAtGaps: a follower stopped and started again
// applies only what is new; a replica whose position is not the
// predecessor of the next message stops with ErrGap, an empty one with
// ErrEmpty.
func TestFollowerResumesAndStopsAtGaps(t *testing.T) {
	srv := natstest.Start(t)
	p, r := open(t, srv, "p"), open(t, srv, "r")
	const g = 9
	lead, err := p.Lead(ctx(t), g, 4, 0, false, false)
	if err != nil {
		t.Fatal(err)
	}
	defer lead.Close()
	fence := lead.Last()
	publish := func(n int) uint64 {
		var rc *Receipt
		for i := range n {
			if rc, err = lead.Publish(&Message{Kind: KindWrite, Points: points(5, i, false)}); err != nil {
				t.Fatal(err)
			}
		}
		seq, err := rc.Wait(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		return seq
	}
	a := newMemApplier()
	a.SetApplied(g, fence)
	f := r.Follow(g, a)
	if err := f.WaitApplied(ctx(t), publish(10)); err != nil {
		t.Fatal(err)
	}
	f.Stop()
	if n := len(a.writes()); n != 10 {
		t.Fatalf("%d writes applied, want 10", n)
	}
	last := publish(5)
	f = r.Follow(g, a)
	if err := f.WaitApplied(ctx(t), last); err != nil {
		t.Fatal(err)
	}
	f.Stop()
	if n := len(a.writes()); n != 15 {
		t.Fatalf("%d writes applied after a restart, want 15 (nothing twice)", n)
	}

	// The stream's retention dropped the first writes (a purge here): a
	// replica whose copy is at the fence misses them and stops at the gap.
	if err := r.stream.Purge(ctx(t), jetstream.WithPurgeSubject(groupSubject("c.t_1", g)), jetstream.WithPurgeSequence(fence+3)); err != nil {
		t.Fatal(err)
	}
	b := newMemApplier()
	b.SetApplied(g, fence)
	fb := r.Follow(g, b)
	defer fb.Stop()
	if err := fb.WaitApplied(ctx(t), last); !errors.Is(err, ErrGap) {
		t.Fatalf("follower with a gap: %v, want ErrGap", err)
	}
	if st := fb.Status(); st.Running || !errors.Is(st.Err, ErrGap) || st.Applied != fence {
		t.Errorf("status %+v", st)
	}
	c := newMemApplier()
	fc := r.Follow(g, c)
	defer fc.Stop()
	if err := fc.WaitApplied(ctx(t), 1); !errors.Is(err, ErrEmpty) {
		t.Fatalf("empty follower: %v, want ErrEmpty", err)
	}
}

// TestLeadThroughNATSRestart: a NATS server killed while a lead publishes
// comes back, and every change queued meanwhile is stored once, in order.
func TestLeadThroughNATSRestart(t *testing.T) {
	srv := natstest.Start(t)
	p, r := open(t, srv, "p"), open(t, srv, "r")
	const g = 1
	lead, err := p.Lead(ctx(t), g, 1, 0, false, false)
	if err != nil {
		t.Fatal(err)
	}
	defer lead.Close()
	a := newMemApplier()
	a.SetApplied(g, lead.Last())
	f := r.Follow(g, a)
	defer f.Stop()
	var want []string
	var rcs []*Receipt
	for i := range 30 {
		if i == 10 {
			srv.Kill()
		}
		if i == 20 {
			if err := srv.Restart(); err != nil {
				t.Fatal(err)
			}
		}
		ps := points(4, i*10, false)
		rc, err := lead.Publish(&Message{Kind: KindWrite, Points: ps})
		if err != nil {
			t.Fatal(err)
		}
		rcs = append(rcs, rc)
		want = append(want, "w"+describe(ps))
	}
	var seq uint64
	for i, rc := range rcs {
		if seq, err = rc.Wait(ctx(t)); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	if err := f.WaitApplied(ctx(t), seq); err != nil {
		t.Fatal(err)
	}
	if got := a.writes(); !slices.Equal(got, want) {
		t.Fatalf("replica applied %d changes, want %d\n%s", len(got), len(want), firstDiff(got, want))
	}
}

func TestNames(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"soltix", "soltix"}, {"a.b", "a_pb"}, {"a_b", "a_ub"}, {"a-b", "a-b"}, {"_.", "_u_p"},
	} {
		if got := token(c.in); got != c.want {
			t.Errorf("token(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	if groupSubject("a.b", 7) != "soltix.a_pb.repl.g0007" || consumerName("n.1", 12) != "r_n_p1_g12" || streamName("x_y") != "SOLTIX_x_uy" {
		t.Errorf("names: %s %s %s", groupSubject("a.b", 7), consumerName("n.1", 12), streamName("x_y"))
	}
	for _, bad := range []string{"", "a b", "a*", "a>", strings.Repeat("a", 65), "é"} {
		if checkName("cluster name", bad) == nil {
			t.Errorf("checkName(%q) accepted it", bad)
		}
	}
}

// TestEmptyStart: in a group new to a replicated cluster, a replica with
// nothing starts at the primary's first fence (which says the primary held
// nothing), also when it starts before that fence exists.
func TestEmptyStart(t *testing.T) {
	srv := natstest.Start(t)
	p, r := open(t, srv, "p"), open(t, srv, "r")
	const g = 5
	a := newMemApplier()
	f := r.Follow(g, a) // before the primary leads: it waits
	defer f.Stop()
	lead, err := p.Lead(ctx(t), g, 1, 0, true, false)
	if err != nil {
		t.Fatal(err)
	}
	defer lead.Close()
	var want []string
	var rc *Receipt
	for i := range 5 {
		ps := points(3, i*3, false)
		if rc, err = lead.Publish(&Message{Kind: KindWrite, Points: ps}); err != nil {
			t.Fatal(err)
		}
		want = append(want, "w"+describe(ps))
	}
	seq, err := rc.Wait(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.WaitApplied(ctx(t), seq); err != nil {
		t.Fatal(err)
	}
	if got := a.writes(); !slices.Equal(got, want) {
		t.Fatalf("replica applied %d changes, want %d\n%s", len(got), len(want), firstDiff(got, want))
	}
	// A second replica started afterwards replays the group from the fence.
	b := newMemApplier()
	fb := r.Follow(g, b)
	defer fb.Stop()
	if err := fb.WaitApplied(ctx(t), seq); err != nil {
		t.Fatal(err)
	}
	if got := b.writes(); !slices.Equal(got, want) {
		t.Fatalf("late replica applied %d changes, want %d", len(got), len(want))
	}
	// A group whose first fence is of a primary that held data cannot be
	// started from the stream.
	lead2, err := p.Lead(ctx(t), g+1, 1, 0, false, false)
	if err != nil {
		t.Fatal(err)
	}
	defer lead2.Close()
	c := newMemApplier()
	fc := r.Follow(g+1, c)
	defer fc.Stop()
	if err := fc.WaitApplied(ctx(t), lead2.Last()); !errors.Is(err, ErrEmpty) {
		t.Fatalf("replica of a group with older data: %v, want ErrEmpty", err)
	}
}

// TestLeadAfterPurge: when the stream loses a group's messages (retention
// of an idle group, a purge), the lead is not fenced: it fences again after
// what is left and goes on, and a replica that had applied the lost
// messages sees a gap. A promoted replica whose applied messages were
// removed takes over as well.
func TestLeadAfterPurge(t *testing.T) {
	srv := natstest.Start(t)
	p, r := open(t, srv, "p"), open(t, srv, "r")
	const g = 2
	lead, err := p.Lead(ctx(t), g, 1, 0, true, false)
	if err != nil {
		t.Fatal(err)
	}
	defer lead.Close()
	a := newMemApplier()
	f := r.Follow(g, a)
	defer f.Stop()
	rc, _ := lead.Publish(&Message{Kind: KindWrite, Points: points(3, 0, false)})
	seq, err := rc.Wait(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.WaitApplied(ctx(t), seq); err != nil {
		t.Fatal(err)
	}
	if err := p.stream.Purge(ctx(t), jetstream.WithPurgeSubject(groupSubject("c.t_1", g))); err != nil {
		t.Fatal(err)
	}
	rc, err = lead.Publish(&Message{Kind: KindWrite, Points: points(3, 10, false)})
	if err != nil {
		t.Fatal(err)
	}
	seq2, err := rc.Wait(ctx(t))
	if err != nil {
		t.Fatalf("publish after a purge: %v, want it stored after a new fence", err)
	}
	if seq2 <= seq+1 {
		t.Errorf("stored at %d right after %d: no fence in between", seq2, seq)
	}
	if err := f.WaitApplied(ctx(t), seq2); !errors.Is(err, ErrGap) {
		t.Fatalf("replica after the purge: %v, want ErrGap", err)
	}
	// A replica that applied up to seq2 is promoted at epoch 2 after the
	// subject lost everything: it takes over.
	if err := p.stream.Purge(ctx(t), jetstream.WithPurgeSubject(groupSubject("c.t_1", g))); err != nil {
		t.Fatal(err)
	}
	lead.Close()
	l2, err := r.Lead(ctx(t), g, 2, seq2, false, false)
	if err != nil {
		t.Fatalf("take over after a purge: %v", err)
	}
	l2.Close()
}
