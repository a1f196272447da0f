package model

import "testing"

// TestGroupOfIsStable pins the device hash: data directories file series
// under it and routers send points by it, so a change would strand data.
func TestGroupOfIsStable(t *testing.T) {
	for _, tc := range []struct {
		device string
		n      int
		want   int
	}{
		{"d1", 16, 6}, {"d1", 1024, 294},
		{"host_0", 16, 0}, {"host_0", 1024, 992},
		{"", 16, 5}, {"", 1024, 805},
		{"dev\x00x", 16, 4}, {"dev\x00x", 1024, 36},
		{"anything", 1, 0},
	} {
		if got := GroupOf(tc.device, tc.n); got != tc.want {
			t.Errorf("GroupOf(%q, %d) = %d, want %d", tc.device, tc.n, got, tc.want)
		}
	}
}

func TestDeviceOf(t *testing.T) {
	tags := Tags{{Key: "device_id", Value: "d7"}, {Key: "site", Value: "a"}}
	if got := DeviceOf("k", tags, "device_id"); got != "d7" {
		t.Errorf("with the shard tag: got %q", got)
	}
	if got := DeviceOf("k", tags, "host"); got != "k" {
		t.Errorf("without the shard tag: got %q, want the series key", got)
	}
}
