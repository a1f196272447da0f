package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"sort"
	"sync/atomic"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/planner"
	"github.com/soltixdb/soltix/query"
	"github.com/soltixdb/soltix/remote/wire"
)

// Read routes of a storage node (see session_proto.go).
const (
	PathQuery   = "/internal/v1/query"
	PathCatalog = "/internal/v1/catalog"
)

// readRoutes registers the query session and catalog routes.
func (n *Node) readRoutes() {
	n.mux.Post(PathQuery, n.serveQuery)
	n.mux.Post(PathCatalog, n.serveCatalog)
}

// maxSessionMsg bounds a message of a query session, either way.
const maxSessionMsg = 64 << 20

// readChunk is the number of rows a node reads and sends at a time.
const readChunk = 1 << 16

// partsPerMsg bounds the parts of one msgParts.
const partsPerMsg = 1024

// serveQuery serves POST /internal/v1/query: a query session.
func (n *Node) serveQuery(w http.ResponseWriter, r *http.Request) { n.serveSession(w, r, false) }

// serveCatalog serves POST /internal/v1/catalog: a session of the open
// message and its catalog only.
func (n *Node) serveCatalog(w http.ResponseWriter, r *http.Request) { n.serveSession(w, r, true) }

func (n *Node) serveSession(w http.ResponseWriter, r *http.Request, catalogOnly bool) {
	ctx := r.Context()
	m := &n.metrics
	if catalogOnly {
		m.catalogs.Add(1)
	} else {
		m.fragments.Add(1)
	}
	select {
	case n.sessions <- struct{}{}:
		defer func() { <-n.sessions }()
	default:
		m.fragmentErrors.Add(1)
		m.bytesSent.Add(uint64(writeJSONError(w, http.StatusServiceUnavailable,
			fmt.Sprintf("read session: node %s serves %d sessions already", n.opts.NodeID, cap(n.sessions)), CodeUnavailable)))
		return
	}
	mr := wire.NewMessageReader(&countingReader{r: r.Body, n: &m.bytesRecv}, maxSessionMsg)
	typ, payload, err := mr.Next()
	var open openMsg
	if err == nil && typ != msgOpen {
		err = fmt.Errorf("first message of type %q, want open: %w", typ, wire.ErrMalformed)
	}
	if err == nil {
		err = open.decode(payload)
	}
	var where query.Expr
	if err == nil && open.Where != "" {
		where, err = parseWhere(open.Where)
	}
	if err != nil {
		m.fragmentErrors.Add(1)
		m.bytesSent.Add(uint64(writeJSONError(w, http.StatusBadRequest, "read session: "+err.Error(), CodeBadRequest)))
		return
	}
	inGroup := make(map[int]bool, len(open.Groups))
	var stale []int
	refreshed, asReplica := false, false
	for _, g := range open.Groups {
		if groups := n.topo.NumGroups(); g.Group >= groups {
			m.fragmentErrors.Add(1)
			m.bytesSent.Add(uint64(writeJSONError(w, http.StatusBadRequest, fmt.Sprintf("read session: group %d of %d groups", g.Group, groups), CodeBadRequest)))
			return
		}
		// A replica read (openReplica) of a group this node is not the
		// primary of is the gate's to admit: it knows the replicas.
		if !n.owns(g.Group, g.Epoch, &refreshed) {
			if open.Flags&openReplica == 0 || n.opts.Gate == nil {
				stale = append(stale, g.Group)
			}
			asReplica = true
		}
		inGroup[g.Group] = true
	}
	if len(stale) > 0 {
		slices.Sort(stale)
		stale = slices.Compact(stale)
		m.fragmentErrors.Add(1)
		m.staleEpochs.Add(1)
		m.bytesSent.Add(uint64(writeJSON(w, http.StatusConflict, ErrorBody{
			Error: fmt.Sprintf("node %s does not hold %s at the epochs given", n.opts.NodeID, groupList(stale)), Code: CodeStaleEpoch, Groups: stale})))
		return
	}
	if n.opts.Gate != nil {
		// A group given up during the session is dropped only after it.
		done, err := n.opts.Gate.ReadGroups(readGroups(open.Groups, open.Flags&openReplica != 0))
		if err != nil {
			status, eb := gateErrorBody(err)
			m.fragmentErrors.Add(1)
			m.staleEpochs.Add(1)
			m.bytesSent.Add(uint64(writeJSON(w, status, eb)))
			return
		}
		defer done()
	}
	if asReplica {
		m.replicaReads.Add(1)
	}
	// Over HTTP/1.1 (curl) the router's messages still arrive after the
	// answer started (HTTP/2 streams are full duplex anyway).
	_ = http.NewResponseController(w).EnableFullDuplex()
	w.Header().Set("Content-Type", ContentTypeSession)
	w.WriteHeader(http.StatusOK)
	ss := &nodeSession{n: n, w: w, rc: http.NewResponseController(w), ctx: ctx, open: &open, inGroup: inGroup, where: where}
	err = ss.run(mr, catalogOnly)
	switch {
	case err == nil:
	case ctx.Err() != nil:
		m.fragmentsCancelled.Add(1)
	default:
		m.fragmentErrors.Add(1)
		n.log.WarnContext(r.Context(), "query session", "err", err)
	}
}

// ContentTypeSession is the content type of both bodies of a session.
const ContentTypeSession = "application/x-soltix-session"

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n *atomic.Uint64
}

func (c *countingReader) Read(p []byte) (int, error) {
	k, err := c.r.Read(p)
	c.n.Add(uint64(k))
	return k, err
}

// nodeSession is one query session on a storage node.
type nodeSession struct {
	n       *Node
	w       io.Writer
	rc      *http.ResponseController
	ctx     context.Context
	open    *openMsg
	inGroup map[int]bool
	// where is open.Where parsed (nil without one).
	where  query.Expr
	points int64 // sent so far, against open.MaxPoints
	buf    []byte
}

func (ss *nodeSession) send(typ byte, payload []byte) error {
	ss.buf = wire.AppendMessage(ss.buf[:0], typ, payload)
	ss.n.metrics.bytesSent.Add(uint64(len(ss.buf)))
	_, err := ss.w.Write(ss.buf)
	return err
}

func (ss *nodeSession) flush() error { return ss.rc.Flush() }

func (ss *nodeSession) run(mr *wire.MessageReader, catalogOnly bool) error {
	if err := ss.send(msgCatalog, ss.catalog().encode()); err != nil {
		return err
	}
	if err := ss.flush(); err != nil {
		return err
	}
	if catalogOnly {
		return nil
	}
	for {
		typ, payload, err := mr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := ss.handle(typ, payload); err != nil {
			if ss.ctx.Err() != nil {
				return err
			}
			code := codeError
			if errors.Is(err, planner.ErrLimit) {
				code = codeLimit
			}
			_ = ss.send(msgError, (&errorMsg{Code: code, Msg: err.Error()}).encode())
			_ = ss.flush()
			return err
		}
		if err := ss.flush(); err != nil {
			return err
		}
	}
}

func (ss *nodeSession) handle(typ byte, payload []byte) error {
	db, coll := ss.n.db, ss.open.Collection
	switch typ {
	case msgFetch:
		var f fetchMsg
		if err := f.decode(payload); err != nil {
			return err
		}
		return ss.fetch(&f)
	case msgExplain:
		var x explainMsg
		if err := x.decode(payload); err != nil {
			return err
		}
		for _, t := range x.Series {
			if err := ss.inScope(t); err != nil {
				return err
			}
		}
		rp := db.Explain(coll, x.Series, x.Lo, x.Hi, x.Level)
		return ss.send(msgExplained, encodeReadPlan(&rp))
	case msgAggregate:
		return ss.aggregate(payload)
	case msgCheck:
		d := wire.MsgDec{B: payload}
		lo, hi := d.Varint(), d.Varint()
		if err := d.Done(); err != nil {
			return err
		}
		var e wire.MsgEnc
		if err := db.CheckRange(coll, lo, hi); err != nil {
			e.String(err.Error())
		} else {
			e.String("")
		}
		return ss.send(msgChecked, e.B)
	}
	return fmt.Errorf("message of type %q: %w", typ, wire.ErrMalformed)
}

// groupOf returns the group of a series as the cluster hashes it.
func (n *Node) groupOf(coll string, tags model.Tags) int {
	shard := n.topo.ShardTag()
	if tags.Has(shard) { // the device is the tag: no need for the key
		return model.GroupOf(tags.Get(shard), n.topo.NumGroups())
	}
	return model.GroupOf(model.DeviceOf(model.SeriesKey(coll, tags), tags, shard), n.topo.NumGroups())
}

// catalogSeries lists the series of the session's groups in collection,
// sorted by series key; with devices, only those whose shard tag is one of
// them, looked up in the DB's postings (a one-device query does not test
// every series of the node).
func (ss *nodeSession) catalogSeries(collection string, devices []string) []model.Tags {
	db, shard := ss.n.db, ss.n.topo.ShardTag()
	inGroup := func(t model.Tags) bool { return ss.inGroup[ss.n.groupOf(collection, t)] }
	if len(devices) == 0 {
		return db.Series(collection, inGroup)
	}
	ix := db.SeriesIndex(collection)
	lists := make([][]int32, 0, len(devices)) // up to an IN list's 100,000
	n := 0
	for _, d := range devices {
		if ids := ix.Postings(shard, d); len(ids) > 0 {
			lists = append(lists, ids)
			n += len(ids)
		}
	}
	ids := make([]int32, 0, n)
	for _, l := range lists {
		ids = append(ids, l...)
	}
	slices.Sort(ids)
	_, series := ix.Series(slices.Compact(ids), false)
	out := series[:0]
	for _, t := range series {
		if inGroup(t) {
			out = append(out, t)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func (ss *nodeSession) catalog() *catalogMsg {
	db, o := ss.n.db, ss.open
	c := &catalogMsg{RawFrom: math.MinInt64}
	if o.Flags&openCollections != 0 {
		c.Collections = db.Collections()
	}
	if o.Collection == "" {
		return c
	}
	c.Fields, c.Exists = db.Fields(o.Collection)
	if err := db.CheckRange(o.Collection, o.Lo, o.Hi); err != nil {
		c.CheckErr = err.Error()
	}
	if !c.Exists {
		return c
	}
	c.TagKeys = db.TagKeys(o.Collection)
	c.Rollups, c.RawFrom = db.Rollups(o.Collection)
	if o.Flags&openSeries != 0 {
		c.Series = ss.catalogSeries(o.Collection, o.Devices)
		c.Digest = seriesDigest(c.Series)
		if o.Known == c.Digest {
			c.Series, c.Same = nil, true
		}
	}
	return c
}

// inScope refuses a series outside the session's groups: the node
// answers only for the groups it was asked for at their epochs.
func (ss *nodeSession) inScope(tags model.Tags) error {
	if g := ss.n.groupOf(ss.open.Collection, tags); !ss.inGroup[g] {
		return fmt.Errorf("series %q of group %d is not in the session's groups: %w", model.SeriesKey(ss.open.Collection, tags), g, wire.ErrMalformed)
	}
	return nil
}

// spend counts n points sent against the session's limit.
func (ss *nodeSession) spend(n int64) error {
	ss.points += n
	if lim := ss.open.MaxPoints; lim > 0 && ss.points > lim {
		return &planner.LimitError{Msg: fmt.Sprintf("query reads more than %d points on node %s", lim, ss.n.opts.NodeID), Setting: planner.SettingMaxPoints}
	}
	return nil
}

// fetch answers a msgFetch, series by series in the order asked; the
// values of a batch of several series the plan merges by time (a raw
// select's GROUP BY combination) are sent merged by time too (batch.go).
func (ss *nodeSession) fetch(f *fetchMsg) error {
	whole := f.Whole.Func()
	for i := range f.Items {
		if err := ss.inScope(f.Items[i].Tags); err != nil {
			return err
		}
	}
	rf, err := ss.compileFilter(f)
	if err != nil {
		return err
	}
	for i := 0; i < len(f.Items); {
		j := i + 1
		for j < len(f.Items) && f.Items[j].Batch == f.Items[i].Batch {
			j++
		}
		var merged []int // items whose values are sent merged
		var filt []int   // items read filtered (node_filter.go)
		for x := i; x < j; x++ {
			if f.Items[x].Chunk > 0 {
				filt = append(filt, x)
			} else if j-i > 1 && mergeable(&f.Items[x]) {
				merged = append(merged, x)
			}
		}
		if len(merged) < 2 {
			merged = nil
		}
		if err := ss.mergedValues(f, merged, filt, rf); err != nil {
			return err
		}
		for x := i; x < j; x++ {
			if err := ss.ctx.Err(); err != nil {
				return err
			}
			covLo, covHi := int64(0), int64(-1)
			if f.Items[x].Chunk == 0 && !slices.Contains(merged, x) {
				var err error
				if covLo, covHi, err = ss.values(x, &f.Items[x], f.Desc); err != nil {
					return err
				}
			}
			if err := ss.itemParts(x, &f.Items[x], whole, f.Reduce, f.Sketch); err != nil {
				return err
			}
			var e wire.MsgEnc
			e.Uvarint(uint64(x))
			e.Varint(covLo)
			e.Varint(covHi)
			if err := ss.send(msgSeriesEnd, e.B); err != nil {
				return err
			}
		}
		i = j
	}
	var e wire.MsgEnc
	e.Uvarint(uint64(ss.points))
	return ss.send(msgFetchEnd, e.B)
}

// itemParts sends the parts of an item, with the runs of values of the
// fields in reduce reduced to summaries (node_reduce.go).
func (ss *nodeSession) itemParts(i int, it *planner.SeriesRead, whole func(lo, hi int64) bool, reduce map[string]planner.Reduce, sketch map[string]bool) error {
	for k, ps := range it.Parts {
		read := ss.n.db.ReadParts
		if !sketch[ps.Field] {
			read = ss.n.db.ReadPartsWithoutSketches
		}
		parts, err := read(ss.ctx, ss.open.Collection, it.Tags, ps.Field, ps.Lo, ps.Hi, whole, ps.Level)
		if err != nil {
			return err
		}
		if r, ok := reduce[ps.Field]; ok {
			parts = reduceParts(parts, whole, r)
		}
		for len(parts) > 0 {
			n := min(len(parts), partsPerMsg)
			if err := ss.sendParts(i, k, parts[:n]); err != nil {
				return err
			}
			parts = parts[n:]
		}
	}
	return nil
}

// sendParts sends parts of part span k of item i.
func (ss *nodeSession) sendParts(i, k int, parts []model.Part) error {
	var e wire.MsgEnc
	e.Uvarint(uint64(i))
	e.Uvarint(uint64(k))
	e.Uvarint(uint64(len(parts)))
	var pts int64
	for j := range parts {
		e.Part(&parts[j])
		if parts[j].Reduced {
			pts += int64(parts[j].Points) + int64(parts[j].Blocks)
		} else if parts[j].Summary != nil {
			pts++
		} else {
			pts += int64(parts[j].Values.Len())
		}
	}
	if err := ss.spend(pts); err != nil {
		return err
	}
	return ss.send(msgParts, e.B)
}

// sendChunk sends columns (chunks) of value spans idx of item i and the
// time through which those spans are now complete: from their start up to
// it, or with desc from it down to their end.
func (ss *nodeSession) sendChunk(i int, idx []int, cols []model.Column, through int64) error {
	var pts int64
	var e wire.MsgEnc
	e.Uvarint(uint64(i))
	e.Uvarint(uint64(len(cols)))
	for x := range cols {
		pts += int64(cols[x].Len())
		e.Uvarint(uint64(idx[x]))
		e.Column(&cols[x])
	}
	e.Varint(through)
	if err := ss.spend(pts); err != nil {
		return err
	}
	return ss.send(msgValues, e.B)
}

// values sends the value spans of an item and returns the range they
// cover (for Rows, the rows sent may cover less than the spans).
func (ss *nodeSession) values(i int, it *planner.SeriesRead, desc bool) (covLo, covHi int64, err error) {
	db, coll := ss.n.db, ss.open.Collection
	if len(it.Values) == 0 {
		return 0, -1, nil
	}
	if it.Rows > 0 {
		// Every span has the query's range: one ReadLimit of them all.
		lo, hi := it.Values[0].Lo, it.Values[0].Hi
		fields := make([]string, len(it.Values))
		idx := make([]int, len(it.Values))
		for j, v := range it.Values {
			if v.Lo != lo || v.Hi != hi {
				return 0, 0, fmt.Errorf("fetch: rows of spans over different ranges: %w", wire.ErrMalformed)
			}
			fields[j], idx[j] = v.Field, j
		}
		cols, err := db.ReadLimit(ss.ctx, coll, it.Tags, fields, lo, hi, it.Rows, desc)
		if err != nil {
			return 0, 0, err
		}
		covLo, covHi = lo, hi
		if times := rowTimes(cols); len(times) >= it.Rows {
			if desc {
				covLo = times[0]
			} else {
				covHi = times[len(times)-1]
			}
		}
		return covLo, covHi, ss.sendChunk(i, idx, cols, 0)
	}
	// Spans over the same range are read together, a chunk of rows at a
	// time, in time order (descending with desc), so that the router can
	// use each chunk as it arrives.
	done := make([]bool, len(it.Values))
	for j, v := range it.Values {
		if done[j] {
			continue
		}
		var fields []string
		var idx []int
		for k := j; k < len(it.Values); k++ {
			if w := it.Values[k]; !done[k] && w.Lo == v.Lo && w.Hi == v.Hi {
				fields, idx, done[k] = append(fields, w.Field), append(idx, k), true
			}
		}
		lo, hi := v.Lo, v.Hi
		for {
			if err := ss.ctx.Err(); err != nil {
				return 0, 0, err
			}
			cols, err := db.ReadLimit(ss.ctx, coll, it.Tags, fields, lo, hi, readChunk, desc)
			if err != nil {
				return 0, 0, err
			}
			times := rowTimes(cols)
			last := len(times) < readChunk
			through := v.Hi
			switch {
			case desc && last:
				through = v.Lo
			case desc:
				through = times[0]
				last = times[0] <= lo
			case !last:
				through = times[len(times)-1]
				last = through >= hi
			}
			if err := ss.sendChunk(i, idx, cols, through); err != nil {
				return 0, 0, err
			}
			if last {
				break
			}
			if desc {
				hi = through - 1
			} else {
				lo = through + 1
			}
		}
	}
	return 0, -1, nil
}

// rowTimes returns the distinct times of some columns, sorted. Columns
// read together usually hold the same times (fields written in the same
// points): then the first column's times are the answer, found in one
// comparison pass instead of a sort of all of them. Otherwise columns in
// time order are merged, and only columns out of order are sorted.
func rowTimes(cols []model.Column) []int64 {
	if len(cols) == 1 {
		return cols[0].Times
	}
	if len(cols) == 0 {
		return nil
	}
	first := cols[0].Times
	same := increasing(first)
	for i := 1; i < len(cols) && same; i++ {
		same = slices.Equal(cols[i].Times, first)
	}
	if same {
		return first
	}
	var all []int64
	for i := range cols {
		if !increasing(cols[i].Times) {
			for j := range cols {
				all = append(all, cols[j].Times...)
			}
			slices.Sort(all)
			return slices.Compact(all)
		}
	}
	for i := range cols {
		all = mergeTimes(all, cols[i].Times)
	}
	return all
}

// increasing says whether ts is in strictly increasing order.
func increasing(ts []int64) bool {
	for i := 1; i < len(ts); i++ {
		if ts[i] <= ts[i-1] {
			return false
		}
	}
	return true
}

// mergeTimes returns the distinct times of a and b, two strictly
// increasing lists, in increasing order, in a new slice.
func mergeTimes(a, b []int64) []int64 {
	out := make([]int64, 0, max(len(a), len(b)))
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		switch {
		case a[i] < b[j]:
			out = append(out, a[i])
			i++
		case b[j] < a[i]:
			out = append(out, b[j])
			j++
		default:
			out = append(out, a[i])
			i++
			j++
		}
	}
	out = append(out, a[i:]...)
	return append(out, b[j:]...)
}

func sortStrings(ss []string) { sort.Strings(ss) }
