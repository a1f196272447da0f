package httpapi

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/planner"
	"github.com/soltixdb/soltix/storage"
)

// fakeStore is an in-memory Store: it records every batch given to Write and
// answers reads over the recorded points; Delete removes recorded points.
// writeErr, flushErr, deleteErr and compactErr are returned instead of doing
// the work when set.
type fakeStore struct {
	mu       sync.Mutex
	batches  [][]model.Point
	schema   map[string]map[string]model.Kind // fields by collection, kept across deletes
	calls    int                              // calls of Write, failed ones included
	flushes  int
	deletes  []fakeDelete // successful calls of Delete
	compacts int
	writeErr error
	flushErr error
	// decoding counts the writes between Decoding and its done call;
	// decodings every Decoding call; inDecoding the Write calls made
	// while one was open.
	decoding, decodings, inDecoding int
	deleteErr                       error
	compactErr                      error
	// settings by collection, as storage keeps them: absent means the
	// defaults. Write refuses points older than testNow minus the raw
	// retention with a *storage.RetentionError, as storage does.
	settings    map[string]storage.CollectionSettings
	setCalls    int // successful calls of SetSettings
	settingsErr error
}

// fakeDelete records the arguments of one Delete call.
type fakeDelete struct {
	collection string
	series     []model.Tags
	min, max   int64
}

var _ Store = (*fakeStore)(nil)

func (f *fakeStore) Write(ctx context.Context, points []model.Point) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.decoding > 0 {
		f.inDecoding++
	}
	if f.writeErr != nil {
		return f.writeErr
	}
	for i, p := range points {
		if r := f.settings[p.Collection].Retention[model.LevelRaw]; r > 0 && p.Time < testNow.UnixNano()-int64(r) {
			return &storage.RetentionError{Point: i, Collection: p.Collection, Time: p.Time, Retention: r}
		}
	}
	f.batches = append(f.batches, slices.Clone(points))
	if f.schema == nil {
		f.schema = map[string]map[string]model.Kind{}
	}
	for _, p := range points {
		if f.schema[p.Collection] == nil {
			f.schema[p.Collection] = map[string]model.Kind{}
		}
		for _, fl := range p.Fields {
			f.schema[p.Collection][fl.Key] = fl.Value.Kind
		}
	}
	return nil
}

func (f *fakeStore) Flush(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.flushErr != nil {
		return f.flushErr
	}
	f.flushes++
	return nil
}

// Delete drops the recorded points of the listed series whose times lie in
// [min, max]; points written later are not affected.
func (f *fakeStore) Delete(ctx context.Context, collection string, series []model.Tags, min, max int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.deleteErr != nil {
		return f.deleteErr
	}
	f.deletes = append(f.deletes, fakeDelete{collection, slices.Clone(series), min, max})
	for i, b := range f.batches {
		kept := b[:0:0]
		for _, p := range b {
			covered := p.Collection == collection && p.Time >= min && p.Time <= max &&
				slices.ContainsFunc(series, func(t model.Tags) bool { return t.Equal(p.Tags) })
			if !covered {
				kept = append(kept, p)
			}
		}
		f.batches[i] = kept
	}
	return nil
}

// Compact counts the call; the fake has no files to merge.
func (f *fakeStore) Compact(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.compactErr != nil {
		return f.compactErr
	}
	f.compacts++
	return nil
}

func (f *fakeStore) CollectionSettings(collection string) storage.CollectionSettings {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.settings[collection]
}

func (f *fakeStore) Settings() map[string]storage.CollectionSettings {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make(map[string]storage.CollectionSettings, len(f.settings))
	for k, v := range f.settings {
		out[k] = v
	}
	return out
}

// SetSettings stores s (removing the entry for the defaults), like storage.
func (f *fakeStore) SetSettings(ctx context.Context, collection string, s storage.CollectionSettings) error {
	if err := s.Validate(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.settingsErr != nil {
		return f.settingsErr
	}
	f.setCalls++
	if f.settings == nil {
		f.settings = map[string]storage.CollectionSettings{}
	}
	if s == (storage.CollectionSettings{}) {
		delete(f.settings, collection)
	} else {
		f.settings[collection] = s
	}
	return nil
}

// written returns every point written so far, in order.
func (f *fakeStore) written() []model.Point {
	f.mu.Lock()
	defer f.mu.Unlock()
	var all []model.Point
	for _, b := range f.batches {
		all = append(all, b...)
	}
	return all
}

func (f *fakeStore) Collections() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	names := make([]string, 0, len(f.schema))
	for name := range f.schema {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// Fields answers from the schema, so a collection whose points were all
// deleted still exists, as in storage.
func (f *fakeStore) Fields(collection string) (map[string]model.Kind, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fields, ok := f.schema[collection]
	if !ok {
		return nil, false
	}
	out := make(map[string]model.Kind, len(fields))
	for k, v := range fields {
		out[k] = v
	}
	return out, true
}

func (f *fakeStore) TagKeys(collection string) []string {
	var keys []string
	for _, p := range f.written() {
		if p.Collection != collection {
			continue
		}
		for _, t := range p.Tags {
			if !slices.Contains(keys, t.Key) {
				keys = append(keys, t.Key)
			}
		}
	}
	sort.Strings(keys)
	return keys
}

func (f *fakeStore) TagValues(collection, key string) []string {
	var vals []string
	for _, p := range f.written() {
		if p.Collection == collection && p.Tags.Has(key) && !slices.Contains(vals, p.Tags.Get(key)) {
			vals = append(vals, p.Tags.Get(key))
		}
	}
	sort.Strings(vals)
	return vals
}

func (f *fakeStore) Series(collection string, match func(model.Tags) bool) []model.Tags {
	byKey := map[string]model.Tags{}
	for _, p := range f.written() {
		if p.Collection == collection && (match == nil || match(p.Tags)) {
			byKey[model.SeriesKey(collection, p.Tags)] = p.Tags
		}
	}
	keys := make([]string, 0, len(byKey))
	for k := range byKey {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]model.Tags, 0, len(keys))
	for _, k := range keys {
		out = append(out, byKey[k])
	}
	return out
}

func (f *fakeStore) Read(ctx context.Context, collection string, tags model.Tags, fields []string, min, max int64) ([]model.Column, error) {
	kinds, _ := f.Fields(collection)
	// Last write wins for a repeated timestamp.
	vals := make([]map[int64]model.Value, len(fields))
	for i := range vals {
		vals[i] = map[int64]model.Value{}
	}
	for _, p := range f.written() {
		if p.Collection != collection || !p.Tags.Equal(tags) || p.Time < min || p.Time > max {
			continue
		}
		for i, name := range fields {
			for _, fl := range p.Fields {
				if fl.Key == name {
					vals[i][p.Time] = fl.Value
				}
			}
		}
	}
	cols := make([]model.Column, len(fields))
	for i, name := range fields {
		cols[i] = model.Column{Name: name, Kind: kinds[name]}
		times := make([]int64, 0, len(vals[i]))
		for t := range vals[i] {
			times = append(times, t)
		}
		slices.Sort(times)
		for _, t := range times {
			cols[i].Append(t, vals[i][t])
		}
	}
	return cols, nil
}

func (f *fakeStore) Explain(collection string, series []model.Tags, min, max int64, level model.Level) planner.ReadPlan {
	return planner.ReadPlan{MemoryPoints: len(f.written())}
}

// testNow is the clock of every test server.
var testNow = time.Date(2025, 1, 2, 3, 4, 5, 600, time.UTC)

// newTestServer returns a server over a fresh fake store, with a fixed clock
// and a silent logger.
func newTestServer(t *testing.T, opts Options) (*server, *fakeStore) {
	t.Helper()
	st := &fakeStore{}
	if opts.Now == nil {
		opts.Now = func() time.Time { return testNow }
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return newServer(st, opts), st
}

// Decoding is storage.DB.Decoding: the write handler holds it while it
// decodes and stores a body.
func (f *fakeStore) Decoding() func() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.decoding++
	f.decodings++
	return func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.decoding--
	}
}

// writeCalls returns how many times Write was called.
func (f *fakeStore) writeCalls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

// do sends one request through h and returns the recorded response.
func do(h http.Handler, method, target string, header http.Header, body []byte) *httptest.ResponseRecorder {
	return doRequest(h, httptest.NewRequest(method, target, bytes.NewReader(body)), header)
}

// doRequest sends req, with header added, through h.
func doRequest(h http.Handler, req *http.Request, header http.Header) *httptest.ResponseRecorder {
	for k, vs := range header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}
