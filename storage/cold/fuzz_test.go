package cold

import (
	"bytes"
	"fmt"
	"testing"
)

// FuzzParseContentRange: any Content-Range header a server sends either
// parses to a consistent range (first <= last < total, and printing it
// back gives the same header) or is an error; it never panics.
func FuzzParseContentRange(f *testing.F) {
	for _, s := range []string{
		"bytes 0-99/100", "bytes 5-5/6", "bytes 0-0/1", "bytes 100-199/1000",
		"bytes */100", "bytes 0-99/*", "bytes 9-0/100", "bytes 0-100/100", "bytes -1-5/10",
		"bytes 0-9223372036854775806/9223372036854775807", "bytes 0-99999999999999999999/1",
		"", "bytes ", "items 0-1/2", "bytes 0-1/2 ", "bytes +0-+1/+2", "bytes 00-1/2",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		first, last, total, err := parseContentRange(s)
		if err != nil {
			return
		}
		if first < 0 || last < first || total <= last {
			t.Fatalf("%q parsed to %d-%d/%d", s, first, last, total)
		}
		if back := fmt.Sprintf("bytes %d-%d/%d", first, last, total); back != s {
			t.Fatalf("%q parsed to %q", s, back)
		}
	})
}

// FuzzLocalMD5ETag: any ETag a server sends is either recognised as an
// MD5 form (single or multipart) and compared, or refused as unverifiable;
// it never panics, and only the right ETag of the bytes matches.
func FuzzLocalMD5ETag(f *testing.F) {
	data := []byte("some object bytes")
	sm, err := localSums(bytes.NewReader(data), int64(len(data)), MinPartSize)
	if err != nil {
		f.Fatal(err)
	}
	right, _, _ := localMD5ETag(bytes.NewReader(data), sm, "00000000000000000000000000000000")
	for _, s := range []string{right, right + "-1", "", "-", "abc", "zz" + right[2:], right + "-x", right[:31], "W/" + right} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, etag string) {
		want, ok, err := localMD5ETag(bytes.NewReader(data), sm, etag)
		if err != nil {
			t.Fatalf("%q: %v", etag, err)
		}
		if !ok {
			return
		}
		if want == etag && etag != right && etag != right+"-1" {
			t.Fatalf("%q matches, but the MD5 is %s", etag, right)
		}
	})
}

// TestParseContentRange: the forms S3 sends parse; anything else is an
// error.
func TestParseContentRange(t *testing.T) {
	cases := []struct {
		in                 string
		first, last, total int64
		ok                 bool
	}{
		{"bytes 0-99/100", 0, 99, 100, true},
		{"bytes 5-5/6", 5, 5, 6, true},
		{"bytes 1048576-2097151/3000000", 1048576, 2097151, 3000000, true},
		{"bytes 0-99/99", 0, 0, 0, false},
		{"bytes 9-0/100", 0, 0, 0, false},
		{"bytes */100", 0, 0, 0, false},
		{"bytes 0-99/*", 0, 0, 0, false},
		{"bytes +0-1/2", 0, 0, 0, false},
		{"bytes 00-1/2", 0, 0, 0, false},
		{"bytes 0-99999999999999999999/1", 0, 0, 0, false},
		{"0-1/2", 0, 0, 0, false},
		{"", 0, 0, 0, false},
	}
	for _, c := range cases {
		first, last, total, err := parseContentRange(c.in)
		if (err == nil) != c.ok || c.ok && (first != c.first || last != c.last || total != c.total) {
			t.Errorf("parseContentRange(%q) = %d, %d, %d, %v", c.in, first, last, total, err)
		}
	}
}
