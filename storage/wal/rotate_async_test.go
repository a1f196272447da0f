package wal

import (
	"errors"
	"sync"
	"testing"
)

// TestRotateAsync checks the cut RotateAsync marks while appends run
// concurrently: every Append that returned before the call is in an
// earlier segment than the new one, every Append begun after it returned
// in the new one or a later one, and wait returns the same each time.
func TestRotateAsync(t *testing.T) {
	for _, sync := range []SyncMode{SyncAlways, SyncNever} {
		t.Run(sync.String(), func(t *testing.T) {
			w, _, err := replayAll(t, t.TempDir(), testOptions(nil, sync))
			if err != nil {
				t.Fatal(err)
			}
			for round := 0; round < 20; round++ {
				testRotateAsyncRound(t, w)
			}
		})
	}
}

func testRotateAsyncRound(t *testing.T, w *WAL) {
	const writers, perWriter = 4, 30
	type done struct {
		seg      uint64
		afterCut bool // the Append began after RotateAsync returned
		before   bool // the Append returned before RotateAsync was called
	}
	var (
		mu      sync.Mutex
		cutting bool // RotateAsync has been called
		cut     bool // RotateAsync has returned
		results []done
		wg      sync.WaitGroup
	)
	start := make(chan struct{})
	for g := 0; g < writers; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for i := 0; i < perWriter; i++ {
				mu.Lock()
				after := cut
				mu.Unlock()
				seg, err := w.Append([]byte(payload(i)))
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				results = append(results, done{seg: seg, afterCut: after, before: !cutting})
				mu.Unlock()
			}
		}()
	}
	close(start)
	// Let some appends through, then cut while the others run.
	for {
		mu.Lock()
		n := len(results)
		mu.Unlock()
		if n >= writers {
			break
		}
		if _, err := w.Append([]byte("pace")); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	cutting = true
	mu.Unlock()
	wait := w.RotateAsync()
	mu.Lock()
	cut = true
	mu.Unlock()
	wg.Wait()
	seg, err := wait()
	if err != nil {
		t.Fatal(err)
	}
	if seg2, err2 := wait(); seg2 != seg || err2 != nil {
		t.Fatalf("second wait = %d, %v; first %d, nil", seg2, err2, seg)
	}
	for _, r := range results {
		switch {
		case r.before && r.seg >= seg:
			t.Errorf("append returned before the cut is in segment %d, new segment %d", r.seg, seg)
		case r.afterCut && r.seg < seg:
			t.Errorf("append begun after the cut is in segment %d, new segment %d", r.seg, seg)
		}
	}
}

// TestRotateAsyncClosed: a rotation asked for after Close waits for
// nothing and returns ErrClosed.
func TestRotateAsyncClosed(t *testing.T) {
	w, _, err := replayAll(t, t.TempDir(), testOptions(nil, SyncNever))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if seg, err := w.RotateAsync()(); seg != 0 || !errors.Is(err, ErrClosed) {
		t.Fatalf("RotateAsync after Close = %d, %v; want 0, ErrClosed", seg, err)
	}
}
