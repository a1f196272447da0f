package testproc

import "syscall"

// sysProcAttr makes the kernel kill the server when the process that started it
// dies, so a crashed test leaves no server behind.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
