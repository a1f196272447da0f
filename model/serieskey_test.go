package model

import (
	"strings"
	"testing"
)

// seriesKeyRef is SeriesKey written byte by byte, as the reference.
func seriesKeyRef(collection string, tags Tags) string {
	var b strings.Builder
	esc := func(s string) {
		for i := 0; i < len(s); i++ {
			if c := s[i]; c == ',' || c == '=' || c == '\\' {
				b.WriteByte('\\')
			}
			b.WriteByte(s[i])
		}
	}
	esc(collection)
	for _, t := range tags {
		b.WriteByte(',')
		esc(t.Key)
		b.WriteByte('=')
		esc(t.Value)
	}
	return b.String()
}

func TestAppendSeriesKey(t *testing.T) {
	for _, tt := range []struct {
		coll string
		tags Tags
	}{
		{"cpu", nil},
		{"", nil},
		{"cpu", Tags{{"host", "a"}}},
		{"c,p=u\\", Tags{{"a,b", "x=y"}, {"k\\", "\\v\\"}}},
		{"cpu", Tags{{"hostname", "host_1"}, {"region", "eu-west-1"}, {"e", ",,=="}}},
		{"ü", Tags{{"ключ", "значение"}}},
	} {
		want := seriesKeyRef(tt.coll, tt.tags)
		if got := SeriesKey(tt.coll, tt.tags); got != want {
			t.Errorf("SeriesKey(%q, %v) = %q, want %q", tt.coll, tt.tags, got, want)
		}
		if got := string(AppendSeriesKey([]byte("x"), tt.coll, tt.tags)); got != "x"+want {
			t.Errorf("AppendSeriesKey(%q, %v) = %q, want %q", tt.coll, tt.tags, got, "x"+want)
		}
	}
}

func FuzzSeriesKey(f *testing.F) {
	f.Add("cpu", "host", "a", "b", "c")
	f.Add("c,=\\", "=", ",", "\\\\", "")
	f.Fuzz(func(t *testing.T, coll, k1, v1, k2, v2 string) {
		tags := Tags{{k1, v1}, {k2, v2}}
		want := seriesKeyRef(coll, tags)
		if got := SeriesKey(coll, tags); got != want {
			t.Fatalf("SeriesKey = %q, want %q", got, want)
		}
		if got := string(AppendSeriesKey(nil, coll, tags)); got != want {
			t.Fatalf("AppendSeriesKey = %q, want %q", got, want)
		}
	})
}
