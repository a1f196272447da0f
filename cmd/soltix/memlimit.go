package main

import (
	"fmt"
	"log/slog"
	"math"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/soltixdb/soltix/internal/gctune"
)

// The Go heap's soft limit (runtime/debug.SetMemoryLimit). Without one the
// collector lets the heap grow to twice what is live, and at high ingest
// rates the live heap holds two generations of in-memory points (the one
// being flushed and the one filling), so the peak is four times a
// generation. The default limit scales with max_memory_points: 96 MiB per
// million points (about 100 bytes a point), so 384 MiB with the default.
const (
	defaultMemoryPoints         = 4_000_000 // storage.Options' default
	memoryBytesPerMillionPoints = 96 << 20
	minDefaultMemoryLimit       = 256 << 20
)

// parseSize parses a byte count written as an integer with an optional
// unit: B, KiB, MiB, GiB, TiB (powers of 1024) or KB, MB, GB, TB (powers
// of 1000).
func parseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	units := []struct {
		suffix string
		mult   int64
	}{
		{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
		{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"B", 1},
	}
	mult := int64(1)
	for _, u := range units {
		if rest, ok := strings.CutSuffix(t, u.suffix); ok {
			t, mult = strings.TrimSpace(rest), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is not a size (such as 512MiB or 2GB)", s)
	}
	if n > math.MaxInt64/mult {
		return 0, fmt.Errorf("size %q is too large", s)
	}
	return n * mult, nil
}

// memoryLimit returns the soft heap limit the configuration asks for, and
// false when none should be set: memory_limit "off", or GOMEMLIMIT set in
// the environment (the runtime has applied it already).
func (c *Config) memoryLimit(getenv func(string) string) (int64, bool, error) {
	if getenv("GOMEMLIMIT") != "" || c.MemoryLimit == "off" {
		return 0, false, nil
	}
	if c.MemoryLimit != "" {
		n, err := parseSize(c.MemoryLimit)
		if err != nil {
			return 0, false, fmt.Errorf("memory_limit: %w", err)
		}
		if n == 0 {
			return 0, false, nil
		}
		return n, true, nil
	}
	points := int64(c.Storage.MaxMemoryPoints)
	if points <= 0 {
		points = defaultMemoryPoints
	}
	if points > math.MaxInt64/memoryBytesPerMillionPoints {
		return math.MaxInt64, true, nil
	}
	n := (points*memoryBytesPerMillionPoints + 999_999) / 1_000_000
	// A storage.max_memory_bytes set above that: the values and the index
	// may take it, and flushes and queries need room besides, so the heap
	// gets half as much again.
	if b := c.Storage.maxMemoryBytes(); b > 0 {
		if b > math.MaxInt64/3 {
			return math.MaxInt64, true, nil
		}
		n = max(n, b/2*3)
	}
	return max(minDefaultMemoryLimit, n), true, nil
}

// formatSize writes a byte count in the largest binary unit that divides
// it exactly ("384 MiB", "1 GiB", "1000 B"), the units parseSize reads.
func formatSize(n int64) string {
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n >= u.mult && n%u.mult == 0 {
			return strconv.FormatInt(n/u.mult, 10) + " " + u.suffix
		}
	}
	return strconv.FormatInt(n, 10) + " B"
}

// applyMemoryLimit sets the heap's soft limit from the configuration, and
// under a limit a collection floor of a quarter of it (gcFloor).
func applyMemoryLimit(c *Config, getenv func(string) string, log *slog.Logger) {
	n, ok, err := c.memoryLimit(getenv)
	switch {
	case err != nil: // validate reported it already
	case !ok:
		log.Info("no memory limit from the configuration", "GOMEMLIMIT", getenv("GOMEMLIMIT"))
	default:
		debug.SetMemoryLimit(n)
		log.Info("memory limit", "limit", formatSize(n), "bytes", n)
	}
	if floor, ok := gcFloor(debug.SetMemoryLimit(-1), getenv); ok {
		gctune.Start(uint64(floor))
		log.Info("collection floor", "floor", formatSize(floor), "bytes", floor)
	}
}

// gcFloor is the heap size below which the collector does not run
// (package gctune): a quarter of the soft memory limit, so that a process
// with little live (a router, a storage node between flushes) does not
// spend a third of its CPU collecting a few MiB over and over. None
// without a limit, or when GOGC is set in the environment: the operator
// chose.
func gcFloor(limit int64, getenv func(string) string) (int64, bool) {
	if limit <= 0 || limit == math.MaxInt64 || getenv("GOGC") != "" {
		return 0, false
	}
	return limit / 4, true
}
