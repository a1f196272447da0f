package testproc

import (
	"fmt"
	"net"
	"os"
	"os/exec"
)

// FindBinary returns the first of paths that is a file, else name on
// PATH; ok is false when neither is there.
func FindBinary(name string, paths ...string) (string, bool) {
	for _, p := range paths {
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p, true
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, true
	}
	return "", false
}

// FreePorts returns n distinct free TCP ports of 127.0.0.1 (held together
// while they are picked, then released: another program may still take
// one before the server binds it, which callers retry).
func FreePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("free port: %w", err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
