package main

import (
	"testing"
	"time"
)

// TestEmbeddedTZData checks that zones load without the system database:
// ZONEINFO pointing at a directory with no zones makes time.LoadLocation
// fall back to the embedded copy.
func TestEmbeddedTZData(t *testing.T) {
	t.Setenv("ZONEINFO", t.TempDir())
	for _, name := range []string{"Europe/Paris", "Asia/Kathmandu", "America/New_York"} {
		if _, err := time.LoadLocation(name); err != nil {
			t.Errorf("LoadLocation(%q): %v", name, err)
		}
	}
}
