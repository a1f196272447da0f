package storage

// Rollups.
//
// For every collection with rollups on, each group keeps four rollup
// levels (1h, 1d, 1M, 1y; UTC calendar buckets). A level holds, per series,
// field and bucket, the model.Summary of the bucket's values after
// last-write-wins and deletes (count, sums, min, max, first and last with
// their times, and M2 for stddev). Levels are colstore files, one per
// partition: a 1h file holds one UTC day, a 1d file one month, a 1M file
// one year, and the single 1y file everything. A file is rewritten whole
// when any of its buckets changes.
//
// Dirty buckets. A write marks the buckets holding its time at every level
// dirty, a delete marks its time range (a span) dirty in the groups of its
// series. Each mark carries the rollup generation current when it was made;
// a flush advances the generation when it swaps memory out, and once the
// data is in files it recomputes the buckets marked up to that generation
// (rollupLocked) and clears those marks, all before the WAL is truncated.
// A bucket is clean when no mark and no span covers it; a clean bucket's
// rows are exactly its data, and a clean bucket without a row holds no
// data. Reads use clean buckets only and answer dirty ones from finer
// levels and finally raw data, so answers stay exact while the pipeline
// catches up. After a crash the WAL replays the writes and deletes whose
// rollups may be missing, which marks their buckets dirty again.

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/soltixdb/soltix/internal/timex"
	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/storage/colfile"
)

// dirtySet is a sorted set of bucket starts, each with the generation of
// its latest mark.
type dirtySet struct {
	keys []int64
	gens []uint64
}

func (d *dirtySet) mark(b int64, gen uint64) {
	i, ok := slices.BinarySearch(d.keys, b)
	if ok {
		d.gens[i] = max(d.gens[i], gen)
		return
	}
	d.keys = slices.Insert(d.keys, i, b)
	d.gens = slices.Insert(d.gens, i, gen)
}

// count returns how many keys lie in [lo, hi].
func (d *dirtySet) count(lo, hi int64) int {
	i, _ := slices.BinarySearch(d.keys, lo)
	j := i
	for j < len(d.keys) && d.keys[j] <= hi {
		j++
	}
	return j - i
}

// upTo returns the keys marked at generation cutoff or earlier.
func (d *dirtySet) upTo(cutoff uint64) []int64 {
	var out []int64
	for i, k := range d.keys {
		if d.gens[i] <= cutoff {
			out = append(out, k)
		}
	}
	return out
}

// clear removes the keys marked at generation cutoff or earlier.
func (d *dirtySet) clear(cutoff uint64) {
	k := 0
	for i := range d.keys {
		if d.gens[i] > cutoff {
			d.keys[k], d.gens[k] = d.keys[i], d.gens[i]
			k++
		}
	}
	d.keys, d.gens = d.keys[:k], d.gens[:k]
}

// dirtySpan marks every bucket overlapping [lo, hi] dirty. A span made
// by a delete lists the deleted series (keys) and carries the delete's
// sequence number: where a bucket can no longer be recomputed from finer
// data, those series' rows of the bucket are dropped, unless they are in
// a rollup file written after the delete (a higher sequence number: the
// delete was applied to it already, and a delete replayed from the WAL
// must not drop rows of points written after it). A span without keys
// (rollups turned on) only rebuilds.
type dirtySpan struct {
	lo, hi int64
	gen    uint64
	keys   map[string]struct{}
	seq    uint64
}

// stale reports whether the span still has to be applied to rows read
// from a rollup file with sequence number fileSeq.
func (sp *dirtySpan) stale(fileSeq uint64) bool {
	return sp.keys == nil || fileSeq < sp.seq
}

// groupRollups is the rollup state of one collection's group.
type groupRollups struct {
	dirty [len(levelNamesForDirs)]dirtySet // by level; index 0 unused
	spans []dirtySpan
	files [len(levelNamesForDirs)][]*rollFile // by level, sorted by partition
}

// levelNamesForDirs names the rollup directories by level ("rollup_1h").
var levelNamesForDirs = [...]string{"", "1h", "1d", "1M", "1y"}

// anyDirty reports whether any bucket of level l overlapping [lo, hi] is
// dirty, given a level's marks and the spans.
func anyDirty(d *dirtySet, spans []dirtySpan, l model.Level, lo, hi int64) bool {
	if d.count(l.Floor(lo), hi) > 0 {
		return true
	}
	for _, sp := range spans {
		if sp.hi >= lo && sp.lo <= hi {
			return true
		}
	}
	return false
}

// rollFile is an open rollup file.
type rollFile struct {
	*dataFile
	level model.Level
	part  int64 // partition start; math.MinInt64 for the 1y level's one file
}

// partLevel is the level whose buckets are the partitions of level l's
// files (LevelRaw: one partition).
func partLevel(l model.Level) model.Level {
	if l == model.Level1y {
		return model.LevelRaw
	}
	return l + 1
}

// partOf returns the partition start of level l holding bucket b.
func partOf(l model.Level, b int64) int64 {
	if pl := partLevel(l); pl != model.LevelRaw {
		return pl.Floor(b)
	}
	return math.MinInt64
}

// partEnd returns the last instant of the partition of level l starting at
// part.
func partEnd(l model.Level, part int64) int64 {
	if pl := partLevel(l); pl != model.LevelRaw {
		return pl.End(part)
	}
	return math.MaxInt64
}

// bucketEnd returns the last instant of level l's bucket starting at b.
func bucketEnd(l model.Level, b int64) int64 { return l.End(b) }

const allPartitions = "all"

// partName names the file of level l's partition starting at part: the
// partition's true start (which, for the partition holding math.MinInt64,
// lies before the int64 range), or "all" for the 1y level's one file.
func partName(l model.Level, part int64) string {
	if pl := partLevel(l); pl != model.LevelRaw {
		return pl.FloorTime(part).Format(partitionLayout)
	}
	return allPartitions
}

// parseRollupPath recognises <coll>/group_NNNN/rollup_<level>/<part>-<seq>.col.
func parseRollupPath(path string) (model.Level, int64, bool) {
	dir := filepath.Base(filepath.Dir(path))
	name, ok := strings.CutPrefix(dir, "rollup_")
	if !ok {
		return 0, 0, false
	}
	var l model.Level
	for i, n := range levelNamesForDirs {
		if i > 0 && n == name {
			l = model.Level(i)
		}
	}
	if l == model.LevelRaw {
		return 0, 0, false
	}
	p := partitionName(path)
	if p == allPartitions {
		return l, math.MinInt64, true
	}
	t, err := time.Parse(partitionLayout, p)
	if err != nil {
		return 0, 0, false
	}
	// The partition holding math.MinInt64 is named for its true start,
	// before the int64 range: its key is math.MinInt64. A name after the
	// range is no partition of ours.
	part, ok := timex.FromTime(t)
	if !ok && part == math.MaxInt64 {
		return 0, 0, false
	}
	return l, part, true
}

// A rollup file has one column per field of each series: its name is the
// field's name, colSep and the field's kind as a decimal digit ("v\x001");
// its kind is string; its times are bucket starts and each value is the
// bucket's summary encoded by appendRow. One column per field keeps the
// index small when a partition holds a single bucket (docs/format.md).
const colSep = "\x00"

// The low four bits of an encoded rollup row's first byte are its version
// (rowV1, or rowV2 and rowV3 with the time unit in the high four bits).
const (
	rowV1 = 1
	rowV2 = 2
	rowV3 = 3
)

// rollupColumn returns the column name of a field of kind k.
func rollupColumn(field string, k model.Kind) string {
	return field + colSep + strconv.Itoa(int(k))
}

// parseRollupColumn splits a rollup column name at its last colSep: a
// field name may hold colSep too, the kind never does.
func parseRollupColumn(name string) (string, model.Kind, bool) {
	i := strings.LastIndex(name, colSep)
	if i < 0 {
		return "", 0, false
	}
	f, k := name[:i], name[i+len(colSep):]
	if len(k) != 1 || k[0] < '1' || k[0] > '5' {
		return "", 0, false
	}
	return f, model.Kind(k[0] - '0'), true
}

// rollRow is one bucket's summary.
type rollRow struct {
	start int64
	s     model.Summary
	dec   decSum // float fields: the exact decimal sum, when there is one
	seq   uint64 // the sequence number of the file read (rollSnap.rows)
}

// fieldRows are the rows of one field of one series, by bucket start.
type fieldRows struct {
	kind model.Kind
	rows []rollRow
}

// seriesRows are the rows of one series in one partition.
type seriesRows struct {
	tags   model.Tags
	fields map[string]*fieldRows
}

// pow10 holds the powers of ten a decimal float may be scaled by.
var pow10 = [...]float64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9}

// rawFloat marks a float stored as its 8 bytes; relFloat (row version 2)
// a float stored as the difference of its mantissa from the first value's,
// at the first value's exponent.
const (
	rawFloat = 0xff
	relFloat = 0xfe
)

// floatDecimal returns e ≤ 9 and m with float64(m) / 10^e the value bit
// for bit (sensor readings written with a few decimals), if there are
// such, the smallest e.
func floatDecimal(f float64) (int, int64, bool) {
	for e, p := range pow10 {
		m := math.Round(f * p)
		if math.Abs(m) >= 1<<53 {
			break
		}
		// Compare what decoding gives: this also keeps -0 out.
		if math.Float64bits(float64(int64(m))/p) == math.Float64bits(f) {
			return e, int64(m), true
		}
	}
	return 0, 0, false
}

// firstDecimal is floatDecimal of a row's first value, worked out once per
// row for the values and the sum written relative to it.
type firstDecimal struct {
	e  int
	m  int64
	ok bool
}

func decimalOfFirst(first model.Value) firstDecimal {
	if first.Kind != model.KindFloat {
		return firstDecimal{}
	}
	e, m, ok := floatDecimal(first.Float())
	return firstDecimal{e, m, ok}
}

// sumBase returns count times the first value's mantissa at exponent e,
// which must not be below the first value's, when it fits in 62 bits: the
// base a decimal sum is written relative to.
func (fd firstDecimal) sumBase(first float64, count, e int) (int64, bool) {
	if !fd.ok || fd.e > e {
		return 0, false
	}
	m0, ok := mantissaAt(first, e)
	if !ok {
		return 0, false
	}
	if hi, lo := bits.Mul64(uint64(count), uint64(max(m0, -m0))); hi != 0 || lo >= 1<<62 {
		return 0, false
	}
	return int64(count) * m0, true
}

// appendFloat appends a float: a byte e ≤ 9 and the varint m when
// floatDecimal finds them, else rawFloat and the 8 bytes.
func appendFloat(dst []byte, f float64) []byte {
	if e, m, ok := floatDecimal(f); ok {
		dst = append(dst, byte(e))
		return binary.AppendVarint(dst, m)
	}
	dst = append(dst, rawFloat)
	return binary.LittleEndian.AppendUint64(dst, math.Float64bits(f))
}

// decSum is the exact sum of a bucket's float values m_i / 10^e, each a
// decimal with e ≤ 9: ok, e and the sum m of the mantissas, which stays
// below 2^53 in magnitude so float64(m) / 10^e is the correctly rounded
// sum. Rows store it in place of the float sum, in fewer bytes. With sqOK,
// sq is the exact sum of the squared mantissas (a 128-bit integer, hi and
// lo), from which the row stores the values' spread exactly too.
type decSum struct {
	ok   bool
	e    int
	m    int64
	sqOK bool
	sq   [2]uint64
}

// mantissaAt returns m with float64(m) / 10^e bit for bit v, if there is
// one below 2^53 in magnitude. A value that has one at some e has one at
// every larger e ≤ 9 (both are v's correctly rounded quotient).
func mantissaAt(v float64, e int) (int64, bool) {
	p := pow10[e]
	m := math.Round(v * p)
	if !(math.Abs(m) < 1<<53) || math.Float64bits(float64(int64(m))/p) != math.Float64bits(v) {
		return 0, false
	}
	return int64(m), true
}

// addSq adds a and b, two 128-bit sums of squares, reporting false when
// the result reaches 2^126 (kept below so that scaling and merging
// cannot wrap).
func addSq(a, b [2]uint64) ([2]uint64, bool) {
	lo, c := bits.Add64(a[1], b[1], 0)
	hi, c := bits.Add64(a[0], b[0], c)
	return [2]uint64{hi, lo}, c == 0 && hi < 1<<62
}

// decimalSum returns the exact decimal sum of vs (non-empty), at the
// smallest exponent that holds every value.
func decimalSum(vs []float64) decSum {
	e, _, ok := floatDecimal(vs[0])
	if !ok {
		return decSum{}
	}
	for {
		d := decSum{ok: true, e: e, sqOK: true}
		grown := false
		for _, v := range vs {
			m, ok := mantissaAt(v, e)
			if !ok {
				e2, _, ok := floatDecimal(v)
				if !ok || e2 <= e {
					return decSum{}
				}
				e, grown = e2, true
				break
			}
			if d.m += m; d.m >= 1<<53 || d.m <= -(1<<53) {
				return decSum{}
			}
			if d.sqOK {
				a := uint64(max(m, -m))
				hi, lo := bits.Mul64(a, a)
				d.sq, d.sqOK = addSq(d.sq, [2]uint64{hi, lo})
			}
		}
		if !grown {
			if !d.sqOK {
				d.sq = [2]uint64{}
			}
			return d
		}
	}
}

// plus returns the decimal sum of two buckets, at the larger exponent,
// or one that is not ok when either is not or the sum leaves the range.
func (d decSum) plus(o decSum) decSum {
	if !d.ok || !o.ok {
		return decSum{}
	}
	if d.e < o.e {
		d, o = o, d
	}
	m, sq, sqOK := o.m, o.sq, o.sqOK && d.sqOK
	for range d.e - o.e {
		if m >= 1<<53 || m <= -(1<<53) {
			return decSum{}
		}
		m *= 10
		if sqOK {
			hi1, lo := bits.Mul64(sq[1], 100)
			hi2, hi := bits.Mul64(sq[0], 100)
			hi, c := bits.Add64(hi, hi1, 0)
			sq, sqOK = [2]uint64{hi, lo}, hi2 == 0 && c == 0 && hi < 1<<62
		}
	}
	if m += d.m; m >= 1<<53 || m <= -(1<<53) {
		return decSum{}
	}
	r := decSum{ok: true, e: d.e, m: m}
	if sqOK {
		r.sq, r.sqOK = addSq(sq, d.sq)
	}
	if !r.sqOK {
		r.sq = [2]uint64{}
	}
	return r
}

// exact sets the float sum and M2 of the summary s of d's bucket to what
// d gives exactly (what a row holding d decodes to), when it gives them.
func (d decSum) exact(s *model.Summary) {
	if !d.ok {
		return
	}
	s.SumFloat = d.value()
	if _, m2, ok := d.spread(s.Count); ok {
		s.M2 = m2
	}
}

// value is the sum as a float.
func (d decSum) value() float64 { return float64(d.m) / pow10[d.e] }

// spread returns n·Σm² − (Σm)², which is n² times the variance of the
// mantissas (n is the count), when it fits in 64 bits, and the M2 it gives
// (spreadM2).
func (d decSum) spread(n int) (uint64, float64, bool) {
	if !d.ok || !d.sqOK || n <= 0 {
		return 0, 0, false
	}
	// n·Σm² in three words (Σm² < 2^126, n < 2^63).
	h0, w0 := bits.Mul64(d.sq[1], uint64(n))
	h1, l1 := bits.Mul64(d.sq[0], uint64(n))
	w1, c := bits.Add64(l1, h0, 0)
	w2 := h1 + c
	// Minus (Σm)².
	a := uint64(max(d.m, -d.m))
	mh, ml := bits.Mul64(a, a)
	w0, bw := bits.Sub64(w0, ml, 0)
	w1, bw = bits.Sub64(w1, mh, bw)
	w2, bw = bits.Sub64(w2, 0, bw)
	if bw != 0 || w2 != 0 || w1 != 0 {
		return 0, 0, false
	}
	return w0, spreadM2(w0, n, d.e), true
}

// spreadM2 is the M2 of n values whose spread at exponent e is sp.
func spreadM2(sp uint64, n, e int) float64 {
	return float64(sp) / float64(n) / pow10[e] / pow10[e]
}

// withSpread sets the sum of squares of d from a spread read from a row:
// Σm² = (spread + (Σm)²) / n, which must divide exactly.
func (d decSum) withSpread(sp uint64, n int) (decSum, bool) {
	if !d.ok || n <= 0 {
		return d, false
	}
	a := uint64(max(d.m, -d.m))
	hi, lo := bits.Mul64(a, a)
	lo, c := bits.Add64(lo, sp, 0)
	hi += c // (Σm)² < 2^106: no carry out
	un := uint64(n)
	qh := hi / un
	ql, rem := bits.Div64(hi%un, lo, un)
	if rem != 0 || qh >= 1<<62 {
		return d, false
	}
	d.sq, d.sqOK = [2]uint64{qh, ql}, true
	return d, true
}

// The first byte of a decimal sum in a row is decSumTag (the row's m2
// follows as an f64) or spreadTag (it follows as the uvarint spread), plus
// the step from the first value's exponent to the sum's (0 to 9).
const (
	decSumTag = 0xf0
	spreadTag = 0xe0
)

// appendDecSum appends d, which must be ok, as the difference of its
// mantissa sum from count times the first value's mantissa at d's
// exponent, and tells with the tag whether the spread follows; it reports
// false (appending nothing) when the difference does not fit.
func appendDecSum(dst []byte, d decSum, count int, first float64, fd firstDecimal, spread bool) ([]byte, bool) {
	base, ok := fd.sumBase(first, count, d.e)
	if !ok {
		return dst, false
	}
	tag := byte(decSumTag)
	if spread {
		tag = spreadTag
	}
	dst = append(dst, tag+byte(d.e-fd.e))
	return binary.AppendVarint(dst, d.m-base), true
}

// appendRelative appends v (last, min or max of a row) relative to the
// row's first value: numbers as their difference from first (integers
// wrapping around), floats as relFloat and the difference of mantissas
// when v is a decimal at first's exponent, other values as appendValue.
func appendRelative(dst []byte, v, first model.Value, fd firstDecimal) []byte {
	switch v.Kind {
	case model.KindFloat:
		if fd.ok {
			e, m0 := fd.e, fd.m
			p := pow10[e]
			m := math.Round(v.Float() * p)
			if math.Abs(m) < 1<<53 && math.Float64bits(float64(int64(m))/p) == math.Float64bits(v.Float()) {
				dst = append(dst, relFloat)
				return binary.AppendVarint(dst, int64(m)-m0)
			}
		}
		return appendFloat(dst, v.Float())
	case model.KindInt:
		return binary.AppendVarint(dst, v.Int()-first.Int())
	case model.KindUint:
		return binary.AppendVarint(dst, int64(v.Uint()-first.Uint()))
	}
	return appendValue(dst, v)
}

// appendValue appends a value of kind k.
func appendValue(dst []byte, v model.Value) []byte {
	switch v.Kind {
	case model.KindFloat:
		return appendFloat(dst, v.Float())
	case model.KindInt:
		return binary.AppendVarint(dst, v.Int())
	case model.KindUint:
		return binary.AppendUvarint(dst, v.Uint())
	case model.KindBool:
		if v.Bool() {
			return append(dst, 1)
		}
		return append(dst, 0)
	case model.KindString:
		dst = binary.AppendUvarint(dst, uint64(len(v.Str())))
		return append(dst, v.Str()...)
	}
	return dst
}

// appendRow encodes the summary of the bucket of level l starting at
// start (row version 3):
//
//	byte 3 | u<<4 (u, 0 to 9, is the time unit 10^u ns), count uvarint,
//	(first time − start) / 10^u uvarint, (bucket end − last time) / 10^u
//	uvarint (the end is the next bucket's start, or 2^63 − 1), first
//	value, last value relative to first, and for numeric kinds min and
//	max relative to first, sum (a value of the field's kind, or for floats
//	a decimal sum) and m2 (f64, or the uvarint spread after a decimal sum).
//
// u is the largest power of ten that divides both time offsets, so data
// on whole seconds spends a few bytes on them instead of six or more, and
// data spread over the whole bucket spends little on either.
//
// Values: float as a byte e ≤ 9 and varint m for float64(m)/10^e, or byte
// 0xff and the f64 little-endian bits; varint (int), uvarint (uint), one
// byte 0/1 (bool), uvarint length and bytes (string). Relative values
// (appendRelative): a float as 0xfe and the varint difference of its
// mantissa from first's at first's exponent, when it has one there, else
// as a value; an int or uint as the varint difference from first (wrapping
// modulo 2^64); others as values. Decimal sums: appendDecSum. Version 2
// rows (still read) hold (last time − first time) / 10^u in place of the
// end offset; version 1 rows start with bytes 1 and u and hold every
// value as a value, the sum as a value and m2 as an f64.
func appendRow(dst []byte, l model.Level, k model.Kind, start int64, s *model.Summary, dec decSum) []byte {
	off, tail := uint64(s.MinTime-start), uint64(l.Next(start)-s.MaxTime)
	u, scale := 0, uint64(1)
	for u < 9 && off%(scale*10) == 0 && tail%(scale*10) == 0 {
		u, scale = u+1, scale*10
	}
	dst = append(dst, rowV3|byte(u)<<4)
	dst = binary.AppendUvarint(dst, uint64(s.Count))
	dst = binary.AppendUvarint(dst, off/scale)
	dst = binary.AppendUvarint(dst, tail/scale)
	dst = appendValue(dst, s.First)
	fd := decimalOfFirst(s.First)
	dst = appendRelative(dst, s.Last, s.First, fd)
	if k.Numeric() {
		dst = appendRelative(dst, s.Min, s.First, fd)
		dst = appendRelative(dst, s.Max, s.First, fd)
		sp, haveSpread := uint64(0), false
		switch k {
		case model.KindFloat:
			ok := false
			if dec.ok {
				sp, _, haveSpread = dec.spread(s.Count)
				if dst, ok = appendDecSum(dst, dec, s.Count, s.First.Float(), fd, haveSpread); !ok {
					haveSpread = false
				}
			}
			if !ok {
				dst = appendValue(dst, model.Float(s.SumFloat))
			}
		case model.KindInt:
			dst = appendValue(dst, model.Int(s.SumInt))
		case model.KindUint:
			dst = appendValue(dst, model.Uint(s.SumUint))
		}
		if haveSpread {
			return binary.AppendUvarint(dst, sp)
		}
		dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(s.M2))
	}
	return dst
}

// rowReader decodes an encoded row.
type rowReader struct {
	b   []byte
	err bool
}

func (r *rowReader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = true
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *rowReader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = true
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *rowReader) value(k model.Kind) model.Value {
	switch k {
	case model.KindFloat:
		if len(r.b) < 1 {
			r.err = true
			return model.Null
		}
		e := r.b[0]
		r.b = r.b[1:]
		if e == rawFloat {
			if len(r.b) < 8 {
				r.err = true
				return model.Null
			}
			v := math.Float64frombits(binary.LittleEndian.Uint64(r.b))
			r.b = r.b[8:]
			return model.Float(v)
		}
		m := r.varint()
		if r.err || int(e) >= len(pow10) || m >= 1<<53 || m <= -(1<<53) {
			r.err = true
			return model.Null
		}
		return model.Float(float64(m) / pow10[e])
	case model.KindInt:
		return model.Int(r.varint())
	case model.KindUint:
		return model.Uint(r.uvarint())
	case model.KindBool:
		if len(r.b) < 1 || r.b[0] > 1 {
			r.err = true
			return model.Null
		}
		v := r.b[0] == 1
		r.b = r.b[1:]
		return model.Bool(v)
	case model.KindString:
		n := r.uvarint()
		if n > uint64(len(r.b)) {
			r.err = true
			return model.Null
		}
		v := string(r.b[:n])
		r.b = r.b[n:]
		return model.String(v)
	}
	r.err = true
	return model.Null
}

// relative reads a value of kind k written by appendRelative.
func (r *rowReader) relative(k model.Kind, first model.Value, fd firstDecimal) model.Value {
	switch k {
	case model.KindFloat:
		if len(r.b) < 1 || r.b[0] != relFloat {
			return r.value(k)
		}
		r.b = r.b[1:]
		d := r.varint()
		e, m0 := fd.e, fd.m
		if r.err || !fd.ok {
			r.err = true
			return model.Null
		}
		m := m0 + d
		if m >= 1<<53 || m <= -(1<<53) || (d > 0) != (m > m0) {
			r.err = true
			return model.Null
		}
		return model.Float(float64(m) / pow10[e])
	case model.KindInt:
		return model.Int(first.Int() + r.varint())
	case model.KindUint:
		return model.Uint(first.Uint() + uint64(r.varint()))
	}
	return r.value(k)
}

// decodeRow decodes a row of kind k of the bucket starting at start.
func decodeRow(b []byte, l model.Level, k model.Kind, start int64) (model.Summary, decSum, error) {
	var s model.Summary
	var dec decSum
	var u byte
	var r *rowReader
	switch {
	case len(b) > 0 && (b[0]&15 == rowV2 || b[0]&15 == rowV3):
		u, r = b[0]>>4, &rowReader{b: b[1:]}
	case len(b) > 0 && b[0] == rowV1:
		if len(b) < 2 {
			return s, dec, errors.New("malformed rollup row")
		}
		u, r = b[1], &rowReader{b: b[2:]}
	default:
		return s, dec, errors.New("rollup row of an unknown version")
	}
	if u > 9 {
		return s, dec, errors.New("malformed rollup row")
	}
	scale := uint64(1)
	for range u {
		scale *= 10
	}
	n := r.uvarint()
	fhi, ft := bits.Mul64(r.uvarint(), scale)
	shi, second := bits.Mul64(r.uvarint(), scale)
	if fhi != 0 || shi != 0 || ft > math.MaxInt64 || second > math.MaxInt64 {
		return s, dec, errors.New("malformed rollup row")
	}
	s.Count, s.MinTime = int(n), start+int64(ft)
	if b[0]&15 == rowV3 {
		// second is the distance from the bucket's end.
		next := l.Next(start)
		if second > uint64(next-start) {
			return s, dec, errors.New("malformed rollup row")
		}
		s.MaxTime = next - int64(second)
	} else {
		s.MaxTime = s.MinTime + int64(second)
	}
	s.First = r.value(k)
	fd := decimalOfFirst(s.First)
	rel := func() model.Value { // last, min and max
		if b[0] == rowV1 {
			return r.value(k)
		}
		return r.relative(k, s.First, fd)
	}
	s.Last = rel()
	s.HasM2 = true
	if k.Numeric() {
		s.Min = rel()
		s.Max = rel()
		var sum model.Value
		haveSpread := false
		if k == model.KindFloat && b[0] != rowV1 && len(r.b) > 0 && r.b[0]&15 <= 9 && (r.b[0]&0xf0 == decSumTag || r.b[0]&0xf0 == spreadTag) {
			haveSpread = r.b[0]&0xf0 == spreadTag
			dec = r.decSum(s.Count, s.First.Float(), fd)
			sum = model.Float(dec.value())
		} else {
			sum = r.value(k)
		}
		s.SumFloat, s.SumInt, s.SumUint = sum.Float(), sum.Int(), sum.Uint()
		switch k {
		case model.KindFloat:
			s.SumInt, s.SumUint = 0, 0
		case model.KindInt:
			s.SumFloat, s.SumUint = 0, 0
		case model.KindUint:
			s.SumFloat, s.SumInt = 0, 0
		}
		switch {
		case haveSpread:
			sp := r.uvarint()
			var ok bool
			if dec, ok = dec.withSpread(sp, s.Count); !ok {
				r.err = true
			} else {
				s.M2 = spreadM2(sp, s.Count, dec.e)
			}
		case len(r.b) < 8:
			r.err = true
		default:
			s.M2 = math.Float64frombits(binary.LittleEndian.Uint64(r.b))
			r.b = r.b[8:]
		}
	}
	if r.err || len(r.b) != 0 || n == 0 || n > math.MaxInt32 || s.MaxTime < s.MinTime || s.MinTime < start || s.MaxTime > bucketEnd(l, start) {
		return s, dec, errors.New("malformed rollup row")
	}
	return s, dec, nil
}

// decSum reads a sum written by appendDecSum for a row of count values
// whose first is first.
func (r *rowReader) decSum(count int, first float64, fd firstDecimal) decSum {
	t := r.b[0] & 15
	r.b = r.b[1:]
	d := r.varint()
	e := fd.e + int(t)
	if r.err || !fd.ok || e > 9 {
		r.err = true
		return decSum{}
	}
	base, ok := fd.sumBase(first, count, e)
	if !ok {
		r.err = true
		return decSum{}
	}
	m := base + d
	if (d > 0 && m < base) || (d < 0 && m > base) || m >= 1<<53 || m <= -(1<<53) {
		r.err = true
		return decSum{}
	}
	return decSum{ok: true, e: e, m: m}
}

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
func readRows(r *colfile.Reader, l model.Level, si int, field string, lo, hi int64) (*fieldRows, error) {
	info := r.Series()[si]
	prefix := field + colSep
	i := sort.Search(len(info.Columns), func(i int) bool { return info.Columns[i].Name >= prefix })
	for ; i < len(info.Columns) && strings.HasPrefix(info.Columns[i].Name, prefix); i++ {
		f, kind, ok := parseRollupColumn(info.Columns[i].Name)
		if !ok || f != field {
			continue
		}
		return readColumnRows(r, l, si, i, kind, lo, hi)
	}
	return nil, nil
}

func readColumnRows(r *colfile.Reader, l model.Level, si, ci int, kind model.Kind, lo, hi int64) (*fieldRows, error) {
	info := r.Series()[si]
	c, err := r.ReadRange(si, ci, lo, hi)
	if err != nil {
		return nil, err
	}
	if c.Kind != model.KindString && c.Len() > 0 {
		return nil, fmt.Errorf("rollup series %q column %q is %s, want string", info.Key, info.Columns[ci].Name, c.Kind)
	}
	fr := &fieldRows{kind: kind, rows: make([]rollRow, c.Len())}
	for i := range fr.rows {
		s, dec, err := decodeRow([]byte(c.Strings[i]), l, kind, c.Times[i])
		if err != nil {
			return nil, fmt.Errorf("rollup series %q column %q row %d: %w", info.Key, info.Columns[ci].Name, i, err)
		}
		fr.rows[i] = rollRow{start: c.Times[i], s: s, dec: dec}
	}
	return fr, nil
}

// readAllRows reads every row of a rollup file of level l.
func readAllRows(r *colfile.Reader, l model.Level) (map[string]*seriesRows, error) {
	out := make(map[string]*seriesRows)
	for si, info := range r.Series() {
		sr := &seriesRows{tags: info.Tags, fields: make(map[string]*fieldRows)}
		for ci, c := range info.Columns {
			f, kind, ok := parseRollupColumn(c.Name)
			if !ok {
				return nil, fmt.Errorf("rollup series %q: bad column name %q", info.Key, c.Name)
			}
			fr, err := readColumnRows(r, l, si, ci, kind, math.MinInt64, math.MaxInt64)
			if err != nil {
				return nil, err
			}
			sr.fields[f] = fr
		}
		out[info.Key] = sr
	}
	return out, nil
}

// rollupsOf returns the rollup state of a group, creating it. The caller
// holds mu.
func (c *collection) rollupsOf(group int) *groupRollups {
	g := c.rollups[group]
	if g == nil {
		g = &groupRollups{}
		if c.rollups == nil {
			c.rollups = make(map[int]*groupRollups)
		}
		c.rollups[group] = g
	}
	return g
}

// markWrite marks the buckets holding t dirty in every level. The caller
// holds mu.
func (db *DB) markWrite(c *collection, group int, t int64) {
	if c.settings.NoRollups {
		return
	}
	g := c.rollupsOf(group)
	for _, l := range model.Levels {
		g.dirty[l].mark(l.Floor(t), db.rollGen)
	}
}

// markSpan marks every bucket overlapping [lo, hi] dirty in group; keys
// are the series a delete with sequence number seq removed data of (nil:
// a rebuild). The caller holds mu.
func (db *DB) markSpan(c *collection, group int, lo, hi int64, keys map[string]struct{}, seq uint64) {
	if c.settings.NoRollups {
		return
	}
	g := c.rollupsOf(group)
	g.spans = append(g.spans, dirtySpan{lo: lo, hi: hi, gen: db.rollGen, keys: keys, seq: seq})
}

// Rollups implements planner.SummarySource.
func (db *DB) Rollups(collection string) (bool, int64) {
	db.mu.RLock()
	defer db.mu.RUnlock()
	c := db.colls[collection]
	if c == nil {
		return false, math.MinInt64
	}
	return !c.settings.NoRollups, db.horizon(c, model.LevelRaw)
}

// rollSnap is what a read of one series' rollups uses: the files of its
// group per level overlapping the read (acquired), and the dirty state.
type rollSnap struct {
	key   string
	files [len(levelNamesForDirs)][]*rollFile
	dirty [len(levelNamesForDirs)]dirtySet
	spans []dirtySpan
	from  [len(levelNamesForDirs)]int64 // horizon per level
}

func (rs *rollSnap) isDirty(l model.Level, lo, hi int64) bool {
	return anyDirty(&rs.dirty[l], rs.spans, l, lo, hi)
}

// rowDirty reports whether row r of level l (ending at end) may disagree
// with its data: a mark or a rebuild span covers it and finer data holds
// the bucket (else the rollup pass keeps the row: it is all there is), or
// a delete's span covers it that its file predates.
func (rs *rollSnap) rowDirty(l model.Level, r *rollRow, end int64) bool {
	src := rs.sourceable(l, r.start)
	if src && rs.dirty[l].count(l.Floor(r.start), end) > 0 {
		return true
	}
	for i := range rs.spans {
		sp := &rs.spans[i]
		if sp.hi < r.start || sp.lo > end {
			continue
		}
		if sp.keys == nil && src || sp.keys != nil && sp.stale(r.seq) {
			return true
		}
	}
	return false
}

// sourceable reports whether finer data (a finer level, or raw data)
// still holds all of bucket b of level l, as rollupWork.source decides.
func (rs *rollSnap) sourceable(l model.Level, b int64) bool {
	for f := l; f > model.LevelRaw; f-- {
		if b >= rs.from[f-1] {
			return true
		}
	}
	return false
}

func (rs *rollSnap) release() {
	for _, fs := range rs.files {
		for _, f := range fs {
			f.release()
		}
	}
}

// takeRollSnap snapshots the rollups of one series for levels up to top
// over [lo, hi]; ok is false when the collection has rollups off.
func (db *DB) takeRollSnap(collection string, tags model.Tags, top model.Level, lo, hi int64) (*rollSnap, bool) {
	db.mu.RLock()
	defer db.mu.RUnlock()
	c := db.lookup(collection)
	if c == nil || c.settings.NoRollups {
		return nil, false
	}
	key := model.SeriesKey(collection, tags)
	rs := &rollSnap{key: key}
	for l := model.LevelRaw; l <= top; l++ {
		rs.from[l] = db.horizon(c, l)
		if l == model.LevelRaw {
			rs.from[l] = db.rawComplete(c)
		}
	}
	s := c.series[key]
	if s == nil {
		return rs, true
	}
	g := c.rollups[s.group]
	if g == nil {
		return rs, true
	}
	// A delete's span leaves the rows of the series it did not delete
	// from clean: where finer data has expired they are all there is.
	for _, sp := range g.spans {
		if _, ok := sp.keys[key]; ok || sp.keys == nil {
			rs.spans = append(rs.spans, sp)
		}
	}
	for l := model.Level1h; l <= top; l++ {
		d := &g.dirty[l]
		i, _ := slices.BinarySearch(d.keys, l.Floor(lo))
		j := i
		for j < len(d.keys) && d.keys[j] <= hi {
			j++
		}
		rs.dirty[l] = dirtySet{keys: slices.Clone(d.keys[i:j]), gens: slices.Clone(d.gens[i:j])}
		for _, f := range g.files[l] {
			if partEnd(l, f.part) >= lo && f.part <= hi {
				f.acquire()
				rs.files[l] = append(rs.files[l], f)
			}
		}
	}
	return rs, true
}

// rows returns the rows of field at level l with bucket starts in
// [Floor(lo), hi], sorted.
func (rs *rollSnap) rows(l model.Level, field string, lo, hi int64) ([]rollRow, error) {
	var out []rollRow
	for _, f := range rs.files[l] {
		if partEnd(l, f.part) < lo || f.part > hi {
			continue
		}
		si, ok := f.r.Find(rs.key)
		if !ok {
			continue
		}
		fr, err := readRows(f.r, l, si, field, l.Floor(lo), hi)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", f.path, err)
		}
		if fr != nil {
			for i := range fr.rows {
				fr.rows[i].seq = f.meta.Seq
			}
			out = append(out, fr.rows...)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].start < out[j].start })
	return out, nil
}

// readLevels answers ReadParts at level l and below.
func (db *DB) readLevels(ctx context.Context, rs *rollSnap, collection string, tags model.Tags, field string, lo, hi int64, whole func(lo, hi int64) bool, l model.Level) ([]model.Part, error) {
	if lo > hi {
		return nil, nil
	}
	if l == model.LevelRaw {
		return db.readRawParts(ctx, collection, tags, field, lo, hi, whole)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	rows, err := rs.rows(l, field, lo, hi)
	if err != nil {
		return nil, err
	}
	var parts []model.Part
	cursor := lo
	gapRows := false // the gap before cursor holds rows that cannot be used
	done := false
	gap := func(glo, ghi int64) error {
		if glo > ghi {
			return nil
		}
		// A clean gap without rows holds no data, where the level is
		// kept at all.
		if !gapRows && glo >= rs.from[l] && !rs.isDirty(l, glo, ghi) {
			return nil
		}
		sub, err := db.readLevels(ctx, rs, collection, tags, field, glo, ghi, whole, l.Finer())
		parts = append(parts, sub...)
		return err
	}
	for i := range rows {
		r := &rows[i]
		end := bucketEnd(l, r.start)
		if r.start < lo || end > hi || r.s.Count == 0 || !whole(r.s.MinTime, r.s.MaxTime) || rs.rowDirty(l, r, end) {
			gapRows = true
			continue
		}
		if r.start > cursor { // r.start-1 would wrap for a row at math.MinInt64
			if err := gap(cursor, r.start-1); err != nil {
				return nil, err
			}
		}
		parts = append(parts, model.Part{Summary: &r.s, Level: l})
		gapRows = false
		if end == math.MaxInt64 {
			done = true
			break
		}
		cursor = end + 1
	}
	if !done {
		if err := gap(cursor, hi); err != nil {
			return nil, err
		}
	}
	return parts, nil
}

// rollupsPending reports whether some rollup work waits for a flush
// without memory data to trigger it (a delete, or rollups turned on). The
// caller holds mu.
func (db *DB) rollupsPending() bool {
	for _, c := range db.colls {
		for _, g := range c.rollups {
			if len(g.spans) > 0 {
				return true
			}
		}
	}
	return false
}

// explainLevel fills the rollup part of a ReadPlan. The caller holds mu.
func (db *DB) explainLevel(c *collection, series []model.Tags, min, max int64, l model.Level, plan *model.ReadPlan) {
	plan.Files = 0
	groups := make(map[int][]string)
	for _, tags := range series {
		key := model.SeriesKey(c.name, tags)
		if s := c.series[key]; s != nil {
			groups[s.group] = append(groups[s.group], key)
		}
	}
	for gi, keys := range groups {
		g := c.rollups[gi]
		if g == nil {
			continue
		}
		plan.Dirty += g.dirty[l].count(l.Floor(min), max)
		for _, sp := range g.spans {
			if sp.hi >= min && sp.lo <= max {
				plan.Dirty++
			}
		}
		for _, f := range g.files[l] {
			if partEnd(l, f.part) < min || f.part > max {
				continue
			}
			plan.Files++
			for _, key := range keys {
				si, ok := f.r.Find(key)
				if !ok {
					continue
				}
				for ci, col := range f.r.Series()[si].Columns {
					// Whole blocks inside the range count from the
					// index; a block on an edge is read to count its
					// rows exactly.
					for b, bi := range col.Blocks {
						switch {
						case bi.MaxTime < l.Floor(min) || bi.MinTime > max:
						case bi.MinTime >= l.Floor(min) && bi.MaxTime <= max:
							plan.Rows += bi.Count
						default:
							if c, err := f.r.ReadBlock(si, ci, b); err == nil {
								in := c.Range(l.Floor(min), max)
								plan.Rows += in.Len()
							}
						}
					}
				}
			}
		}
	}
}
