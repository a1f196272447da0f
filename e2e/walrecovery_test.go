package e2e

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestWALCorruptionRefusedThenTruncated damages a WAL record that intact
// records follow in the data directory of a killed binary: the binary
// refuses to start, naming segment and offset; with --wal-recovery=truncate
// it starts, keeps the records before the damage and logs what it dropped.
func TestWALCorruptionRefusedThenTruncated(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	s := startBinary(t, data)
	for _, line := range []string{"c,device_id=d1 v=1 1000", "c,device_id=d1 v=2 2000", "c,device_id=d1 v=3 3000"} {
		if code, err := s.write(line); err != nil || code != 204 {
			t.Fatalf("write %q: %d %v", line, code, err)
		}
	}
	s.kill(t)

	segs, err := filepath.Glob(filepath.Join(data, "wal", "*.wal"))
	if err != nil || len(segs) == 0 {
		t.Fatalf("wal segments: %v %v", segs, err)
	}
	last := segs[len(segs)-1]
	b, err := os.ReadFile(last)
	if err != nil {
		t.Fatal(err)
	}
	// Segment header (16 bytes in version 2, docs/format-wal.md), then
	// records: length, CRC, payload.
	first := 16 + 8 + int(binary.LittleEndian.Uint32(b[16:]))
	second := first + 8 + int(binary.LittleEndian.Uint32(b[first:]))
	if second >= len(b) {
		t.Fatalf("segment %s of %d bytes holds fewer than three records", last, len(b))
	}
	b[first+8+2] ^= 0x10 // the second write's payload
	if err := os.WriteFile(last, b, 0o644); err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(soltixBinary(t), "serve", "--listen", "127.0.0.1:0", "--data-dir", data)
	var logs binLogs
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 {
			t.Errorf("start on a corrupt WAL: %v, want exit status 1", err)
		}
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("soltix started on a corrupt WAL; logs:\n%s", logs.String())
	}
	segNo := strings.TrimLeft(strings.TrimSuffix(filepath.Base(last), ".wal"), "0")
	if l := logs.String(); !strings.Contains(l, "wal corruption in segment "+segNo+" at offset "+strconv.Itoa(first)) {
		t.Errorf("log does not name segment %s offset %d:\n%s", segNo, first, l)
	}

	s = startBinary(t, data, "--wal-recovery=truncate")
	defer s.stop(t)
	if l := s.logs.String(); !strings.Contains(l, "level=ERROR") || !strings.Contains(l, "dropped_records=1") {
		t.Errorf("log of the truncating start lacks an error with dropped_records=1:\n%s", l)
	}
	res := s.queryParams(t, "SELECT v FROM c", "&levels=raw")
	if len(res.Rows) != 1 || len(res.Rows[0]) < 2 || fmt.Sprint(res.Rows[0][1]) != "1" {
		t.Errorf("after truncation: rows %v, want the first write only", res.Rows)
	}
}
