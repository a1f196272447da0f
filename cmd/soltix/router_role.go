package main

import (
	"fmt"
	"io"
)

// routerCmd runs a cluster's router.
func routerCmd(args []string, stdout, stderr io.Writer) int {
	cfg, code, ok := roleConfig("router", routerIntro, args, stdout, stderr)
	if !ok {
		return code
	}
	_ = cfg
	fmt.Fprintln(stderr, "soltix router: not wired yet")
	return 1
}
