package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/storage"
)

// TestSettingsEncoding checks the etcd value of collection settings: the
// admin API's text form, read back to the same settings; bad values are
// refused with an error naming what is wrong.
func TestSettingsEncoding(t *testing.T) {
	var week storage.CollectionSettings
	week.Retention[model.LevelRaw] = 7 * 24 * time.Hour
	week.Retention[model.Level1h] = 365 * 24 * time.Hour
	cold := week
	cold.ColdAfter[model.LevelRaw] = 2 * 24 * time.Hour
	cold.ColdAfter[model.Level1h] = 90 * 24 * time.Hour
	tests := []struct {
		name string
		s    storage.CollectionSettings
		want string
	}{
		{"defaults", storage.CollectionSettings{}, `{"rollups":true,"retention":{"1M":"forever","1d":"forever","1h":"forever","1y":"forever","raw":"forever"}}`},
		{"no rollups", storage.CollectionSettings{NoRollups: true}, `{"rollups":false,"retention":{"1M":"forever","1d":"forever","1h":"forever","1y":"forever","raw":"forever"}}`},
		{"retention", week, `{"rollups":true,"retention":{"1M":"forever","1d":"forever","1h":"365d","1y":"forever","raw":"7d"}}`},
		{"cold_after", cold, `{"rollups":true,"retention":{"1M":"forever","1d":"forever","1h":"365d","1y":"forever","raw":"7d"},"cold_after":{"1M":"off","1d":"off","1h":"90d","1y":"off","raw":"2d"}}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := encodeSettings(tc.s)
			if string(b) != tc.want {
				t.Errorf("encodeSettings = %s, want %s", b, tc.want)
			}
			got, err := decodeSettings(b)
			if err != nil || got != tc.s {
				t.Errorf("decodeSettings(%s) = %+v, %v, want %+v", b, got, err, tc.s)
			}
		})
	}
	for _, bad := range []struct{ value, err string }{
		{`{"rollups":"yes"}`, "rollups"},
		{`{"retention":{"raw":"soon"}}`, "raw"},
		{`{"retention":{"2h":"7d"}}`, "2h"},
		{`{"retention":{"1y":"7d"}}`, "1y"},
		{`{"rolups":true}`, "rolups"},
		{`{"cold_after":{"raw":"soon"}}`, "raw"},
		{`[]`, "decode"},
		{``, "decode"},
	} {
		if _, err := decodeSettings([]byte(bad.value)); err == nil || !strings.Contains(err.Error(), bad.err) {
			t.Errorf("decodeSettings(%s) error = %v, want one naming %q", bad.value, err, bad.err)
		}
	}
}

// FuzzDecodeSettings: any etcd value decodes to valid settings or an
// error, and valid settings encode to a value that decodes to them.
func FuzzDecodeSettings(f *testing.F) {
	f.Add([]byte(`{"rollups":true,"retention":{"raw":"7d","1h":"365d"}}`))
	f.Add([]byte(`{"rollups":false}`))
	f.Add([]byte(`{"retention":{"1M":"0","1d":"5y"}}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := decodeSettings(b)
		if err != nil {
			return
		}
		if err := s.Validate(); err != nil {
			t.Fatalf("decodeSettings(%q) = invalid settings %+v: %v", b, s, err)
		}
		again, err := decodeSettings(encodeSettings(s))
		if err != nil || again != s {
			t.Fatalf("round trip of %q: %+v, %v, want %+v", b, again, err, s)
		}
		if !bytes.Equal(encodeSettings(again), encodeSettings(s)) {
			t.Fatalf("encoding of %+v is not stable", s)
		}
	})
}
