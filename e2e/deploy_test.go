package e2e

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// TestDeployScript drives deploy/cluster.sh as the README tells a user to,
// on ports the test picks: start (etcd, three storage nodes, a router),
// status, a write and a query through the router, stop (every process
// gone), then start again on the same directory: the data is still there.
func TestDeployScript(t *testing.T) {
	bin := soltixBinary(t)
	dir := filepath.Join(t.TempDir(), "cluster")
	ports := freePorts(t, 6)
	router := "http://127.0.0.1:" + ports[5]
	env := append(os.Environ(), "SOLTIX_BIN="+bin, "ETCD_PORT="+ports[0], "ETCD_PEER_PORT="+ports[1],
		"STORAGE_PORTS="+strings.Join(ports[2:5], " "), "ROUTER_PORT="+ports[5], "NUM_GROUPS=8")
	script, err := filepath.Abs("../deploy/cluster.sh")
	if err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (string, int) {
		t.Helper()
		cmd := exec.Command(script, args...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		switch {
		case err == nil:
			return string(out), 0
		case errors.As(err, &exit):
			return string(out), exit.ExitCode()
		}
		t.Fatalf("cluster.sh %s: %v\n%s", strings.Join(args, " "), err, out)
		return "", 0
	}
	pids := func() []int {
		var out []int
		for _, name := range []string{"etcd", "s1", "s2", "s3", "router"} {
			b, err := os.ReadFile(filepath.Join(dir, name+".pid"))
			if err != nil {
				continue
			}
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
				out = append(out, pid)
			}
		}
		return out
	}
	t.Cleanup(func() {
		run("stop", dir)
		for _, pid := range pids() { // whatever stop left behind
			syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	logs := func() string {
		var b strings.Builder
		for _, name := range []string{"etcd", "s1", "s2", "s3", "router"} {
			l, _ := os.ReadFile(filepath.Join(dir, name+".log"))
			if len(l) > 3000 {
				l = l[len(l)-3000:]
			}
			b.WriteString("---- " + name + ".log:\n" + string(l))
		}
		return b.String()
	}

	out, code := run("start", dir)
	if code != 0 || !strings.Contains(out, "router    "+router) {
		t.Fatalf("cluster.sh start: exit %d, want 0 and the router's URL %s:\n%s\n%s", code, router, out, logs())
	}
	running := pids()
	if len(running) != 5 {
		t.Fatalf("after start: %d pid files, want 5 (etcd, s1, s2, s3, router)", len(running))
	}
	if out, code := run("status", dir); code != 0 || strings.Count(out, "running (pid") != 5 || !strings.Contains(out, `"num_groups":8`) {
		t.Errorf("cluster.sh status: exit %d, want 0, five processes running and the cluster's status:\n%s", code, out)
	}
	if out, code := run("start", dir); code == 0 || !strings.Contains(out, "already running") {
		t.Errorf("cluster.sh start while running: exit %d, want a failure saying it runs:\n%s", code, out)
	}

	srv := &binServer{url: router}
	var lp strings.Builder
	for d := range 40 {
		for i := range 5 {
			lp.WriteString("m,device_id=d" + strconv.Itoa(d) + " v=" + strconv.Itoa(i) + " " + strconv.Itoa(1_700_000_000_000_000_000+i*1_000_000_000) + "\n")
		}
	}
	if code, err := srv.write(lp.String()); err != nil || code != http.StatusNoContent {
		t.Fatalf("write through the router: %d %v\n%s", code, err, logs())
	}
	const q = "SELECT count(v), sum(v) FROM m"
	want := `[[0 200 400]]`
	check := func(stage string) {
		t.Helper()
		res := srv.query(t, q)
		if got := fmt.Sprint(res.Rows); got != want {
			t.Errorf("%s: %s = %s, want %s", stage, q, got, want)
		}
	}
	check("after start")

	if out, code := run("stop", dir); code != 0 {
		t.Fatalf("cluster.sh stop: exit %d:\n%s\n%s", code, out, logs())
	}
	for _, pid := range running {
		if processRunning(pid) {
			t.Errorf("after stop: pid %d still runs", pid)
		}
	}
	if left := pids(); len(left) != 0 {
		t.Errorf("after stop: pid files of %v left", left)
	}
	if out, code := run("status", dir); code != 3 || strings.Count(out, "stopped") != 5 {
		t.Errorf("cluster.sh status after stop: exit %d, want 3 and five stopped:\n%s", code, out)
	}

	if out, code := run("start", dir); code != 0 {
		t.Fatalf("cluster.sh start again: exit %d:\n%s\n%s", code, out, logs())
	}
	check("after stop and start")
	if out, code := run("stop", dir); code != 0 {
		t.Fatalf("cluster.sh stop: exit %d:\n%s", code, out)
	}
}

// freePorts returns n distinct loopback ports the kernel considers free.
func freePorts(t *testing.T, n int) []string {
	t.Helper()
	var ports []string
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		ports = append(ports, strconv.Itoa(l.Addr().(*net.TCPAddr).Port))
	}
	return ports
}

// processRunning says whether pid is a process that has not exited (a
// zombie, exited but not yet reaped by its parent, has).
func processRunning(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// pid (comm) state ...; comm may hold spaces and parentheses.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}
