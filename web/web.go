// Package web holds the web console: plain HTML, CSS and JavaScript files
// embedded in the binary (no build step, no CDN), which httpapi serves at /
// (index.html) and /static/{file}. The script is a set of ES modules, flat
// in static/ (one path segment each), with console.js as the entry point.
package web

import (
	"embed"
	"io/fs"
)

//go:embed static
var files embed.FS

// Static returns the console's files, named without the static/ prefix.
func Static() fs.FS {
	sub, err := fs.Sub(files, "static")
	if err != nil {
		panic(err) // the directory is embedded at build time
	}
	return sub
}
