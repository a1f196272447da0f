package reqid

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
)

func TestAccept(t *testing.T) {
	for _, tc := range []struct {
		in   string
		keep bool
	}{
		{"abc-123_x.y", true},
		{strings.Repeat("a", 64), true},
		{strings.Repeat("a", 65), false},
		{"", false},
		{"has space", false},
		{"new\nline", false},
		{"ünicode", false},
		{"semi;colon", false},
		{`quote"`, false},
	} {
		got := Accept(tc.in)
		if (got == tc.in) != tc.keep {
			t.Errorf("Accept(%q) = %q, keep %v", tc.in, got, tc.keep)
		}
		if !Valid(got) {
			t.Errorf("Accept(%q) = %q, not valid", tc.in, got)
		}
	}
	if New() == New() {
		t.Fatal("two New ids are equal")
	}
}

func TestHandler(t *testing.T) {
	var buf bytes.Buffer
	log := Logger(slog.New(slog.NewJSONHandler(&buf, nil))).With("k", "v")
	log.InfoContext(With(context.Background(), "id-1"), "one")
	log.InfoContext(context.Background(), "two")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines: %s", len(lines), buf.String())
	}
	var one, two map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &one); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(lines[1]), &two); err != nil {
		t.Fatal(err)
	}
	if one[Attr] != "id-1" || one["k"] != "v" {
		t.Errorf("first line %v", one)
	}
	if _, ok := two[Attr]; ok {
		t.Errorf("second line has an id: %v", two)
	}
}

func FuzzAccept(f *testing.F) {
	for _, s := range []string{"", "abc", strings.Repeat("z", 70), "a b", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := Accept(s)
		if !Valid(got) {
			t.Fatalf("Accept(%q) = %q", s, got)
		}
		if Valid(s) && got != s {
			t.Fatalf("valid %q replaced", s)
		}
	})
}
