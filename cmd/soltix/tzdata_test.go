package main

import (
	"go/build"
	"slices"
	"testing"
)

// TestEmbeddedTZData checks that the binary links time/tzdata, so that
// TZ('Area/City') does not depend on the machine's /usr/share/zoneinfo
// (which a test cannot hide from time.LoadLocation in-process).
func TestEmbeddedTZData(t *testing.T) {
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(pkg.Imports, "time/tzdata") {
		t.Errorf("cmd/soltix does not import time/tzdata; imports %v", pkg.Imports)
	}
}
