//go:build !linux

package main

import (
	"errors"
	"syscall"
)

func benchSysProcAttr() *syscall.SysProcAttr { return nil }

// procCPUSeconds needs Linux's /proc.
func procCPUSeconds(pid int) (float64, error) {
	return 0, errors.New("cpu time of a process: only on linux")
}
