package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"sync"

	"github.com/soltixdb/soltix/coord"
	"github.com/soltixdb/soltix/remote"
	"github.com/soltixdb/soltix/storage"
)

// A cluster's collection settings live in etcd (coord's settings/<name>
// keys): routers write them, every storage node applies them to its
// storage. Their value is the JSON text form of the admin API
// (storage.SettingsSpec, every level named):
//
//	{"rollups":true,"retention":{"1M":"forever","1d":"forever","1h":"forever","1y":"forever","raw":"7d"}}

// encodeSettings returns the etcd value of a collection's settings.
func encodeSettings(s storage.CollectionSettings) []byte {
	b, _ := json.Marshal(s.Spec()) // a bool and a map of strings
	return b
}

// decodeSettings parses an etcd value of encodeSettings.
func decodeSettings(b []byte) (storage.CollectionSettings, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var sp storage.SettingsSpec
	if err := dec.Decode(&sp); err != nil {
		return storage.CollectionSettings{}, fmt.Errorf("decode settings: %w", err)
	}
	return sp.Apply(storage.CollectionSettings{})
}

// decodeAllSettings decodes every collection's settings, logging (and
// leaving out) a value it cannot decode.
func decodeAllSettings(m map[string][]byte, log *slog.Logger) map[string]storage.CollectionSettings {
	out := make(map[string]storage.CollectionSettings, len(m))
	for name, b := range m {
		s, err := decodeSettings(b)
		if err != nil {
			log.Error("ignoring collection settings from etcd", "collection", name, "err", err)
			continue
		}
		out[name] = s
	}
	return out
}

// settingsApplier makes a storage node's collection settings those etcd
// holds: at start, after every change coord reports (OnSettings), and when
// a router asks (syncHandler), one application at a time. It always
// applies the newest settings the view holds, never a stale copy.
type settingsApplier struct {
	db   *storage.DB
	co   *coord.Coord
	view *coord.View
	log  *slog.Logger

	mu       sync.Mutex // one application at a time
	dirty    chan struct{}
	quit     chan struct{}
	done     chan struct{}
	unsub    func()
	stopOnce sync.Once
}

func newSettingsApplier(db *storage.DB, co *coord.Coord, view *coord.View, log *slog.Logger) *settingsApplier {
	return &settingsApplier{db: db, co: co, view: view, log: log, dirty: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{})}
}

// apply sets every collection's settings to those of the view: a
// collection with settings of its own that etcd does not name gets the
// defaults.
func (a *settingsApplier) apply(ctx context.Context) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	want := decodeAllSettings(a.co.Settings(), a.log)
	for name := range a.db.Settings() {
		if _, ok := want[name]; !ok {
			want[name] = a.db.DefaultSettings()
		}
	}
	names := make([]string, 0, len(want))
	for name := range want {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if a.db.CollectionSettings(name) == want[name] {
			continue
		}
		if err := a.db.SetSettings(ctx, name, want[name]); err != nil {
			return fmt.Errorf("apply settings of collection %q: %w", name, err)
		}
		a.log.Info("collection settings applied", "collection", name, "rollups", !want[name].NoRollups)
	}
	return nil
}

// follow applies every change coord reports until stop.
func (a *settingsApplier) follow() {
	a.unsub = a.co.OnSettings(func(map[string][]byte) {
		select {
		case a.dirty <- struct{}{}:
		default:
		}
	})
	go func() {
		defer close(a.done)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go func() {
			<-a.quit
			cancel()
		}()
		for {
			select {
			case <-a.quit:
				return
			case <-a.dirty:
				if err := a.apply(ctx); err != nil && ctx.Err() == nil {
					a.log.Error("cannot apply collection settings from etcd", "err", err)
				}
			}
		}
	}()
}

// stop ends follow and waits for an application under way.
func (a *settingsApplier) stop() {
	a.stopOnce.Do(func() {
		if a.unsub == nil {
			return
		}
		a.unsub()
		close(a.quit)
		<-a.done
	})
}

// settingsSyncPath is the storage node route a router calls after writing
// a collection's settings to etcd: the node reads etcd (so its view is at
// least as new as the write) and applies the settings before answering
// 204, so that the router's answer to the settings change holds on every
// node it reached. It carries no body: etcd stays the only source.
const settingsSyncPath = "/internal/v1/settings/sync"

// syncHandler serves POST settingsSyncPath.
func (a *settingsApplier) syncHandler(w http.ResponseWriter, r *http.Request) {
	if err := a.view.RefreshContext(r.Context()); err != nil {
		http.Error(w, "settings sync: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	if err := a.apply(r.Context()); err != nil {
		http.Error(w, "settings sync: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// withMoreMetrics serves h's /metrics with what more writes appended (when
// h answered 200).
func withMoreMetrics(h http.Handler, more func(*bytes.Buffer)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &bufferedResponse{header: http.Header{}, code: http.StatusOK}
		h.ServeHTTP(rec, r)
		for k, v := range rec.header {
			w.Header()[k] = v
		}
		if rec.code == http.StatusOK {
			more(&rec.body)
		}
		w.Header().Set("Content-Length", strconv.Itoa(rec.body.Len()))
		w.WriteHeader(rec.code)
		w.Write(rec.body.Bytes())
	})
}

// writeNodeMetrics writes m in the Prometheus text format.
func writeNodeMetrics(b *bytes.Buffer, m remote.ServerMetrics) {
	for _, f := range []struct {
		name, help string
		v          uint64
	}{
		{"soltix_node_write_requests_total", "Internal write requests this storage node made durable.", m.Writes},
		{"soltix_node_points_written_total", "Points of the internal write requests made durable.", m.Points},
		{"soltix_node_write_errors_total", "Internal write requests refused or failed (stale epochs included).", m.WriteErrors},
		{"soltix_node_stale_epochs_total", "Internal requests refused with 409 stale epoch.", m.StaleEpochs},
		{"soltix_node_fragments_total", "Query fragments (reads of one plan segment) this storage node served.", m.Fragments},
		{"soltix_node_aggregates_total", "Query fragments this storage node aggregated itself (aggregates per bucket).", m.Aggregates},
		{"soltix_node_fragment_errors_total", "Query fragments that failed.", m.FragmentErrors},
		{"soltix_node_received_bytes_total", "Bytes of internal request bodies received.", m.BytesReceived},
		{"soltix_node_sent_bytes_total", "Bytes of internal answers sent.", m.BytesSent},
		{"soltix_node_replica_reads_total", "Read sessions and catalog calls this storage node served as a replica of their groups.", m.ReplicaReads},
		{"soltix_node_series_refused_total", "Points of internal writes refused for beginning new series over limits.new_series_per_minute (per node).", m.SeriesRefused},
	} {
		fmt.Fprintf(b, "# HELP %s %s\n# TYPE %s counter\n%s %d\n", f.name, f.help, f.name, f.name, f.v)
	}
}

// bufferedResponse is an http.ResponseWriter keeping the answer in memory.
type bufferedResponse struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func (b *bufferedResponse) Header() http.Header         { return b.header }
func (b *bufferedResponse) Write(p []byte) (int, error) { return b.body.Write(p) }
func (b *bufferedResponse) WriteHeader(code int)        { b.code = code }
