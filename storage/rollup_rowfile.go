// Rollup rows in files: encoding a series' rows into columns and reading them back.

package storage

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"unsafe"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/storage/colfile"
)

// encodeRows turns rows into the columns of one series.
func encodeRows(sr *seriesRows, l model.Level) []model.Column {
	var cols []model.Column
	for f, fr := range sr.fields {
		if len(fr.rows) == 0 {
			continue
		}
		c := model.Column{Name: rollupColumn(f, fr.kind), Kind: model.KindString}
		var buf []byte
		for i := range fr.rows {
			buf = appendRow(buf[:0], l, fr.kind, fr.rows[i].start, &fr.rows[i].s, fr.rows[i].dec)
			c.Append(fr.rows[i].start, model.String(string(buf)))
		}
		cols = append(cols, c)
	}
	return cols
}

// readRows reads the rows of one field of series si of a rollup file with
// bucket starts in [lo, hi]; nil when the series lacks the field.
func readRows(ctx context.Context, r *colfile.Reader, l model.Level, si int, field string, lo, hi int64) (*fieldRows, error) {
	ci, kind, ok := rollupColumnOf(r, si, field)
	if !ok {
		return nil, nil
	}
	return readColumnRows(ctx, r, l, si, ci, kind, lo, hi)
}

// rollupColumnOf finds the column of field in series si of a rollup file.
func rollupColumnOf(r *colfile.Reader, si int, field string) (int, model.Kind, bool) {
	info := r.SeriesAt(si)
	prefix := field + colSep
	i := sort.Search(len(info.Columns), func(i int) bool { return info.Columns[i].Name >= prefix })
	for ; i < len(info.Columns) && strings.HasPrefix(info.Columns[i].Name, prefix); i++ {
		f, kind, ok := parseRollupColumn(info.Columns[i].Name)
		if ok && f == field {
			return i, kind, true
		}
	}
	return 0, 0, false
}

func readColumnRows(ctx context.Context, r *colfile.Reader, l model.Level, si, ci int, kind model.Kind, lo, hi int64) (*fieldRows, error) {
	rows, err := appendColumnRows(ctx, nil, r, l, si, ci, kind, lo, hi, true)
	if err != nil {
		return nil, err
	}
	return &fieldRows{kind: kind, rows: rows}, nil
}

// appendColumnRows appends to dst the rows of column ci (of kind) of
// series si with bucket starts in [lo, hi], with their quantile sketches
// when sketches is set.
func appendColumnRows(ctx context.Context, dst []rollRow, r *colfile.Reader, l model.Level, si, ci int, kind model.Kind, lo, hi int64, sketches bool) ([]rollRow, error) {
	info := r.SeriesAt(si)
	c, err := r.ReadRangeContext(ctx, si, ci, lo, hi)
	if err != nil {
		return dst, err
	}
	if c.Kind != model.KindString && c.Len() > 0 {
		return dst, fmt.Errorf("rollup series %q column %q is %s, want string", info.Key, info.Columns[ci].Name, c.Kind)
	}
	dst = slices.Grow(dst, c.Len())
	for i, row := range c.Strings {
		// decodeRow only reads the row, and what it keeps of it (a
		// sketch's bins) is read only too: the string's bytes serve.
		b := unsafe.Slice(unsafe.StringData(row), len(row))
		var s model.Summary
		var dec decSum
		if sketches {
			s, dec, err = decodeRow(b, l, kind, c.Times[i])
		} else {
			s, dec, err = decodeRowWithoutSketch(b, l, kind, c.Times[i])
		}
		if err != nil {
			return dst, fmt.Errorf("rollup series %q column %q row %d: %w", info.Key, info.Columns[ci].Name, i, err)
		}
		dst = append(dst, rollRow{start: c.Times[i], s: s, dec: dec})
	}
	return dst, nil
}

// readAllRows reads every row of a rollup file of level l.
func readAllRows(r *colfile.Reader, l model.Level) (map[string]*seriesRows, error) {
	out := make(map[string]*seriesRows)
	// Series by series: each entry is decoded once, for readColumnRows'
	// reads too (the Reader keeps the last one decoded).
	for si := range r.NumSeries() {
		info := r.SeriesAt(si)
		sr := &seriesRows{tags: info.Tags, fields: make(map[string]*fieldRows)}
		for ci, c := range info.Columns {
			f, kind, ok := parseRollupColumn(c.Name)
			if !ok {
				return nil, fmt.Errorf("rollup series %q: bad column name %q", info.Key, c.Name)
			}
			fr, err := readColumnRows(context.Background(), r, l, si, ci, kind, math.MinInt64, math.MaxInt64)
			if err != nil {
				return nil, err
			}
			sr.fields[f] = fr
		}
		out[info.Key] = sr
	}
	return out, nil
}
