package remote

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/planner"
	"github.com/soltixdb/soltix/query"
	"github.com/soltixdb/soltix/storage"
)

// The read half of the router's Client: a planner.Source (and Scoper)
// over the storage nodes. Every SELECT is scoped (Scope): it opens one
// query session per node owning a group the statement can touch, and the
// plan's reads are served from what those sessions fetch (scoped.go).
// Calls without a statement (SHOW, DELETE's series, the Grafana
// variables) ask every node with a catalog call.

// UnavailableError is a read that needs groups no node could answer for:
// groups without a primary that is up, or whose node could not be reached.
// It wraps storage.ErrUnavailable (the HTTP API answers 503).
type UnavailableError struct {
	Groups []int
	Reason string
}

func (e *UnavailableError) Error() string {
	return fmt.Sprintf("%s unavailable: %s", groupList(e.Groups), e.Reason)
}

// Unwrap returns storage.ErrUnavailable.
func (e *UnavailableError) Unwrap() error { return storage.ErrUnavailable }

// maxStaleRetries bounds how often a read refreshes the map after a node
// answered stale_epoch.
const maxStaleRetries = 3

// nodeGroups is the groups one node is asked for.
type nodeGroups struct {
	node, addr string
	groups     []groupEpoch
	// replica is set when the node is asked for a group it is a replica
	// of: the session then carries openReplica.
	replica bool
}

// route assigns groups to nodes; missing lists the groups left without a
// node. A group goes to its primary when it has one up, else to its first
// replica up (a failover), skipping the nodes in avoid (they could not be
// reached or refused; avoidKey: refused that group); with anyCopy every copy is a candidate, the
// primary and its replicas in turn, starting at rotate so that successive
// queries spread over the copies.
func (c *Client) route(groups []int, anyCopy bool, avoid map[string]bool, rotate int) (byNode []*nodeGroups, missing []int) {
	rt, _ := c.topo.(ReplicaTopology)
	idx := map[string]*nodeGroups{}
	var cands []Route
	for _, g := range groups {
		cands = cands[:0]
		primary, ok := c.topo.Route(g)
		if ok {
			cands = append(cands, primary)
		}
		if rt != nil && (anyCopy || !ok || avoid[primary.Node] || avoid[avoidKey(primary.Node, g)]) {
			cands = append(cands, rt.Replicas(g)...)
		}
		start := 0
		if anyCopy && len(cands) > 1 {
			start = (rotate + g) % len(cands)
		}
		var pick Route
		found := false
		for i := range cands {
			r := cands[(start+i)%len(cands)]
			if !avoid[r.Node] && !avoid[avoidKey(r.Node, g)] {
				pick, found = r, true
				break
			}
		}
		if !found {
			missing = append(missing, g)
			continue
		}
		ng := idx[pick.Node]
		if ng == nil {
			ng = &nodeGroups{node: pick.Node, addr: pick.Addr}
			idx[pick.Node] = ng
			byNode = append(byNode, ng)
		}
		ng.groups = append(ng.groups, groupEpoch{Group: g, Epoch: pick.Epoch})
		if !ok || pick.Node != primary.Node {
			ng.replica = true
		}
	}
	slices.SortFunc(byNode, func(a, b *nodeGroups) int { return strings.Compare(a.node, b.node) })
	return byNode, missing
}

// avoidKey is route's key of a node that refused one group.
func avoidKey(node string, g int) string { return node + "#" + strconv.Itoa(g) }

func groupsUpTo(n int) []int {
	gs := make([]int, n)
	for i := range gs {
		gs[i] = i
	}
	return gs
}

// openAll opens sessions (or catalog calls) with the nodes holding groups
// (route), in parallel. A node that cannot be reached or answers 503 is
// avoided and its groups asked of another copy, when the map has one (a
// replica during a failover); groups no node could be asked for come back
// in missing, with the reasons. A stale epoch refreshes the map and tries
// again.
func (c *Client) openAll(ctx context.Context, groups []int, open openMsg, catalogOnly bool) (sessions []*session, missing []int, reasons []string, err error) {
	for attempt := 0; ; attempt++ {
		avoid := map[string]bool{}
		sessions, missing, reasons = nil, nil, nil
		stale := false
		var firstErr error
		pending := groups
		for round := 0; len(pending) > 0 && firstErr == nil && !stale; round++ {
			byNode, noRoute := c.route(pending, open.anyCopy, avoid, open.rotate)
			pending = nil
			missing = append(missing, noRoute...)
			if len(noRoute) > 0 && round == 0 {
				reasons = append(reasons, fmt.Sprintf("%s without a primary that is up", groupList(noRoute)))
			}
			res := make([]*session, len(byNode))
			errs := make([]error, len(byNode))
			var wg sync.WaitGroup
			for i, ng := range byNode {
				wg.Add(1)
				go func() {
					defer wg.Done()
					o := open
					o.Groups = ng.groups
					if ng.replica {
						o.Flags |= openReplica
					}
					res[i], errs[i] = c.openSession(ctx, Route{Node: ng.node, Addr: ng.addr}, &o, catalogOnly)
				}()
			}
			wg.Wait()
			for i, e := range errs {
				var se *staleError
				var ue *unreachableError
				switch {
				case e == nil:
					sessions = append(sessions, res[i])
				case errors.As(e, &se):
					stale = true
				case errors.As(e, &ue):
					// Another copy may answer for its groups.
					if len(ue.groups) == 0 {
						avoid[byNode[i].node] = true
					}
					for _, g := range ue.groups {
						avoid[avoidKey(byNode[i].node, g)] = true
					}
					for _, g := range byNode[i].groups {
						pending = append(pending, g.Group)
					}
					reasons = append(reasons, ue.Error())
				case firstErr == nil:
					firstErr = e
				}
			}
			if firstErr == nil && ctx.Err() != nil {
				firstErr = ctx.Err()
			}
		}
		if firstErr != nil || (stale && attempt < maxStaleRetries) {
			closeAll(sessions)
			sessions = nil
			if firstErr != nil {
				return nil, nil, nil, firstErr
			}
			if err := c.topo.Refresh(); err != nil {
				return nil, nil, nil, fmt.Errorf("refresh the cluster map: %w", err)
			}
			continue
		}
		if stale {
			closeAll(sessions)
			return nil, nil, nil, &UnavailableError{Groups: groups, Reason: "the cluster map kept changing (stale epoch)"}
		}
		slices.Sort(missing)
		return sessions, missing, reasons, nil
	}
}

func closeAll(ss []*session) {
	for _, s := range ss {
		s.close()
	}
}

// catalogAll asks every node for its catalog of a collection (or, with
// collection "", for the collection names), each call bounded by
// ClientOptions.RequestTimeout. A group that cannot be asked fails the
// call: an answer without it would silently miss data.
func (c *Client) catalogAll(collection string, flags uint64) (*catalog, error) {
	open := openMsg{Collection: collection, Flags: flags, Lo: math.MinInt64, Hi: math.MaxInt64}
	ctx, cancel := context.WithTimeout(context.Background(), c.opts.RequestTimeout)
	defer cancel()
	ss, missing, reasons, err := c.openAll(ctx, groupsUpTo(c.topo.NumGroups()), open, true)
	if err != nil {
		return nil, err
	}
	if len(missing) > 0 {
		return nil, &UnavailableError{Groups: missing, Reason: strings.Join(reasons, "; ")}
	}
	return mergeCatalogs(ss, true)
}

// Collections implements planner.Source. A node that cannot be asked makes
// it answer nothing (the interface has no error): use Scope'd statements
// for answers that must fail loudly.
func (c *Client) Collections() []string {
	cat, err := c.catalogAll("", openCollections)
	if err != nil {
		return nil
	}
	return cat.collections
}

// Fields implements planner.Source; see Collections for unreachable nodes.
func (c *Client) Fields(collection string) (map[string]model.Kind, bool) {
	cat, err := c.catalogAll(collection, 0)
	if err != nil || !cat.exists {
		return nil, false
	}
	return cat.fields, true
}

// TagKeys implements planner.Source.
func (c *Client) TagKeys(collection string) []string {
	cat, err := c.catalogAll(collection, 0)
	if err != nil {
		return nil
	}
	return cat.tagKeys
}

// TagValues implements planner.Source.
func (c *Client) TagValues(collection, key string) []string {
	cat, err := c.catalogAll(collection, openSeries)
	if err != nil {
		return nil
	}
	return cat.tagValues(key)
}

// Series implements planner.Source.
func (c *Client) Series(collection string, match func(model.Tags) bool) []model.Tags {
	cat, err := c.catalogAll(collection, openSeries)
	if err != nil {
		return nil
	}
	return cat.match(match)
}

// FieldsChecked is Fields with the error of a node that could not be
// asked (httpapi.CheckedCatalog).
func (c *Client) FieldsChecked(collection string) (map[string]model.Kind, bool, error) {
	cat, err := c.catalogAll(collection, 0)
	if err != nil {
		return nil, false, err
	}
	return cat.fields, cat.exists, nil
}

// SeriesChecked is Series with the error of a node that could not be
// asked (httpapi.CheckedCatalog).
func (c *Client) SeriesChecked(collection string, match func(model.Tags) bool) ([]model.Tags, error) {
	cat, err := c.catalogAll(collection, openSeries)
	if err != nil {
		return nil, err
	}
	return cat.match(match), nil
}

// errUnscoped is a data read outside a scoped statement.
var errUnscoped = errors.New("remote: data read outside a query scope (run statements through planner.ExecuteStream)")

// Read implements planner.Source; data is read only through Scope.
func (c *Client) Read(context.Context, string, model.Tags, []string, int64, int64) ([]model.Column, error) {
	return nil, errUnscoped
}

// Explain implements planner.Source; EXPLAIN runs through Scope.
func (c *Client) Explain(string, []model.Tags, int64, int64, model.Level) model.ReadPlan {
	return model.ReadPlan{}
}

// CheckRange implements planner.RangeChecker.
func (c *Client) CheckRange(collection string, min, max int64) error {
	open := openMsg{Collection: collection, Lo: min, Hi: max}
	ctx, cancel := context.WithTimeout(context.Background(), c.opts.RequestTimeout)
	defer cancel()
	ss, missing, reasons, err := c.openAll(ctx, groupsUpTo(c.topo.NumGroups()), open, true)
	if err != nil {
		return err
	}
	if len(missing) > 0 {
		return &UnavailableError{Groups: missing, Reason: strings.Join(reasons, "; ")}
	}
	for _, s := range ss {
		if s.cat.CheckErr != "" {
			return checkError(s)
		}
	}
	return nil
}

// checkError is a node's CheckRange failure.
func checkError(s *session) error {
	return fmt.Errorf("node %s: %s: %w", s.node, s.cat.CheckErr, storage.ErrUnavailable)
}

// Scope implements planner.Scoper: a SELECT (or EXPLAIN) gets a source of
// its own over sessions with the nodes owning the groups it can touch;
// SHOW and DELETE get the catalogs of every node (show.go).
func (c *Client) Scope(ctx context.Context, stmt *query.Statement, opts planner.Options) (planner.Source, func(), error) {
	if stmt == nil {
		return nil, nil, nil
	}
	if stmt.Select == nil {
		s, err := c.scopeCatalog(ctx, stmt, opts)
		if err != nil {
			return nil, nil, err
		}
		return s, nil, nil
	}
	s, err := c.scope(ctx, stmt, opts, true)
	if err != nil {
		return nil, nil, err
	}
	return s, s.close, nil
}

// collectionCatalog is a merged catalog.
type catalog struct {
	exists      bool
	fields      map[string]model.Kind
	tagKeys     []string
	rollups     bool
	rawFrom     int64
	series      []model.Tags // sorted by series key, distinct
	keys        []string     // their series keys
	owner       []*session   // the session each came from
	collections []string
}

// mergeCatalogs merges the catalogs of sessions: fields are united (a
// field of two kinds is an error), tag keys united, rawFrom the latest,
// rollups must agree; series are sorted by key.
func mergeCatalogs(ss []*session, withSeries bool) (*catalog, error) {
	c := &catalog{fields: map[string]model.Kind{}, rawFrom: math.MinInt64}
	if err := c.add(ss, "", withSeries); err != nil {
		return nil, err
	}
	return c, nil
}

// add merges more sessions' catalogs in; coll names the collection for
// errors.
func (c *catalog) add(ss []*session, _ string, withSeries bool) error {
	kindFrom := map[string]string{}
	for k := range c.fields {
		kindFrom[k] = "an earlier node"
	}
	rollSeen := c.exists
	tk := map[string]bool{}
	for _, k := range c.tagKeys {
		tk[k] = true
	}
	colls := map[string]bool{}
	for _, n := range c.collections {
		colls[n] = true
	}
	type entry struct {
		key  string
		tags model.Tags
		s    *session
	}
	var all []entry
	for i, k := range c.keys {
		all = append(all, entry{k, c.series[i], c.owner[i]})
	}
	for _, s := range ss {
		m := &s.cat
		for _, n := range m.Collections {
			colls[n] = true
		}
		if !m.Exists {
			continue
		}
		for f, k := range m.Fields {
			if have, ok := c.fields[f]; ok && have != k {
				return fmt.Errorf("field %q is %s on %s and %s on node %s", f, have, kindFrom[f], k, s.node)
			}
			c.fields[f] = k
			kindFrom[f] = "node " + s.node
		}
		for _, k := range m.TagKeys {
			tk[k] = true
		}
		if rollSeen && m.Rollups != c.rollups {
			return fmt.Errorf("nodes disagree on whether the collection keeps rollups (node %s: %v)", s.node, m.Rollups)
		}
		c.rollups, rollSeen = m.Rollups, true
		c.rawFrom = max(c.rawFrom, m.RawFrom)
		c.exists = true
		if withSeries {
			for i, t := range m.Series {
				key := ""
				if i < len(s.keys) {
					key = s.keys[i]
				}
				all = append(all, entry{key, t, s})
			}
		}
	}
	c.tagKeys = c.tagKeys[:0]
	for k := range tk {
		c.tagKeys = append(c.tagKeys, k)
	}
	sort.Strings(c.tagKeys)
	c.collections = c.collections[:0]
	for n := range colls {
		c.collections = append(c.collections, n)
	}
	sort.Strings(c.collections)
	if !withSeries {
		return nil
	}
	for i := range all {
		if all[i].key == "" {
			all[i].key = model.SeriesKey("", all[i].tags)
		}
	}
	slices.SortStableFunc(all, func(a, b entry) int { return strings.Compare(a.key, b.key) })
	c.series, c.keys, c.owner = c.series[:0], c.keys[:0], c.owner[:0]
	for i, e := range all {
		if i > 0 && all[i-1].key == e.key {
			continue
		}
		c.series, c.keys, c.owner = append(c.series, e.tags), append(c.keys, e.key), append(c.owner, e.s)
	}
	return nil
}

// match returns the series whose tags satisfy match, calling it once per
// series, sorted by series key.
func (c *catalog) match(match func(model.Tags) bool) []model.Tags {
	var out []model.Tags
	for _, t := range c.series {
		if match == nil || match(t) {
			out = append(out, t)
		}
	}
	return out
}

// tagValues returns the sorted values of a tag key among the series.
func (c *catalog) tagValues(key string) []string {
	seen := map[string]bool{}
	var out []string
	for _, t := range c.series {
		if t.Has(key) {
			if v := t.Get(key); !seen[v] {
				seen[v] = true
				out = append(out, v)
			}
		}
	}
	sort.Strings(out)
	return out
}
