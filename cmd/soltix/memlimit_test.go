package main

import (
	"strings"
	"testing"
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
		gomem     string
		want      int64
		wantSet   bool
		wantError string
	}{
		{name: "default", want: 96 * 4_000_000, wantSet: true},
		{name: "scales with memory points", points: 10_000_000, want: 960_000_000, wantSet: true},
		{name: "floor", points: 100_000, want: 256 << 20, wantSet: true},
		{name: "explicit", limit: "1GiB", want: 1 << 30, wantSet: true},
		{name: "off", limit: "off"},
		{name: "zero is off", limit: "0"},
		{name: "GOMEMLIMIT wins", limit: "1GiB", gomem: "300MiB"},
		{name: "bad", limit: "big", wantError: "memory_limit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := defaultConfig()
			c.MemoryLimit, c.Storage.MaxMemoryPoints = tc.limit, tc.points
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
