package query

import (
	"errors"
	"strings"
	"testing"
)

// tzSeeds are statements with offsets and zones for the round trip, the
// fuzz targets and the fast-path and oracle differential tests.
var tzSeeds = []string{
	"SELECT count(v) FROM dev GROUP BY time(1h, 15m)",
	"SELECT count(v) FROM dev GROUP BY time(1h, -15m), host FILL(none) TZ('Europe/Paris') LIMIT 3",
	"SELECT count(v) FROM dev GROUP BY 1d TZ('Europe/Paris')",
	"select count(v) from dev group by time(1d) limit 4 offset 1 tz('Asia/Kolkata');",
	"SELECT count(v) FROM dev GROUP BY time(1y, 3M) FILL(0) TZ('America/New_York') ORDER BY time DESC",
	"SELECT count(v) FROM dev GROUP BY time(1h, +0s)",
	"SELECT count(v) FROM dev TZ('UTC')",
	"SELECT count(v) FROM dev GROUP BY 1d TZ('Mars/Olympus')",
	"SELECT count(v) FROM dev GROUP BY 1d TZ('UTC') TZ('UTC')",
	"SELECT count(v) FROM dev GROUP BY time(1d, 1M)",
	"SELECT count(v) FROM dev GROUP BY time(1h,)",
	"SELECT count(v) FROM dev GROUP BY time(1h, 15)",
	"SELECT count(v) FROM dev GROUP BY 1d TZ(Europe)",
	"SELECT count(v) FROM dev GROUP BY host(1h, 15m)",
}

func TestParseTZ(t *testing.T) {
	for _, tt := range []struct {
		in     string
		offset *Offset
		tz     string
		print  string
	}{
		{"SELECT count(v) FROM dev GROUP BY time(1h, 15m)", &Offset{Sign: 1, Dur: Duration{15, Minute}}, "",
			"SELECT count(v) FROM dev GROUP BY time(1h, 15m)"},
		{"SELECT count(v) FROM dev GROUP BY time(1h, -15m), host FILL(none) TZ('Europe/Paris') LIMIT 3", &Offset{Sign: -1, Dur: Duration{15, Minute}}, "Europe/Paris",
			"SELECT count(v) FROM dev GROUP BY time(1h, -15m), host FILL(none) TZ('Europe/Paris') LIMIT 3"},
		{"select count(v) from dev group by 1d limit 4 tz('Asia/Kolkata')", nil, "Asia/Kolkata",
			"SELECT count(v) FROM dev GROUP BY time(1d) TZ('Asia/Kolkata') LIMIT 4"},
		{"SELECT count(v) FROM dev GROUP BY time(1y, 3M)", &Offset{Sign: 1, Dur: Duration{3, Month}}, "",
			"SELECT count(v) FROM dev GROUP BY time(1y, 3M)"},
		{"SELECT count(v) FROM dev GROUP BY time(1h, +0s)", &Offset{Sign: 1, Dur: Duration{0, Second}}, "",
			"SELECT count(v) FROM dev GROUP BY time(1h, 0s)"},
		{"SELECT count(v) FROM dev TZ('UTC')", nil, "UTC", "SELECT count(v) FROM dev TZ('UTC')"},
	} {
		st, err := Parse(tt.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.in, err)
			continue
		}
		s := st.Select
		if (s.GroupOffset == nil) != (tt.offset == nil) || s.GroupOffset != nil && *s.GroupOffset != *tt.offset {
			t.Errorf("Parse(%q) offset %+v, want %+v", tt.in, s.GroupOffset, tt.offset)
		}
		if s.TZ != tt.tz {
			t.Errorf("Parse(%q) TZ %q, want %q", tt.in, s.TZ, tt.tz)
		}
		if got := st.String(); got != tt.print {
			t.Errorf("Parse(%q).String()\n got: %s\nwant: %s", tt.in, got, tt.print)
		}
		checkRoundTrip(t, tt.in)
	}
}

func TestParseTZErrors(t *testing.T) {
	for _, tt := range []struct{ in, pos, msg string }{
		{"SELECT count(v) FROM dev GROUP BY 1d TZ('Mars/Olympus')", "1:38", `unknown time zone "Mars/Olympus"`},
		{"SELECT count(v) FROM dev GROUP BY 1d TZ('')", "1:38", `unknown time zone ""`},
		{"SELECT count(v) FROM dev TZ('Local')", "1:26", `unknown time zone "Local"`},
		{"SELECT count(v) FROM dev GROUP BY 1d TZ('UTC') TZ('UTC')", "1:48", "more than one TZ clause"},
		{"SELECT count(v) FROM dev GROUP BY time(1d, 1M)", "1:44", "offset 1M in calendar units needs a calendar interval"},
		{"SELECT count(v) FROM dev GROUP BY time(1h,)", "1:43", `unexpected ")"`},
		{"SELECT count(v) FROM dev GROUP BY time(1h, 15)", "1:44", `unexpected "15", expected a duration`},
		{"SELECT count(v) FROM dev GROUP BY 1d TZ(Europe)", "1:41", `unexpected "Europe"`},
		{"SELECT count(v) FROM dev GROUP BY time(1h, 99999999999999999999s)", "1:44", "out of range"},
	} {
		_, err := Parse(tt.in)
		var perr *Error
		if !errors.As(err, &perr) {
			t.Errorf("Parse(%q) error %v, want *Error", tt.in, err)
			continue
		}
		if perr.Pos.String() != tt.pos || !strings.Contains(perr.Message, tt.msg) {
			t.Errorf("Parse(%q) error\n got: %s: %s\nwant: %s: ...%s...", tt.in, perr.Pos, perr.Message, tt.pos, tt.msg)
		}
	}
}

// TestLoadZone checks the zone cache and what it refuses.
func TestLoadZone(t *testing.T) {
	for _, name := range []string{"Europe/Paris", "Asia/Kathmandu", "UTC", "America/New_York"} {
		a, err := LoadZone(name)
		if err != nil {
			t.Fatalf("LoadZone(%q): %v", name, err)
		}
		if b, _ := LoadZone(name); a != b {
			t.Errorf("LoadZone(%q) is not cached", name)
		}
	}
	for _, name := range []string{"", "Local", "local", "../etc/passwd", "Europe/../../x", "Nowhere/City"} {
		if _, err := LoadZone(name); err == nil {
			t.Errorf("LoadZone(%q) succeeded, want an error", name)
		}
	}
}
