package main

import (
	"fmt"
	"io"
)

// storageCmd runs a cluster's storage node.
func storageCmd(args []string, stdout, stderr io.Writer) int {
	cfg, code, ok := roleConfig("storage", storageIntro, args, stdout, stderr)
	if !ok {
		return code
	}
	_ = cfg
	fmt.Fprintln(stderr, "soltix storage: not wired yet")
	return 1
}
