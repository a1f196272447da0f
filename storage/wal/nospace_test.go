package wal

import (
	"errors"
	"fmt"
	"syscall"
	"testing"

	"github.com/soltixdb/soltix/storage/vfs"
	"github.com/soltixdb/soltix/storage/vfs/errorfs"
)

// TestNoSpaceRecovers fills the disk under the WAL in each way a full disk
// shows (a write that stores nothing, a short write, a rotation that cannot
// create its segment), frees it, and checks: the WAL never fails, the
// refused Appends return ErrNoSpace, later ones succeed, and Replay
// returns exactly the records whose Append succeeded.
func TestNoSpaceRecovers(t *testing.T) {
	for _, tc := range []struct {
		name string
		rule errorfs.Rule
		seg  int64 // segment size: small makes every batch rotate
	}{
		{"write stores nothing", errorfs.Rule{Op: errorfs.OpWrite, Path: "*.wal", Err: syscall.ENOSPC}, 1 << 20},
		{"short write", errorfs.Rule{Op: errorfs.OpWrite, Path: "*.wal", Err: syscall.ENOSPC, Short: true}, 1 << 20},
		{"short write after bytes", errorfs.Rule{Op: errorfs.OpWrite, Path: "*.wal", Err: syscall.ENOSPC, Short: true, AfterBytes: 100}, 1 << 20},
		// "*": the spare segment a rotation is prepared in (spare.go) too.
		{"rotation cannot create", errorfs.Rule{Op: errorfs.OpCreate, Path: "*", Err: syscall.ENOSPC}, 64},
		{"rotation header write", errorfs.Rule{Op: errorfs.OpWrite, Path: "*", Err: syscall.ENOSPC}, 64},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			fs := errorfs.New(vfs.Default)
			opts := testOptions(nil, SyncAlways)
			opts.FS, opts.SegmentSize = fs, tc.seg
			w, _, err := replayAll(t, dir, opts)
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			appendOK := func(s string) {
				t.Helper()
				if _, err := w.Append([]byte(s)); err != nil {
					t.Fatalf("append %q: %v", s, err)
				}
				want = append(want, s)
			}
			for i := range 5 {
				appendOK(fmt.Sprintf("before-%d-%s", i, pad))
			}
			fs.Inject(tc.rule)
			refused := 0
			for i := range 5 {
				s := fmt.Sprintf("full-%d-%s", i, pad)
				_, err := w.Append([]byte(s))
				switch {
				case err == nil:
					want = append(want, s) // the rule let it through (AfterBytes)
				case errors.Is(err, ErrNoSpace) && errors.Is(err, syscall.ENOSPC) && !errors.Is(err, ErrFailed):
					refused++
				default:
					t.Fatalf("append %q on a full disk: %v, want ErrNoSpace", s, err)
				}
			}
			if refused == 0 {
				t.Fatal("no append was refused")
			}
			if err := w.Err(); err != nil {
				t.Fatalf("WAL failed on a full disk: %v", err)
			}
			if got := w.Stats().NoSpace; got < int64(refused) {
				t.Errorf("Stats().NoSpace = %d, want at least %d", got, refused)
			}
			fs.Clear()
			for i := range 5 {
				appendOK(fmt.Sprintf("after-%d-%s", i, pad))
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			_, es, err := replayAll(t, dir, testOptions(nil, SyncAlways))
			if err != nil {
				t.Fatal(err)
			}
			got := records(es)
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("replayed %d records:\n%q\nwant %d:\n%q", len(got), got, len(want), want)
			}
		})
	}
}

const pad = "0123456789abcdef0123456789abcdef"
