package remote

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/remote/wire"
	"github.com/soltixdb/soltix/storage"
)

// TestMoveUnderLoad moves a group while a writer writes (new points and
// rewrites of old ones) and a reader counts: every acknowledged point ends
// on the new node with its last value, no count is wrong, and the old node
// holds nothing of the group, also after a restart.
func TestMoveUnderLoad(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := newMoveCluster(t)
	const g = 1
	l := newMoveLoad(c, g)
	dirA, dirB := t.TempDir(), t.TempDir()
	var hooksA, hooksB hookDB
	c.set(startMoveNode(t, c.m, "A", dirA, func(d GroupDB) GroupDB { hooksA.GroupDB = d; return &hooksA }, MoveOptions{}))
	c.set(startMoveNode(t, c.m, "B", dirB, func(d GroupDB) GroupDB { hooksB.GroupDB = d; return &hooksB }, MoveOptions{}))
	next := l.preload(t, ctx, 300)

	// Writes land between the tail's start and the snapshot, and between
	// the snapshot and the import (the tail alone carries those).
	hooksA.beforeSnapshot = func() { l.waitWrites(ctx, 20) }
	hooksB.beforeImport = func() { l.waitWrites(ctx, 20) }

	lctx, stopLoad := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { l.runWriter(lctx, next) })
	wg.Go(func() { l.runReader(lctx) })
	mv := NewMover(c.m, c.m, MoverOptions{Logger: quiet})
	err := mv.Move(ctx, g, "A", "B")
	if err == nil {
		l.waitWrites(ctx, 50) // the new primary takes writes
	}
	stopLoad()
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}

	e, _ := c.m.Group(g)
	if e.Primary != "B" || e.State != "" || e.MovingTo != "" || e.Epoch != 3 {
		t.Fatalf("map after the move: %+v", e)
	}
	l.check(t, c.node("B").db)
	if l.queries.Load() == 0 {
		t.Error("no query answered")
	}
	t.Logf("%d points acknowledged (%d batches), %d writes refused, %d queries answered, %d refused",
		l.nAcked.Load(), l.written.Load(), l.refused.Load(), l.queries.Load(), l.queryFails.Load())

	if err := c.node("B").moves.Sweep(ctx, true); err != nil {
		t.Fatal(err)
	}
	if !holdsGroup(t, c.node("B").db, g) {
		t.Error("B dropped the group it now serves")
	}
	if holdsGroup(t, c.node("A").db, g) {
		t.Error("A still holds the group after the move")
	}
	if src := c.node("A").moves.gates[g].src; src != nil {
		t.Error("A still records the group's tail")
	}
	am, bm, mm := c.node("A").moves.Metrics(), c.node("B").moves.Metrics(), mv.Metrics()
	if am.Snapshots != 1 || am.TailBatchesSent == 0 || am.FileBytesSent == 0 || am.GroupsDropped != 1 ||
		bm.PullsDone != 1 || bm.PullsFailed != 0 || bm.TailBatchesApplied != am.TailBatchesSent ||
		mm != (MoverMetrics{Moved: 1}) {
		t.Errorf("counters: A %+v, B %+v, mover %+v", am, bm, mm)
	}
	c.node("A").stop()
	a := startMoveNode(t, c.m, "A", dirA, nil, MoveOptions{})
	if holdsGroup(t, a.db, g) {
		t.Error("A holds the group again after a restart")
	}
	c.node("B").stop()
	b := startMoveNode(t, c.m, "B", dirB, nil, MoveOptions{})
	l.check(t, b.db)
}

// TestMoveInterrupted kills the old or the new node in the middle of the
// copy: the move fails, the map keeps the old primary (at a new epoch), the
// new node holds nothing of the group once it sweeps, no acknowledged point
// is lost, and the move succeeds when tried again.
func TestMoveInterrupted(t *testing.T) {
	for _, tc := range []struct {
		name   string
		victim string
		after  bool // after the import, while the tail is followed
	}{
		{"new node killed during the copy", "B", false},
		{"old node killed during the copy", "A", false},
		{"new node killed after its import", "B", true},
		{"old node killed after the new one's import", "A", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			c := newMoveCluster(t)
			const g = 2
			l := newMoveLoad(c, g)
			dirs := map[string]string{"A": t.TempDir(), "B": t.TempDir()}
			var hooksB hookDB
			c.set(startMoveNode(t, c.m, "A", dirs["A"], nil, MoveOptions{}))
			c.set(startMoveNode(t, c.m, "B", dirs["B"], func(d GroupDB) GroupDB { hooksB.GroupDB = d; return &hooksB }, MoveOptions{}))
			next := l.preload(t, ctx, 200)
			var once sync.Once
			kill := func() {
				once.Do(func() {
					l.waitWrites(ctx, 10)
					c.node(tc.victim).stop()
				})
			}
			if tc.after {
				hooksB.afterImport = kill
			} else {
				hooksB.beforeImport = kill
			}

			lctx, stopLoad := context.WithCancel(ctx)
			var wg sync.WaitGroup
			wg.Go(func() { l.runWriter(lctx, next) })
			wg.Go(func() { l.runReader(lctx) })
			mv := NewMover(c.m, c.m, MoverOptions{Logger: quiet})
			err := mv.Move(ctx, g, "A", "B")
			if err == nil {
				t.Fatal("the move succeeded with a node killed during its copy")
			}
			t.Logf("move failed as it should: %v", err)
			e, _ := c.m.Group(g)
			if e.Primary != "A" || e.State != "" || e.MovingTo != "" || e.Epoch != 3 {
				t.Fatalf("map after the failed move: %+v", e)
			}
			// The victim comes back (once it is down: the mover may see
			// the failure before the kill is complete).
			c.node(tc.victim).stop()
			c.set(startMoveNode(t, c.m, tc.victim, dirs[tc.victim], nil, MoveOptions{}))
			if src := c.node("A").moves.gates[g].src; src != nil {
				t.Error("A still records the group's tail after the move failed")
			}
			if err := c.node("B").moves.Sweep(ctx, true); err != nil {
				t.Fatal(err)
			}
			if holdsGroup(t, c.node("B").db, g) {
				t.Error("B holds the group after the move failed")
			}
			l.waitWrites(ctx, 20) // A takes writes again

			// Tried again, the move succeeds.
			if err := mv.Move(ctx, g, "A", "B"); err != nil {
				t.Fatal(err)
			}
			l.waitWrites(ctx, 20)
			stopLoad()
			wg.Wait()
			if e, _ := c.m.Group(g); e.Primary != "B" || e.State != "" {
				t.Fatalf("map after the second move: %+v", e)
			}
			l.check(t, c.node("B").db)
			if holdsGroup(t, c.node("A").db, g) {
				t.Error("A still holds the group after the second move")
			}
		})
	}
}

// TestMoveTailOverflow: a group written faster than its new node takes
// the tail fails its move cleanly.
func TestMoveTailOverflow(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := newMoveCluster(t)
	const g = 3
	l := newMoveLoad(c, g)
	var hooksB hookDB
	c.set(startMoveNode(t, c.m, "A", t.TempDir(), nil, MoveOptions{TailMaxBytes: 512}))
	c.set(startMoveNode(t, c.m, "B", t.TempDir(), func(d GroupDB) GroupDB { hooksB.GroupDB = d; return &hooksB }, MoveOptions{}))
	next := l.preload(t, ctx, 50)
	hooksB.beforeImport = func() { l.waitWrites(ctx, 40) } // 40 batches outgrow 512 bytes

	lctx, stopLoad := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { l.runWriter(lctx, next) })
	mv := NewMover(c.m, c.m, MoverOptions{Logger: quiet})
	err := mv.Move(ctx, g, "A", "B")
	stopLoad()
	wg.Wait()
	if mm, bm := mv.Metrics(), c.node("B").moves.Metrics(); mm != (MoverMetrics{Failed: 1, RolledBack: 1}) || bm.PullsFailed != 1 || bm.GroupsDropped != 1 {
		t.Errorf("counters: mover %+v, B %+v", mm, bm)
	}
	var ne *NodeError
	if !errors.As(err, &ne) || ne.Status != http.StatusServiceUnavailable {
		t.Fatalf("move error %v, want the new node's 503 naming the tail's overflow", err)
	}
	t.Logf("move failed as it should: %v", err)
	if e, _ := c.m.Group(g); e.Primary != "A" || e.State != "" {
		t.Fatalf("map after the failed move: %+v", e)
	}
	if holdsGroup(t, c.node("B").db, g) {
		t.Error("B holds the group after the move failed")
	}
	if src := c.node("A").moves.gates[g].src; src != nil {
		t.Error("A still records the group's tail")
	}
	l.check(t, c.node("A").db)
}

// TestMoveCarriesDeletes: a delete the old primary applies during the copy
// reaches the new node in its place in the tail, between the writes before
// and after it.
func TestMoveCarriesDeletes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := newMoveCluster(t)
	const g = 0
	l := newMoveLoad(c, g)
	var hooksB hookDB
	c.set(startMoveNode(t, c.m, "A", t.TempDir(), nil, MoveOptions{}))
	c.set(startMoveNode(t, c.m, "B", t.TempDir(), func(d GroupDB) GroupDB { hooksB.GroupDB = d; return &hooksB }, MoveOptions{}))
	l.preload(t, ctx, 60) // device 0 has times 1000, 1003, ..., 1057
	dev := model.Tags{{Key: "device_id", Value: l.devs[0]}}
	hooksB.beforeImport = func() {
		// After the snapshot: write, delete over it, write again.
		a := c.node("A")
		e, _ := c.m.Group(g)
		steps := []func() error{
			func() error { return a.write(ctx, g, e.Epoch, []model.Point{movePoint(l.devs[0], 1001, -1)}) },
			func() error {
				return a.moves.Delete(moveColl, []GroupDelete{{Group: g, Epoch: e.Epoch, Series: []model.Tags{dev}}}, 1000, 1030,
					func() error { return a.db.Delete(ctx, moveColl, []model.Tags{dev}, 1000, 1030) })
			},
			func() error { return a.write(ctx, g, e.Epoch, []model.Point{movePoint(l.devs[0], 1002, -2)}) },
		}
		for i, step := range steps {
			if err := step(); err != nil {
				t.Errorf("step %d: %v", i, err)
			}
		}
	}
	if err := NewMover(c.m, c.m, MoverOptions{Logger: quiet}).Move(ctx, g, "A", "B"); err != nil {
		t.Fatal(err)
	}
	vals, err := readDevs(ctx, c.node("B").db, l.devs[:1])
	if err != nil {
		t.Fatal(err)
	}
	got := vals[l.devs[0]]
	want := map[int64]int64{1002: -2}
	for tm := int64(1033); tm < 1060; tm += 3 {
		want[tm] = tm - 1000
	}
	if len(got) != len(want) {
		t.Errorf("device 0 on B: %v, want %v", got, want)
	}
	for tm, v := range want {
		if got[tm] != v {
			t.Errorf("device 0 time %d on B: %d, want %d", tm, got[tm], v)
		}
	}
}

// TestMoveThroughRouter is TestMoveUnderLoad, there and back, with the
// writes and count queries sent by a router's Client to the nodes'
// internal API: the nodes' gates refuse
// writes at stale epochs (the client refreshes and follows the group) and
// during the switch (a 503 naming the group, which a client may retry).
func TestMoveThroughRouter(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := newMoveCluster(t)
	const g = 1
	l := newMoveLoad(c, g)
	var hooksB hookDB
	c.set(startMoveNode(t, c.m, "A", t.TempDir(), nil, MoveOptions{}))
	c.set(startMoveNode(t, c.m, "B", t.TempDir(), func(d GroupDB) GroupDB { hooksB.GroupDB = d; return &hooksB }, MoveOptions{}))
	l.client = NewClient(c.m, ClientOptions{Logger: quiet})
	t.Cleanup(func() { l.client.Close() })
	next := l.preload(t, ctx, 200)
	hooksB.beforeImport = func() { l.waitWrites(ctx, 20) }

	lctx, stopLoad := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { l.runWriter(lctx, next) })
	wg.Go(func() { l.runReader(lctx) })
	mv := NewMover(c.m, c.m, MoverOptions{Logger: quiet})
	err := mv.Move(ctx, g, "A", "B")
	if err == nil {
		l.waitWrites(ctx, 50)
		// And back: A, which dropped the group, takes it again.
		err = mv.Move(ctx, g, "B", "A")
	}
	if err == nil {
		l.waitWrites(ctx, 50)
	}
	stopLoad()
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if e, _ := c.m.Group(g); e.Primary != "A" || e.State != "" || e.Epoch != 5 {
		t.Fatalf("map after the moves: %+v", e)
	}
	l.check(t, c.node("A").db)
	if holdsGroup(t, c.node("B").db, g) {
		t.Error("B still holds the group after it moved back")
	}
	t.Logf("%d points acknowledged (%d batches), %d writes refused, %d queries answered, %d refused",
		l.nAcked.Load(), l.written.Load(), l.refused.Load(), l.queries.Load(), l.queryFails.Load())
}

// TestMoveFenceSurvivesRestart restarts the old primary after the final
// tail fenced it and before the map switches: the restarted node has lost
// its copy and fence, yet refuses the moving group's writes, so nothing it
// acknowledges is left behind by the switch.
func TestMoveFenceSurvivesRestart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := newMoveCluster(t)
	const g = 1
	l := newMoveLoad(c, g)
	dirA := t.TempDir()
	c.set(startMoveNode(t, c.m, "A", dirA, nil, MoveOptions{}))
	c.set(startMoveNode(t, c.m, "B", t.TempDir(), nil, MoveOptions{}))
	next := l.preload(t, ctx, 100)
	var refused error
	upd := &hookUpdater{moveMap: c.m, beforeSwitch: func() {
		c.node("A").stop()
		a := startMoveNode(t, c.m, "A", dirA, nil, MoveOptions{})
		c.set(a)
		e, _ := c.m.Group(g)
		refused = a.write(ctx, g, e.Epoch, []model.Point{movePoint(l.devs[0], 5000, 1)})
		if !l.writeOnce(ctx, 0, 5001, 1) && l.refused.Load() == 0 {
			t.Error("write through the load neither acknowledged nor refused")
		}
	}}
	lctx, stopLoad := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { l.runWriter(lctx, next) })
	err := NewMover(c.m, upd, MoverOptions{Logger: quiet}).Move(ctx, g, "A", "B")
	if err == nil {
		l.waitWrites(ctx, 20)
	}
	stopLoad()
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(refused, ErrGroupSwitching) {
		t.Fatalf("write to the restarted old primary during the switch: %v, want ErrGroupSwitching", refused)
	}
	l.check(t, c.node("B").db)
}

// TestMoveFenceAnswers503: between the fence and the switch of the map, a
// write of the group sent to the old primary's internal API answers 503
// with Retry-After naming the group, and a router's Client reports the
// group as not written once its SwitchWait is over; a Client that waits
// longer than the switch lands the write on the new node without an error;
// after the switch the same write lands on the new node.
func TestMoveFenceAnswers503(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := newMoveCluster(t)
	const g = 2
	l := newMoveLoad(c, g)
	c.set(startMoveNode(t, c.m, "A", t.TempDir(), nil, MoveOptions{}))
	c.set(startMoveNode(t, c.m, "B", t.TempDir(), nil, MoveOptions{}))
	l.preload(t, ctx, 30)
	// client gives up on the switch at once; patient outwaits it.
	client := NewClient(c.m, ClientOptions{Logger: quiet, SwitchWait: time.Millisecond})
	t.Cleanup(func() { client.Close() })
	patient := NewClient(c.m, ClientOptions{Logger: quiet, SwitchWait: time.Minute})
	t.Cleanup(func() { patient.Close() })
	pt := []model.Point{movePoint(l.devs[0], 9000, 9)}
	late := []model.Point{movePoint(l.devs[0], 9001, 10)}
	patientErr := make(chan error, 1)
	var status int
	var retryAfter string
	var body ErrorBody
	var clientErr error
	upd := &hookUpdater{moveMap: c.m, beforeSwitch: func() {
		e, _ := c.m.Group(g)
		frame, err := wire.AppendFrame(nil, g, e.Epoch, pt)
		if err != nil {
			t.Error(err)
			return
		}
		addr, _ := c.m.NodeAddr("A")
		resp, err := newH2Client(nil).Post(addr+PathWrite, ContentTypeFrames, bytes.NewReader(frame))
		if err != nil {
			t.Error(err)
			return
		}
		defer resp.Body.Close()
		status, retryAfter, body = resp.StatusCode, resp.Header.Get("Retry-After"), readErrorBody(resp.Body)
		clientErr = client.Write(ctx, pt)
		// Hold the switch until A has refused the patient write once, so
		// that it is sent while A is fenced.
		refused := c.node("A").moves.Metrics().WritesRefused
		go func() { patientErr <- patient.Write(ctx, late) }()
		for c.node("A").moves.Metrics().WritesRefused == refused && ctx.Err() == nil {
			time.Sleep(time.Millisecond)
		}
	}}
	if err := NewMover(c.m, upd, MoverOptions{Logger: quiet}).Move(ctx, g, "A", "B"); err != nil {
		t.Fatal(err)
	}
	if n := c.node("A").moves.Metrics().WritesRefused; n < 3 {
		t.Errorf("A counted %d writes refused during the switch, want at least 3", n)
	}
	if status != http.StatusServiceUnavailable || retryAfter == "" || body.Code != CodeSwitching || !slices.Equal(body.Groups, []int{g}) {
		t.Errorf("write during the switch: %d Retry-After %q %+v", status, retryAfter, body)
	}
	var we *WriteError
	if !errors.As(clientErr, &we) || !slices.Equal(we.Groups, []int{g}) || !errors.Is(clientErr, storage.ErrUnavailable) {
		t.Errorf("client write during the switch: %v", clientErr)
	}
	if err := <-patientErr; err != nil {
		t.Errorf("a write waiting out the switch: %v", err)
	}
	if err := client.Write(ctx, pt); err != nil {
		t.Fatalf("write after the switch: %v", err)
	}
	vals, err := readDevs(ctx, c.node("B").db, l.devs[:1])
	if err != nil || vals[l.devs[0]][9000] != 9 || vals[l.devs[0]][9001] != 10 {
		t.Fatalf("B after the switch: %v %v", vals, err)
	}
}
