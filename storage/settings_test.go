package storage

import (
	"testing"
	"time"
)

func TestParseRetention(t *testing.T) {
	day := 24 * time.Hour
	for _, tc := range []struct {
		in   string
		want time.Duration
		err  bool
	}{
		{"forever", 0, false},
		{"0", 0, false},
		{"7d", 7 * day, false},
		{"52w", 52 * 7 * day, false},
		{"5y", 5 * 365 * day, false},
		{"36h30m", 36*time.Hour + 30*time.Minute, false},
		{"292y", 292 * 365 * day, false},
		{"300y", 0, true},
		{"4294967295y", 0, true},
		{"100000w", 0, true},
		{"0d", 0, true},
		{"-3d", 0, true},
		{"-1h", 0, true},
		{"7", 0, true},
		{"d", 0, true},
		{"soon", 0, true},
	} {
		got, err := ParseRetention(tc.in)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("ParseRetention(%q) = %v, %v; want %v, error %v", tc.in, got, err, tc.want, tc.err)
		}
	}
}
