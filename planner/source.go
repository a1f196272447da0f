// Package planner turns a parsed query (package query) into reads against a
// Source and computes the answer: series selection by tags, time-range
// pruning, per-point filtering, aggregates, GROUP BY intervals and tags,
// FILL, ORDER BY, LIMIT and OFFSET, SHOW, EXPLAIN and DELETE. It defines
// the interfaces it needs (Source to read, Deleter to delete); storage
// implements them locally.
package planner

import (
	"context"

	"github.com/soltixdb/soltix/model"
)

// Source is the read interface the planner runs queries against. It must be
// safe for concurrent use. Storage implements it over memory and files.
type Source interface {
	// Collections returns the names of all collections, sorted.
	Collections() []string
	// Fields returns the fields of a collection and their kinds; ok is false
	// when the collection does not exist.
	Fields(collection string) (fields map[string]model.Kind, ok bool)
	// TagKeys returns the sorted tag keys used by any series of the collection.
	TagKeys(collection string) []string
	// TagValues returns the sorted values of one tag key in the collection.
	TagValues(collection, key string) []string
	// Series returns the tag sets of the collection's series whose tags
	// satisfy match (nil matches every series), sorted by series key. It
	// calls match once for every series of the collection (the planner
	// relies on it to list them all unsorted, see selectFrom).
	Series(collection string, match func(model.Tags) bool) []model.Tags
	// Read returns one column per requested field, in the order asked, for
	// one series, holding the values whose times lie in [min, max]
	// (inclusive), sorted by time, merged across memory and files with the
	// last write winning for a repeated timestamp. A field the series does
	// not have comes back as an empty column of the collection's kind.
	Read(ctx context.Context, collection string, tags model.Tags, fields []string, min, max int64) ([]model.Column, error)
	// Explain describes the reads of these series over [min, max] at a
	// level: for LevelRaw what Read would touch; for a rollup level also
	// the rollup rows it holds there and how many of its buckets are dirty.
	Explain(collection string, series []model.Tags, min, max int64, level model.Level) ReadPlan
}

// IndexedSource is implemented by sources that keep a postings index of
// their series' tags. The planner then selects series by looking tag
// conditions up in it (tagsets.go) instead of testing every series. A
// wrapper that embeds such a source and narrows Series must override
// SeriesIndex too (returning nil sends the planner to Series).
type IndexedSource interface {
	// SeriesIndex returns a view of the collection's index (empty when
	// the collection does not exist), or nil when Series must be used.
	SeriesIndex(collection string) model.SeriesIndex
}

// RangeChecker is implemented by sources that can tell, before any series
// is read, that a collection's data over [min, max] cannot be answered
// (storage: it is in a quarantined file). A plan checks it first, so that
// a query matching none of the series the source still knows fails too,
// instead of answering without that data.
type RangeChecker interface {
	CheckRange(collection string, min, max int64) error
}

func checkRange(src Source, collection string, min, max int64) error {
	if rc, ok := src.(RangeChecker); ok {
		return rc.CheckRange(collection, min, max)
	}
	return nil
}

// Deleter is implemented by sources that can delete points; Execute needs it
// for DELETE statements.
type Deleter interface {
	// Delete removes, durably and visibly at once, the points of the listed
	// series of the collection whose times lie in [min, max] (inclusive).
	// Points written after Delete returns are not affected.
	Delete(ctx context.Context, collection string, series []model.Tags, min, max int64) error
}

// ReadPlan describes what a read touches, for EXPLAIN.
type ReadPlan = model.ReadPlan

// ErrNotFound is returned (wrapped) when a query names a collection that does
// not exist.
var ErrNotFound = model.ErrNotFound

// Summary is a run of values given by its aggregate state (see model.Summary).
type Summary = model.Summary

// Part is one piece of a field's values (see model.Part).
type Part = model.Part

// ConcurrentSource is implemented by sources whose reads (Read, ReadLimit,
// ReadParts) may be made from several goroutines at once and in any order
// of series. The planner then reads the parts of an aggregate's series
// ahead of aggregating them (prefetch.go) when ConcurrentReads reports
// true.
type ConcurrentSource interface {
	ConcurrentReads() bool
}

// SummarySource is implemented by sources that can answer part of a read
// with summaries (from colstore block statistics or rollup rows) instead of
// values.
type SummarySource interface {
	// ReadParts returns the values of one field of one series with times in
	// [min, max] as parts in time order whose time ranges do not overlap.
	// A run of values may come as a Summary only when whole(lo, hi)
	// reports true for its time range [lo, hi] (the planner answers
	// whether the range lies inside one bucket); everything else comes as
	// values. The result is the same data Read would return.
	//
	// level is the coarsest rollup level the source may answer from
	// (LevelRaw: colstore block statistics at most). A rollup bucket that
	// is dirty (its raw data changed since it was computed, or memory
	// holds data in it) or that whole() rejects is answered from finer
	// levels and finally raw data. Before the oldest raw data kept (see
	// ReadPlan.RawFrom) only rollups answer.
	ReadParts(ctx context.Context, collection string, tags model.Tags, field string, min, max int64, whole func(lo, hi int64) bool, level model.Level) ([]Part, error)
	// Rollups reports whether the collection keeps rollup levels, and
	// rawFrom, the start of its oldest raw data kept (math.MinInt64 when
	// retention has dropped none): before it only rollups answer.
	Rollups(collection string) (on bool, rawFrom int64)
}

// SketchlessSource is implemented by summary sources that can leave the
// quantile sketches out of rollup summaries, sparing their decoding: the
// planner reads through it every field no percentile reads. A wrapper
// that embeds such a source and overrides ReadParts must override
// ReadPartsWithoutSketches too, or the planner reads around its ReadParts.
type SketchlessSource interface {
	// ReadPartsWithoutSketches is ReadParts with no Summary carrying a
	// Sketch.
	ReadPartsWithoutSketches(ctx context.Context, collection string, tags model.Tags, field string, min, max int64, whole func(lo, hi int64) bool, level model.Level) ([]Part, error)
}

// readParts is ss.ReadParts, without sketches when sketches is false and
// ss can leave them out.
func readParts(ctx context.Context, ss SummarySource, collection string, tags model.Tags, field string, min, max int64, whole func(lo, hi int64) bool, level model.Level, sketches bool) ([]Part, error) {
	if sl, ok := ss.(SketchlessSource); ok && !sketches {
		return sl.ReadPartsWithoutSketches(ctx, collection, tags, field, min, max, whole, level)
	}
	return ss.ReadParts(ctx, collection, tags, field, min, max, whole, level)
}
