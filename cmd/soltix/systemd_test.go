package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// unitFile is the systemd unit of deploy/systemd.
const unitFile = "../../deploy/systemd/soltix.service"

// readUnit parses a systemd unit file into section → key → values (a key
// may repeat).
func readUnit(t *testing.T, path string) map[string]map[string][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]map[string][]string{}
	section := ""
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = line[1 : len(line)-1]
			out[section] = map[string][]string{}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" || strings.TrimSpace(k) == "" {
				t.Fatalf("%s:%d: %q is not KEY=VALUE in a section", path, n, line)
			}
			out[section][strings.TrimSpace(k)] = append(out[section][strings.TrimSpace(k)], strings.TrimSpace(v))
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSystemdUnit checks deploy/systemd/soltix.service: it runs soltix
// serve with flags serve accepts, on a data directory it may write and
// nothing else, with the hardening options set, a stop timeout that covers
// a graceful shutdown, and restarts on failure. Where systemd-analyze is
// installed, `systemd-analyze verify` must accept it without a warning.
func TestSystemdUnit(t *testing.T) {
	u := readUnit(t, unitFile)
	svc := u["Service"]
	if svc == nil || u["Unit"] == nil || u["Install"] == nil {
		t.Fatalf("want [Unit], [Service] and [Install] sections, got %v", u)
	}
	one := func(k string) string {
		if len(svc[k]) != 1 {
			t.Errorf("[Service] %s: %q, want one value", k, svc[k])
			return ""
		}
		return svc[k][0]
	}
	// ExecStart: soltix serve with flags of serve, and a data directory
	// the unit lets it write.
	argv := strings.Fields(one("ExecStart"))
	if len(argv) < 2 || filepath.Base(argv[0]) != "soltix" || argv[1] != "serve" {
		t.Fatalf("ExecStart %q: want soltix serve", argv)
	}
	fs, f := serveFlags("serve", defaultConfig(), func(string) string { return "" })
	if err := fs.Parse(argv[2:]); err != nil || fs.NArg() != 0 {
		t.Fatalf("ExecStart %q: not flags of soltix serve: %v", argv, err)
	}
	if *f.dataDir == "" || *f.configPath == "" {
		t.Errorf("ExecStart %q: want --config and --data-dir", argv)
	}
	rw := strings.Fields(one("ReadWritePaths"))
	if len(rw) != 1 || rw[0] != *f.dataDir {
		t.Errorf("ReadWritePaths %q: want exactly the data directory %s", rw, *f.dataDir)
	}
	if sd := one("StateDirectory"); "/var/lib/"+sd != *f.dataDir {
		t.Errorf("StateDirectory %q: want the data directory %s created for the service", sd, *f.dataDir)
	}
	// Hardening.
	for k, want := range map[string]string{
		"NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes",
		"PrivateDevices": "yes", "CapabilityBoundingSet": "", "AmbientCapabilities": "", "ProtectKernelTunables": "yes",
		"ProtectKernelModules": "yes", "ProtectControlGroups": "yes", "RestrictSUIDSGID": "yes", "LockPersonality": "yes",
		"MemoryDenyWriteExecute": "yes", "RestrictNamespaces": "yes", "Restart": "on-failure", "KillSignal": "SIGTERM",
	} {
		if got := one(k); got != want {
			t.Errorf("[Service] %s=%q, want %q", k, got, want)
		}
	}
	if u := one("User"); u == "" || u == "root" {
		t.Errorf("User=%q: want an unprivileged user", u)
	}
	// The stop timeout covers a graceful shutdown: requests in flight,
	// then the flush.
	stop, err := time.ParseDuration(one("TimeoutStopSec") + "s")
	if err != nil || stop < shutdownTimeout+shutdownFlushAllowance {
		t.Errorf("TimeoutStopSec=%q: want at least %s (shutdown %s and a flush)", one("TimeoutStopSec"), shutdownTimeout+shutdownFlushAllowance, shutdownTimeout)
	}

	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		return // the structure above is what can be checked
	}
	// verify needs ExecStart's binary: the test's own executable stands in.
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(unitFile)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "soltix.service")
	if err := os.WriteFile(path, []byte(strings.Replace(string(b), argv[0], self, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", path).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) != 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}
