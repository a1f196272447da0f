package remote

import (
	"context"
	"strings"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/planner"
	"github.com/soltixdb/soltix/query"
)

// catalogSource answers SHOW and DELETE statements on a router from the
// catalogs of every node, fetched once per statement: a node that cannot
// be asked fails the statement (503 naming its groups) instead of leaving
// its fields, tags or series out, unless the query allows partial answers.
type catalogSource struct {
	c    *Client
	coll string
	cat  *catalog
}

// scopeCatalog returns the source of a SHOW or DELETE statement.
func (c *Client) scopeCatalog(ctx context.Context, stmt *query.Statement, opts planner.Options) (*catalogSource, error) {
	var coll string
	var flags uint64
	switch {
	case stmt.Show != nil:
		coll = stmt.Show.From
		switch stmt.Show.Kind {
		case query.ShowCollections:
			flags = openCollections
		case query.ShowTagValues, query.ShowSeries:
			flags = openSeries
		}
		if coll == "" {
			// SHOW TAG KEYS and SHOW FIELDS of every collection.
			flags |= openCollections
		}
	case stmt.Delete != nil:
		coll, flags = stmt.Delete.From, openSeries
	}
	open := openMsg{Collection: coll, Flags: flags, Lo: 1, Hi: 0, anyCopy: opts.AnyReplica && stmt.Delete == nil}
	if open.anyCopy {
		open.rotate = int(c.rotate.Add(1) % (1 << 30))
	}
	ss, missing, reasons, err := c.openAll(ctx, groupsUpTo(c.topo.NumGroups()), open, true)
	if err != nil {
		return nil, err
	}
	if len(missing) > 0 {
		err := &UnavailableError{Groups: missing, Reason: strings.Join(reasons, "; ")}
		if opts.Partial == nil || stmt.Delete != nil {
			return nil, err
		}
		opts.Partial.Add(missing, err.Error())
	}
	cat, err := mergeCatalogs(ss, flags&openSeries != 0)
	if err != nil {
		return nil, err
	}
	return &catalogSource{c: c, coll: coll, cat: cat}, nil
}

// Collections implements planner.Source.
func (s *catalogSource) Collections() []string { return s.cat.collections }

// Fields implements planner.Source.
func (s *catalogSource) Fields(collection string) (map[string]model.Kind, bool) {
	if collection != s.coll {
		return s.c.Fields(collection)
	}
	return s.cat.fields, s.cat.exists
}

// TagKeys implements planner.Source.
func (s *catalogSource) TagKeys(collection string) []string {
	if collection != s.coll {
		return s.c.TagKeys(collection)
	}
	return s.cat.tagKeys
}

// TagValues implements planner.Source.
func (s *catalogSource) TagValues(collection, key string) []string {
	if collection != s.coll {
		return s.c.TagValues(collection, key)
	}
	return s.cat.tagValues(key)
}

// Series implements planner.Source.
func (s *catalogSource) Series(collection string, match func(model.Tags) bool) []model.Tags {
	if collection != s.coll {
		return s.c.Series(collection, match)
	}
	return s.cat.match(match)
}

// Read implements planner.Source: SHOW and DELETE read no data.
func (s *catalogSource) Read(context.Context, string, model.Tags, []string, int64, int64) ([]model.Column, error) {
	return nil, errUnscoped
}

// Explain implements planner.Source.
func (s *catalogSource) Explain(string, []model.Tags, int64, int64, model.Level) model.ReadPlan {
	return model.ReadPlan{}
}

// Delete implements planner.Deleter through the Client.
func (s *catalogSource) Delete(ctx context.Context, collection string, series []model.Tags, min, max int64) error {
	return s.c.Delete(ctx, collection, series, min, max)
}
