package main

import (
	"flag"
	"testing"
	"time"
)

// TestYearDefaults: --dataset year is one host, 365 days at 30 s, except
// for the flags given.
func TestYearDefaults(t *testing.T) {
	for _, tc := range []struct {
		args     []string
		hosts    int
		duration time.Duration
		interval time.Duration
	}{
		{nil, 1, 365 * 24 * time.Hour, 30 * time.Second},
		{[]string{"--hosts", "3"}, 3, 365 * 24 * time.Hour, 30 * time.Second},
		{[]string{"--duration", "48h", "--interval", "10s"}, 1, 48 * time.Hour, 10 * time.Second},
		{[]string{"--hosts", "100"}, 100, 365 * 24 * time.Hour, 30 * time.Second},
	} {
		fs := flag.NewFlagSet("bench", flag.ContinueOnError)
		hosts := fs.Int("hosts", 100, "")
		duration := fs.Duration("duration", 24*time.Hour, "")
		interval := fs.Duration("interval", 10*time.Second, "")
		if err := fs.Parse(tc.args); err != nil {
			t.Fatal(err)
		}
		yearDefaults(fs, hosts, duration, interval)
		if *hosts != tc.hosts || *duration != tc.duration || *interval != tc.interval {
			t.Errorf("%q: got %d hosts, %v, %v; want %d, %v, %v", tc.args, *hosts, *duration, *interval, tc.hosts, tc.duration, tc.interval)
		}
	}
}
