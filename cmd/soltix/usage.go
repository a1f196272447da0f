package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime/debug"
	"strings"
)

// usageWidth is the column at which help text wraps.
const usageWidth = 80

// parseFlags parses the flags of a subcommand. --help and -h print intro
// and the flags to stdout (exit code 0); a bad flag prints the error and a
// hint to stderr (exit code 2). ok is false when the command must exit with
// code.
func parseFlags(fs *flag.FlagSet, args []string, intro string, stdout, stderr io.Writer) (code int, ok bool) {
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	err := fs.Parse(args)
	switch {
	case err == nil:
		return 0, true
	case errors.Is(err, flag.ErrHelp):
		writeUsage(stdout, fs, intro)
		return 0, false
	}
	badUsage(stderr, fs.Name(), err.Error())
	return 2, false
}

// badUsage reports a usage error of a subcommand on stderr.
func badUsage(stderr io.Writer, cmd, msg string) {
	fmt.Fprintf(stderr, "soltix %s: %s\nRun 'soltix %s --help' for usage.\n", cmd, msg, cmd)
}

// writeUsage prints intro and then every flag of fs with its default and
// description, wrapped at usageWidth.
func writeUsage(w io.Writer, fs *flag.FlagSet, intro string) {
	fmt.Fprint(w, intro)
	first := true
	fs.VisitAll(func(f *flag.Flag) {
		if first {
			fmt.Fprint(w, "\nFlags:\n")
			first = false
		}
		typ, desc := flag.UnquoteUsage(f)
		head := "  --" + f.Name
		if typ != "" {
			head += " " + typ
		}
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" && !strings.Contains(desc, "(default") {
			desc += " (default " + f.DefValue + ")"
		}
		fmt.Fprintln(w, head)
		fmt.Fprint(w, wrapText(desc, "        ", usageWidth))
	})
}

// wrapText wraps s at word boundaries so that no line, indent included, is
// wider than width (a single longer word gets a line of its own). Every
// line ends with a newline.
func wrapText(s, indent string, width int) string {
	var b strings.Builder
	line := indent
	for _, word := range strings.Fields(s) {
		if line != indent && len(line)+1+len(word) > width {
			b.WriteString(line + "\n")
			line = indent
		}
		if line != indent {
			line += " "
		}
		line += word
	}
	if line != indent {
		b.WriteString(line + "\n")
	}
	return b.String()
}

// versionText describes the build: the version (set with -ldflags, else
// the module version go build recorded), then the VCS revision, its time
// and whether the tree had uncommitted changes, and the Go version.
func versionText(ldVersion string, bi *debug.BuildInfo, ok bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "soltix %s\n", displayVersion(ldVersion, bi, ok))
	if !ok {
		return b.String()
	}
	fmt.Fprintf(&b, "  module    %s %s\n", bi.Main.Path, bi.Main.Version)
	settings := map[string]string{}
	for _, s := range bi.Settings {
		settings[s.Key] = s.Value
	}
	for _, kv := range [][2]string{
		{"vcs.revision", "revision"}, {"vcs.time", "time"}, {"vcs.modified", "modified"},
	} {
		if v, ok := settings[kv[0]]; ok {
			fmt.Fprintf(&b, "  %-9s %s\n", kv[1], v)
		}
	}
	fmt.Fprintf(&b, "  go        %s\n", bi.GoVersion)
	return b.String()
}

// displayVersion is the one-word version: the -ldflags one when set, else
// the module version unless it is "(devel)", else "dev" with the short VCS
// revision ("dev+1a2b3c4d5e6f", "+dirty" when modified).
func displayVersion(ldVersion string, bi *debug.BuildInfo, ok bool) string {
	if ldVersion != "" && ldVersion != "dev" {
		return ldVersion
	}
	if !ok {
		return "dev"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	v := "dev"
	var modified bool
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			v += "+" + s.Value[:min(12, len(s.Value))]
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if modified {
		v += "+dirty"
	}
	return v
}

// buildVersion is displayVersion of the running binary.
func buildVersion() string {
	bi, ok := debug.ReadBuildInfo()
	return displayVersion(version, bi, ok)
}
