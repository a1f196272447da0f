package natstest

import "syscall"

// sysProcAttr makes the kernel kill nats-server when the process that started it
// dies, so a crashed test leaves no nats-server behind.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
