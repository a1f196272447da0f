package wal

import "fmt"

// DiskUsage returns the number of segment files in the WAL's directory and
// their total size in bytes, as the file system reports them now.
func (w *WAL) DiskUsage() (segments int, bytes int64, err error) {
	entries, err := w.fs.ReadDir(w.dir)
	if err != nil {
		return 0, 0, fmt.Errorf("wal disk usage: %w", err)
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		if _, ok := parseSegmentName(e.Name()); !ok {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue // removed meanwhile
		}
		segments++
		bytes += info.Size()
	}
	return segments, bytes, nil
}
