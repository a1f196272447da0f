package testproc

import (
	"os"
	"path/filepath"
	"testing"
)

func TestFindBinary(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "srv")
	if err := os.WriteFile(file, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		paths []string
		want  string
		ok    bool
	}{
		{"no-such-binary-soltix", []string{file}, file, true},
		{"no-such-binary-soltix", []string{filepath.Join(dir, "absent"), dir, file}, file, true}, // a directory is not a binary
		{"no-such-binary-soltix", []string{dir}, "", false},
		{"no-such-binary-soltix", nil, "", false},
	} {
		got, ok := FindBinary(tc.name, tc.paths...)
		if got != tc.want || ok != tc.ok {
			t.Errorf("FindBinary(%q, %v) = %q, %v; want %q, %v", tc.name, tc.paths, got, ok, tc.want, tc.ok)
		}
	}
}

func TestFreePorts(t *testing.T) {
	ports, err := FreePorts(4)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for _, p := range ports {
		if p <= 0 || seen[p] {
			t.Fatalf("ports %v: want 4 distinct ports", ports)
		}
		seen[p] = true
	}
	if len(ports) != 4 {
		t.Fatalf("got %d ports", len(ports))
	}
}
