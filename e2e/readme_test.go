package e2e

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// readmeCommand is one shell command of the README with the output
// fragments ("#> " lines after it) it must print.
type readmeCommand struct {
	line   int // 1-based line of the README where it starts
	script string
	want   []string
}

// readmeCommands returns the commands of the ```sh blocks of the README's
// "## Walkthrough" section (up to the next "## " heading). A command runs
// on across lines ending in a backslash and through a here-document.
func readmeCommands(t *testing.T, readme string) []readmeCommand {
	t.Helper()
	lines := strings.Split(readme, "\n")
	var cmds []readmeCommand
	inSection, inBlock := false, false
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		switch {
		case strings.HasPrefix(line, "## "):
			inSection = line == "## Walkthrough"
			continue
		case !inSection:
			continue
		case line == "```sh":
			inBlock = true
			continue
		case line == "```":
			inBlock = false
			continue
		case !inBlock || strings.TrimSpace(line) == "":
			continue
		case strings.HasPrefix(line, "#> "):
			if len(cmds) == 0 {
				t.Fatalf("README line %d: output before any command", i+1)
			}
			cmds[len(cmds)-1].want = append(cmds[len(cmds)-1].want, strings.TrimPrefix(line, "#> "))
			continue
		case strings.HasPrefix(line, "#"):
			continue
		}
		c := readmeCommand{line: i + 1}
		script := line
		for strings.HasSuffix(lines[i], `\`) && i+1 < len(lines) {
			i++
			script += "\n" + lines[i]
		}
		if j := strings.Index(script, "<<'"); j >= 0 {
			end := strings.TrimSuffix(script[j+3:], "'")
			for i+1 < len(lines) {
				i++
				script += "\n" + lines[i]
				if lines[i] == end {
					break
				}
			}
		}
		c.script = script
		cmds = append(cmds, c)
	}
	return cmds
}

// TestReadmeWalkthrough runs the README's walkthrough, command by command,
// against the real binary on an empty data directory, and checks that each
// command succeeds and prints what its "#> " lines say.
func TestReadmeWalkthrough(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatal("the README's walkthrough uses curl, which is not installed (.ci/run installs it)")
	}
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	cmds := readmeCommands(t, string(readme))
	if len(cmds) < 15 {
		t.Fatalf("found %d commands in the walkthrough, want the whole of it", len(cmds))
	}
	s := startBinary(t, t.TempDir())
	bin := soltixBinary(t)
	for _, c := range cmds {
		script := strings.ReplaceAll(c.script, "http://127.0.0.1:5050", s.url)
		script = strings.ReplaceAll(script, "go run ./cmd/soltix", bin)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		cmd := exec.CommandContext(ctx, "sh", "-c", script)
		cmd.Env = append(os.Environ(), "SOLTIX_SERVER="+s.url)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		cancel()
		if err != nil {
			t.Fatalf("README line %d: %v\n%s\noutput:\n%s", c.line, err, c.script, out.String())
		}
		for _, w := range c.want {
			if !strings.Contains(out.String(), w) {
				t.Errorf("README line %d:\n%s\nprints:\n%s\nwhich lacks:\n%s", c.line, c.script, out.String(), w)
			}
		}
	}
}
