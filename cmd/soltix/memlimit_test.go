package main

import (
	"bytes"
	"log/slog"
	"math"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/soltixdb/soltix/internal/gctune"
)

func TestParseSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		err  string
	}{
		{in: "0", want: 0},
		{in: "1048576", want: 1 << 20},
		{in: "512MiB", want: 512 << 20},
		{in: " 2 GiB ", want: 2 << 30},
		{in: "3GB", want: 3e9},
		{in: "10KB", want: 10e3},
		{in: "7B", want: 7},
		{in: "1TiB", want: 1 << 40},
		{in: "lots", err: "not a size"},
		{in: "-5MiB", err: "not a size"},
		{in: "1.5GiB", err: "not a size"},
		{in: "9000000000TiB", err: "too large"},
	} {
		got, err := parseSize(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("parseSize(%q) = %d, %v; want an error mentioning %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
}

func TestMemoryLimit(t *testing.T) {
	for _, tc := range []struct {
		name      string
		limit     string
		points    int
		bytes     string
		gomem     string
		want      int64
		wantSet   bool
		wantError string
	}{
		{name: "default", want: 384 << 20, wantSet: true},
		{name: "scales with memory points", points: 10_000_000, want: 960 << 20, wantSet: true},
		{name: "rounds up to a byte", points: 4_000_001, want: 384<<20 + 101, wantSet: true},
		{name: "huge saturates", points: math.MaxInt, want: math.MaxInt64, wantSet: true},
		{name: "floor", points: 100_000, want: 256 << 20, wantSet: true},
		{name: "max_memory_bytes above", bytes: "1GiB", want: 1536 << 20, wantSet: true},
		{name: "max_memory_bytes below", bytes: "64MiB", want: 384 << 20, wantSet: true},
		{name: "max_memory_bytes off", bytes: "off", want: 384 << 20, wantSet: true},
		{name: "explicit wins over max_memory_bytes", limit: "512MiB", bytes: "1GiB", want: 512 << 20, wantSet: true},
		{name: "explicit", limit: "1GiB", want: 1 << 30, wantSet: true},
		{name: "off", limit: "off"},
		{name: "zero is off", limit: "0"},
		{name: "GOMEMLIMIT wins", limit: "1GiB", gomem: "300MiB"},
		{name: "bad", limit: "big", wantError: "memory_limit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := defaultConfig()
			c.MemoryLimit, c.Storage.MaxMemoryPoints, c.Storage.MaxMemoryBytes = tc.limit, tc.points, tc.bytes
			n, set, err := c.memoryLimit(func(k string) string {
				if k == "GOMEMLIMIT" {
					return tc.gomem
				}
				return ""
			})
			if tc.wantError != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantError) {
					t.Fatalf("error %v, want one mentioning %q", err, tc.wantError)
				}
				if verr := c.validate(); verr == nil {
					t.Fatal("validate accepts a bad memory_limit")
				}
				return
			}
			if err != nil || n != tc.want || set != tc.wantSet {
				t.Fatalf("memoryLimit = %d, %v, %v; want %d, %v", n, set, err, tc.want, tc.wantSet)
			}
		})
	}
}

// TestMemoryLimitLogged checks that the limit the log reports is the one
// docs/operations.md names: 384 MiB by default.
func TestMemoryLimitLogged(t *testing.T) {
	prev := debug.SetMemoryLimit(-1)
	defer debug.SetMemoryLimit(prev)
	for _, tc := range []struct {
		limit string
		want  string
	}{
		{"", `limit="384 MiB" bytes=402653184`},
		{"2GiB", `limit="2 GiB" bytes=2147483648`},
		{"1000MB", `limit="1000000000 B" bytes=1000000000`},
		{"1536KiB", `limit="1536 KiB" bytes=1572864`},
	} {
		defer func() {
			if f := gctune.Current(); f != nil {
				f.Stop()
			}
		}()
		var buf bytes.Buffer
		c := defaultConfig()
		c.MemoryLimit = tc.limit
		applyMemoryLimit(&c, func(string) string { return "" }, slog.New(slog.NewTextHandler(&buf, nil)))
		if !strings.Contains(buf.String(), tc.want) {
			t.Errorf("memory_limit %q logs %q, want %q", tc.limit, buf.String(), tc.want)
		}
	}
}

// TestGCFloor checks the collection floor: a quarter of the memory limit,
// none without a limit or when the operator set GOGC, and that starting
// the server's limit starts the floor and logs it.
func TestGCFloor(t *testing.T) {
	noEnv := func(string) string { return "" }
	gogc := func(k string) string {
		if k == "GOGC" {
			return "200"
		}
		return ""
	}
	for _, tc := range []struct {
		limit  int64
		getenv func(string) string
		want   int64
		ok     bool
	}{
		{384 << 20, noEnv, 96 << 20, true},
		{1 << 30, noEnv, 256 << 20, true},
		{384 << 20, gogc, 0, false},
		{math.MaxInt64, noEnv, 0, false}, // no limit
		{0, noEnv, 0, false},
	} {
		got, ok := gcFloor(tc.limit, tc.getenv)
		if got != tc.want || ok != tc.ok {
			t.Errorf("gcFloor(%d) = %d, %v, want %d, %v", tc.limit, got, ok, tc.want, tc.ok)
		}
	}

	prev := debug.SetMemoryLimit(-1)
	defer debug.SetMemoryLimit(prev)
	var buf bytes.Buffer
	c := defaultConfig()
	applyMemoryLimit(&c, noEnv, slog.New(slog.NewTextHandler(&buf, nil)))
	f := gctune.Current()
	if f == nil {
		t.Fatal("applyMemoryLimit started no collection floor")
	}
	defer f.Stop()
	if want := `msg="collection floor" floor="96 MiB" bytes=100663296`; !strings.Contains(buf.String(), want) {
		t.Errorf("log %q does not say %q", buf.String(), want)
	}
	if f.Percent() < gctune.MinPercent {
		t.Errorf("floor's GOGC %d is below Go's default", f.Percent())
	}
}
