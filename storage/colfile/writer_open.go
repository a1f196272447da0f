package colfile

// WriteOpen: a Reader over the file just written, from what the writer
// knows, without reading the index back.

import (
	"fmt"
	"strings"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/storage/vfs"
)

// WriteOpen writes a colfile as WriteWith does and returns a Reader over
// it, the one OpenWith(path, opts.FS) would return, without reading back
// and parsing the index it has just written: the writer keeps the index it
// built, each series' key and where its entry and blocks start. A flush or
// a compaction that serves the new file at once spends a second pass over
// its whole index otherwise.
//
// Errors are those of WriteWith and, once the file is in place, of opening
// it; the file then stays at path (as after WriteWith and a failed
// OpenWith).
func WriteOpen(path, collection string, group int, seq uint64, series []SeriesData, opts *WriteOptions) (*Reader, error) {
	var keep written
	meta, err := writeFile(path, collection, group, seq, series, opts, &keep)
	if err != nil {
		return nil, err
	}
	var fs vfs.FS = vfs.Default
	if opts != nil && opts.FS != nil {
		fs = opts.FS
	}
	f, err := fs.Open(path)
	if err != nil {
		return nil, fmt.Errorf("colfile: open: %w", err)
	}
	return &Reader{
		path:    path,
		version: Version,
		ra:      f,
		closer:  f,
		dataEnd: keep.dataEnd,
		meta:    meta,
		index:   keep.index,
		entries: keep.entries,
	}, nil
}

// tagOrder orders tags by key, as the index stores them.
func tagOrder(a, b model.Tag) int { return strings.Compare(a.Key, b.Key) }

// keyIs reports whether key is model.SeriesKey(collection, tags) without
// building that key.
func keyIs(key, collection string, tags model.Tags) bool {
	rest, ok := cutEscaped(key, collection)
	for _, t := range tags {
		if !ok || rest == "" || rest[0] != ',' {
			return false
		}
		if rest, ok = cutEscaped(rest[1:], t.Key); !ok || rest == "" || rest[0] != '=' {
			return false
		}
		rest, ok = cutEscaped(rest[1:], t.Value)
	}
	return ok && rest == ""
}

// cutEscaped returns what follows s, escaped as model.SeriesKey escapes
// it, at the start of key, and whether key starts with it.
func cutEscaped(key, s string) (string, bool) {
	j := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == ',' || c == '=' || c == '\\' {
			if j >= len(key) || key[j] != '\\' {
				return "", false
			}
			j++
		}
		if j >= len(key) || key[j] != c {
			return "", false
		}
		j++
	}
	return key[j:], true
}
