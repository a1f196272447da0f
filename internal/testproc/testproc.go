// Package testproc runs one external server process (etcd, nats-server)
// for tests, the e2e harness and bench: its log file, its start with a
// readiness check, its graceful or hard stop, and its pid. It owns nothing
// else, but for finding a binary and free ports; internal/etcdtest,
// internal/natstest and internal/s3test build their servers on it.
package testproc

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// stopWait is how long Stop waits after SIGTERM before it sends SIGKILL.
const stopWait = 10 * time.Second

// Proc is one process, started again on demand. Its methods are safe for
// concurrent use.
type Proc struct {
	name    string // for errors: "etcd", "nats-server"
	logPath string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has been waited for
	log  *os.File
}

// New returns a stopped process named name whose output is appended to
// the file logPath.
func New(name, logPath string) *Proc { return &Proc{name: name, logPath: logPath} }

// Start runs bin with args, output to the log, killed by the kernel when
// the process that started it dies (Linux), then calls ready, which must
// return once the server answers or with an error; done is closed if the
// process exits meanwhile. When ready fails the process is killed and the
// error carries the log's end.
func (p *Proc) Start(bin string, args []string, ready func(done <-chan struct{}) error) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		return errors.New(p.name + " already running")
	}
	logf, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("%s log: %w", p.name, err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start %s: %w", p.name, err)
	}
	done := make(chan struct{})
	go func() {
		cmd.Wait() //nolint:errcheck // a stopped server's exit status says nothing
		close(done)
	}()
	p.cmd, p.done, p.log = cmd, done, logf
	if err := ready(done); err != nil {
		p.stopLocked(syscall.SIGKILL)
		return fmt.Errorf("%w\n%s", err, p.LogTail())
	}
	return nil
}

// LogTail returns the end of the log, for error messages.
func (p *Proc) LogTail() string {
	b, _ := os.ReadFile(p.logPath)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// Stop ends the process gracefully (SIGTERM, then SIGKILL after 10 s) and
// waits for it. Stopping a stopped process does nothing.
func (p *Proc) Stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stopLocked(syscall.SIGTERM)
}

// Kill ends the process with SIGKILL and waits for it.
func (p *Proc) Kill() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stopLocked(syscall.SIGKILL)
}

func (p *Proc) stopLocked(sig syscall.Signal) {
	if p.cmd == nil {
		return
	}
	p.cmd.Process.Signal(sig) //nolint:errcheck // it may have exited already
	select {
	case <-p.done:
	case <-time.After(stopWait):
		p.cmd.Process.Kill() //nolint:errcheck // as above
		<-p.done
	}
	p.log.Close()
	p.cmd, p.done, p.log = nil, nil, nil
}

// Pid returns the process id while it runs, 0 when it is stopped.
func (p *Proc) Pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || p.cmd.Process == nil {
		return 0
	}
	return p.cmd.Process.Pid
}
