package storage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/soltixdb/soltix/internal/timex"
	"github.com/soltixdb/soltix/model"
)

// CollectionSettings are the per-collection options. The zero value is
// the default: rollups on, every level kept forever.
type CollectionSettings struct {
	// NoRollups turns the rollup levels off: nothing is rolled up, queries
	// read raw data, and existing rollup files are removed.
	NoRollups bool
	// Retention is how long each level keeps data, indexed by model.Level
	// (raw, 1h, 1d, 1M, 1y); 0 keeps it forever. Expired data is dropped
	// a whole file at a time: a raw file once all its partition is older
	// than now minus the retention, a rollup file likewise for its
	// partition (1h files hold a day, 1d files a month, 1M files a year).
	// The 1y level is one file and is always kept. A write older than
	// now minus the raw retention is refused with a *RetentionError.
	Retention [len(levelNamesForDirs)]time.Duration
	// Ack is when a cluster's storage node acknowledges a write of the
	// collection: AckLocal once its WAL has it, AckReplicated once the
	// replication stream holds it as well; "" is the node's default
	// (replicated when replication is on). soltix serve ignores it.
	Ack string
	// ColdAfter is, indexed by model.Level like Retention, how long a
	// level's files stay on local disk once their partition has ended
	// before Tier moves them to the cold store (S3); 0 keeps them local.
	// It only acts when the DB has a cold store (Options.Cold). The 1y
	// level's one file never ends and always stays local.
	ColdAfter [len(levelNamesForDirs)]time.Duration
}

// The acknowledgement modes of CollectionSettings.Ack.
const (
	AckLocal      = "local"
	AckReplicated = "replicated"
)

// Validate checks the settings.
func (s CollectionSettings) Validate() error {
	if s.Ack != "" && s.Ack != AckLocal && s.Ack != AckReplicated {
		return fmt.Errorf("ack %q: want local or replicated", s.Ack)
	}
	for l, d := range s.Retention {
		if d < 0 {
			return fmt.Errorf("retention of level %s is negative", model.Level(l))
		}
	}
	if s.Retention[model.Level1y] != 0 {
		return errors.New("the 1y level is kept forever; its retention must be forever")
	}
	for l, d := range s.ColdAfter {
		r := s.Retention[l]
		switch {
		case d < 0:
			return fmt.Errorf("cold_after of level %s is negative", model.Level(l))
		case d > 0 && model.Level(l) == model.Level1y:
			return errors.New("the 1y level is one file that never ends; its cold_after must be off")
		case d > 0 && r > 0 && d >= r:
			return fmt.Errorf("cold_after of level %s (%s) is not shorter than its retention (%s): its files would expire before they go cold",
				model.Level(l), FormatColdAfter(d), FormatRetention(r))
		}
	}
	return nil
}

// RetentionError is a write of points older than their collection's raw
// retention.
type RetentionError struct {
	Point      int // index in the batch
	Collection string
	Time       int64
	Retention  time.Duration
	// Kept, when not 0, is the start of the raw data the collection still
	// holds after its raw retention was made longer: older time has
	// rollup rows that raw data no longer backs.
	Kept int64
}

// Error implements error.
func (e *RetentionError) Error() string { return fmt.Sprintf("point %d: %s", e.Point, e.Reason()) }

// Reason says why the point was refused, without naming the point.
func (e *RetentionError) Reason() string {
	t := time.Unix(0, e.Time).UTC().Format(time.RFC3339Nano)
	if e.Kept != 0 {
		return fmt.Sprintf("time %s is older than the raw data collection %q still holds (from %s; its raw retention was made longer after older data expired)",
			t, e.Collection, time.Unix(0, e.Kept).UTC().Format(time.RFC3339))
	}
	return fmt.Sprintf("time %s is older than the raw retention of collection %q (%s)", t, e.Collection, FormatRetention(e.Retention))
}

// FormatRetention writes a retention in days when it is whole days.
func FormatRetention(d time.Duration) string {
	if d == 0 {
		return "forever"
	}
	if d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	return d.String()
}

// settingsFile is collections.json: settings by collection. The key ""
// (no collection's name) holds Options.DefaultSettings as the node last
// ran with them, when they were not the zero settings, so that Open can
// tell a change of the default.
type settingsFile map[string]settingsJSON

type settingsJSON struct {
	Rollups   bool             `json:"rollups"`
	Retention map[string]int64 `json:"retention_ns,omitempty"`
	// Pending says the rollups were turned on (or a retention made
	// longer) and not yet rebuilt: Open marks every bucket dirty again.
	// It is written in the same file, atomically, as the change that
	// needs it, and cleared only after a rollup pass has rebuilt them.
	Pending bool `json:"rollups_pending,omitempty"`
	// Kept holds, by level, the start of the data the level holds whole,
	// where a longer retention made it claim time it has no data for
	// (rollupState.kept).
	Kept map[string]int64 `json:"kept_from_ns,omitempty"`
	// Owed holds, by group number, the days (their start, ns) whose 1d
	// rows wait for their sketch (rollupState.owed).
	Owed map[string][]int64 `json:"sketches_owed,omitempty"`
	// Ack is CollectionSettings.Ack.
	Ack string `json:"ack,omitempty"`
	// ColdAfter is CollectionSettings.ColdAfter by level (levels that
	// stay local are left out).
	ColdAfter map[string]int64 `json:"cold_after_ns,omitempty"`
	// Own says the collection has settings of its own (not the node's
	// default), even when they are the zero settings. Files written
	// before it existed count settings other than the zero ones as own.
	Own bool `json:"own,omitempty"`
}

// decode returns the settings sj holds; name names the entry in errors.
func (sj settingsJSON) decode(path, name string) (CollectionSettings, error) {
	s := CollectionSettings{NoRollups: !sj.Rollups, Ack: sj.Ack}
	for ln, ns := range sj.Retention {
		l, ok := model.ParseLevel(ln)
		if !ok {
			return s, fmt.Errorf("read %s: collection %q: unknown level %q", path, name, ln)
		}
		s.Retention[l] = time.Duration(ns)
	}
	for ln, ns := range sj.ColdAfter {
		l, ok := model.ParseLevel(ln)
		if !ok {
			return s, fmt.Errorf("read %s: collection %q: unknown level %q", path, name, ln)
		}
		s.ColdAfter[l] = time.Duration(ns)
	}
	if err := s.Validate(); err != nil {
		return s, fmt.Errorf("read %s: collection %q: %w", path, name, err)
	}
	return s, nil
}

// encodeSettings returns the file form of s.
func encodeSettings(s CollectionSettings) settingsJSON {
	sj := settingsJSON{Rollups: !s.NoRollups, Ack: s.Ack}
	for l, d := range s.Retention {
		if d != 0 {
			if sj.Retention == nil {
				sj.Retention = make(map[string]int64)
			}
			sj.Retention[model.Level(l).String()] = int64(d)
		}
	}
	for l, d := range s.ColdAfter {
		if d != 0 {
			if sj.ColdAfter == nil {
				sj.ColdAfter = make(map[string]int64)
			}
			sj.ColdAfter[model.Level(l).String()] = int64(d)
		}
	}
	return sj
}

func (db *DB) settingsPath() string { return filepath.Join(db.dir, "collections.json") }

// loadSettings reads collections.json, if there is one.
func (db *DB) loadSettings() error {
	db.settings = make(map[string]CollectionSettings)
	db.rollState = make(map[string]*rollupState)
	b, err := db.readFile(db.settingsPath())
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read collection settings: %w", err)
	}
	var f settingsFile
	if err := json.Unmarshal(b, &f); err != nil {
		return fmt.Errorf("read %s: %w", db.settingsPath(), err)
	}
	for name, sj := range f {
		s, err := sj.decode(db.settingsPath(), name)
		if err != nil {
			return err
		}
		if name == "" {
			db.lastDefault = s
			continue
		}
		st := &rollupState{pending: sj.Pending && !s.NoRollups}
		for ln, ns := range sj.Kept {
			l, ok := model.ParseLevel(ln)
			if !ok {
				return fmt.Errorf("read %s: collection %q: unknown level %q", db.settingsPath(), name, ln)
			}
			if st.kept == nil {
				st.kept = make(map[model.Level]int64)
			}
			st.kept[l] = ns
		}
		if !s.NoRollups {
			for gs, days := range sj.Owed {
				gi, err := strconv.Atoi(gs)
				if err != nil || gi < 0 {
					return fmt.Errorf("read %s: collection %q: sketches owed by unknown group %q", db.settingsPath(), name, gs)
				}
				// A day is owed from its start: a pass marks that hour.
				for i, d := range days {
					days[i] = model.Level1d.Floor(d)
				}
				st.setOwed(gi, slices.Compact(slices.Sorted(slices.Values(days))))
			}
		}
		if !st.empty() {
			db.rollState[name] = st
		}
		if sj.Own || s != (CollectionSettings{}) {
			db.settings[name] = s
		}
	}
	return nil
}

// settingsIn returns the settings of collection name, given m, the
// collections' own settings: its own, or the node's default.
func (db *DB) settingsIn(m map[string]CollectionSettings, name string) CollectionSettings {
	if s, ok := m[name]; ok {
		return s
	}
	return db.opts.DefaultSettings
}

// settingsOf returns the settings of collection name. The caller holds mu
// (or is the only user of the DB, as Open).
func (db *DB) settingsOf(name string) CollectionSettings { return db.settingsIn(db.settings, name) }

// Settings returns the settings of every collection that has some of its
// own (not Options.DefaultSettings).
func (db *DB) Settings() map[string]CollectionSettings {
	db.mu.RLock()
	defer db.mu.RUnlock()
	out := make(map[string]CollectionSettings, len(db.settings))
	for k, v := range db.settings {
		out[k] = v
	}
	return out
}

// CollectionSettings returns a collection's settings (Options.
// DefaultSettings when it has none of its own; the collection need not
// exist).
func (db *DB) CollectionSettings(collection string) CollectionSettings {
	db.mu.RLock()
	defer db.mu.RUnlock()
	return db.settingsOf(collection)
}

// DefaultSettings returns Options.DefaultSettings: the settings of the
// collections that have none of their own.
func (db *DB) DefaultSettings() CollectionSettings { return db.opts.DefaultSettings }

// SetSettings changes a collection's settings durably. Turning rollups
// off removes the collection's rollup files; turning them on (or keeping a
// rollup level longer) marks every bucket dirty, so the next flush
// (background or Flush) rebuilds them from the finest data kept; that
// state is saved with the setting, so a crash before the rebuild does not
// lose it. A shorter retention drops what it expires at once. Settings
// equal to Options.DefaultSettings are not the collection's own: it
// follows the default from then on.
func (db *DB) SetSettings(ctx context.Context, collection string, s CollectionSettings) error {
	if err := s.Validate(); err != nil {
		return err
	}
	if collection == "" || len(collection) > MaxCollectionLen {
		return fmt.Errorf("collection name must be 1 to %d bytes", MaxCollectionLen)
	}
	db.flushMu.Lock()
	defer db.flushMu.Unlock()
	db.mu.Lock()
	if db.closed {
		db.mu.Unlock()
		return ErrClosed
	}
	next := maps.Clone(db.settings)
	if next == nil {
		next = make(map[string]CollectionSettings)
	}
	if s == db.opts.DefaultSettings {
		delete(next, collection)
	} else {
		next[collection] = s
	}
	ch := map[string][2]CollectionSettings{collection: {db.settingsOf(collection), s}}
	db.mu.Unlock()
	return db.changeSettings(ctx, next, ch)
}

// applyDefaultChange gives the collections without settings of their own
// the node's default settings, when they differ from those it last ran
// with (collections.json's "" entry), as SetSettings gives a collection
// new settings; then records the new default. Open calls it.
func (db *DB) applyDefaultChange(ctx context.Context) error {
	db.flushMu.Lock()
	defer db.flushMu.Unlock()
	db.mu.Lock()
	old, s := db.lastDefault, db.opts.DefaultSettings
	if old == s {
		db.mu.Unlock()
		return nil
	}
	ch := make(map[string][2]CollectionSettings)
	for name := range db.colls {
		if _, own := db.settings[name]; !own {
			ch[name] = [2]CollectionSettings{old, s}
		}
	}
	next := db.settings
	db.mu.Unlock()
	db.log.Info("default collection settings changed since the last run: applying them to the collections without settings of their own",
		"collections", len(ch), "rollups", !s.NoRollups, "raw_retention", FormatRetention(s.Retention[model.LevelRaw]))
	if err := db.changeSettings(ctx, next, ch); err != nil {
		return err
	}
	db.mu.Lock()
	db.lastDefault = s
	db.mu.Unlock()
	return nil
}

// changeSettings installs next, the collections' own settings, and makes
// each collection of ch go from its old settings (ch[name][0]) to its new
// ones ([1]): rollup files removed or marked for a rebuild, the rollup
// state saved with the settings, what the new retention expires dropped.
// The caller holds flushMu.
func (db *DB) changeSettings(ctx context.Context, next map[string]CollectionSettings, ch map[string][2]CollectionSettings) error {
	var limited []string
	for name, os := range ch {
		if s := os[1]; !s.NoRollups && s.Retention[model.Level1d] != 0 {
			limited = append(limited, name)
		}
	}
	if err := db.restoreElided(ctx, limited); err != nil {
		return err
	}
	db.mu.Lock()
	states := db.cloneRollStates()
	newStates := make(map[string]*rollupState, len(ch))
	for name, os := range ch {
		old, s := os[0], os[1]
		st := states[name].clone()
		st.kept = db.claims(st.kept, old, s)
		st.pending = (st.pending || needsRebuild(old, s)) && !s.NoRollups
		if s.NoRollups {
			st.owed = nil
		}
		states[name] = st
		newStates[name] = st
	}
	db.mu.Unlock()
	if err := db.saveSettings(next, states); err != nil {
		return err
	}
	var retired []*rollFile
	db.mu.Lock()
	db.settings = next
	for name, os := range ch {
		old, s := os[0], os[1]
		st := newStates[name]
		st.gen = db.rollGen
		db.setRollState(name, st)
		if s.NoRollups != old.NoRollups {
			// No rollup rows are left to protect: what raw data holds is
			// all there is (rollup_state.go, rawComplete).
			delete(db.rawDropped, name)
			for _, g := range db.groups {
				delete(g.rawFrom, name)
			}
		}
		if c := db.colls[name]; c != nil {
			c.settings = s
			switch {
			case s.NoRollups && !old.NoRollups:
				for _, g := range db.collRollups(c) {
					for l := range g.files {
						retired = append(retired, g.files[l]...)
					}
				}
				db.forgetRollups(c)
			case needsRebuild(old, s):
				db.markAll(c)
			}
		}
	}
	db.mu.Unlock()
	errs := []error{db.removeRollFiles(retired, false)}
	if err := db.rollUpBeforeExpiry(ctx); err != nil {
		errs = append(errs, err)
	} else if err := db.enforceRetentionLocked(ctx); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// markAll marks every bucket of every group of c dirty. The caller holds mu.
func (db *DB) markAll(c *collection) {
	groups := make(map[int]bool)
	for _, s := range c.series {
		groups[s.group] = true
	}
	for g := range groups {
		db.markSpan(c, g, math.MinInt64, math.MaxInt64, nil, 0)
	}
}

// saveSettings writes collections.json: the settings m, and the rollup
// state of each collection.
func (db *DB) saveSettings(m map[string]CollectionSettings, states map[string]*rollupState) error {
	f := db.settingsFile(m, states)
	if d := db.opts.DefaultSettings; d != (CollectionSettings{}) {
		f[""] = encodeSettings(d)
	}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	if err := db.writeFileSync(db.settingsPath(), b); err != nil {
		return fmt.Errorf("save collection settings: %w", err)
	}
	return nil
}

// settingsFile returns the contents of collections.json for the settings
// m and the rollup states.
func (db *DB) settingsFile(m map[string]CollectionSettings, states map[string]*rollupState) settingsFile {
	f := make(settingsFile, len(m))
	for name, st := range states {
		if _, ok := m[name]; !ok && !st.empty() {
			f[name] = settingsJSON{Rollups: true}
		}
	}
	for name, s := range m {
		sj := encodeSettings(s)
		sj.Own = true
		f[name] = sj
	}
	for name, sj := range f {
		if st := states[name]; st != nil {
			sj.Pending = st.pending
			for l, t := range st.kept {
				if sj.Kept == nil {
					sj.Kept = make(map[string]int64)
				}
				sj.Kept[l.String()] = t
			}
			for g, days := range st.owed {
				if sj.Owed == nil {
					sj.Owed = make(map[string][]int64)
				}
				sj.Owed[strconv.Itoa(g)] = days
			}
		}
		f[name] = sj
	}
	return f
}

// removeRollFiles removes rollup files the DB no longer uses (see
// discard).
func (db *DB) removeRollFiles(files []*rollFile, expired bool) error {
	return db.discard(rollData(files), expired, "remove rollup file")
}

// horizon returns the start of the oldest data level l of c keeps
// (math.MinInt64 when it keeps everything): the start of the partition
// holding now minus the level's retention, or later where a longer
// retention made the level claim time it holds no data for
// (rollupState.kept). The caller holds mu.
func (db *DB) horizon(c *collection, l model.Level) int64 {
	h := db.retentionHorizon(c.settings, l)
	if st := db.rollState[c.name]; st != nil {
		if k, ok := st.kept[l]; ok {
			h = max(h, k)
		}
	}
	return h
}

// retentionHorizon is the horizon of level l that settings s give now.
func (db *DB) retentionHorizon(s CollectionSettings, l model.Level) int64 {
	r := s.Retention[l]
	if r <= 0 {
		return math.MinInt64
	}
	now, _ := timex.FromTime(db.now())
	cut, _ := timex.Sub(now, int64(r)) // saturates: keeps everything
	if l == model.LevelRaw {
		start, _ := timex.Floor(cut, db.opts.PartitionDuration.Nanoseconds(), 0)
		return start
	}
	return partOf(l, cut)
}

// enforceRetentionLocked drops the files every collection's retention has
// expired. The caller holds flushMu.
func (db *DB) enforceRetentionLocked(ctx context.Context) error {
	var rawGone []*dataFile
	var rollGone []*rollFile
	db.mu.Lock()
	for _, c := range db.colls {
		rawFrom := db.horizon(c, model.LevelRaw)
		if rawFrom != math.MinInt64 {
			db.setRawDropped(c.name, rawFrom)
			gone := make(map[*dataFile]bool)
			for _, s := range c.series {
				if db.groups[s.group].expecting {
					continue // rolled up with the import's data first
				}
				s.files = slices.DeleteFunc(s.files, func(fs fileSeries) bool {
					if fs.f.meta.MaxTime < rawFrom {
						gone[fs.f] = true
						return true
					}
					return false
				})
			}
			for f := range gone {
				rawGone = append(rawGone, f)
				db.groupFile(f, false)
			}
		}
		for _, g := range db.collRollups(c) {
			for l := model.Level1h; l < model.Level1y; l++ {
				from := db.horizon(c, l)
				if from == math.MinInt64 {
					continue
				}
				g.files[l] = slices.DeleteFunc(g.files[l], func(f *rollFile) bool {
					if partEnd(l, f.part) < from {
						rollGone = append(rollGone, f)
						return true
					}
					return false
				})
			}
		}
	}
	if len(rawGone) > 0 {
		db.dropSpentTombstones()
	}
	db.mu.Unlock()
	errs := []error{db.discard(rawGone, true, "remove expired file"), db.removeRollFiles(rollGone, true), db.expireQuarantine()}
	if n := len(rawGone) + len(rollGone); n > 0 {
		db.log.Info("retention dropped files", "raw", len(rawGone), "rollup", len(rollGone))
	}
	return errors.Join(errs...)
}

// EnforceRetention drops the files retention has expired now; the
// background flusher does it every RetentionInterval.
func (db *DB) EnforceRetention(ctx context.Context) error {
	db.flushMu.Lock()
	defer db.flushMu.Unlock()
	if db.shut {
		return ErrClosed
	}
	if err := db.rollUpBeforeExpiry(ctx); err != nil {
		return err
	}
	return db.enforceRetentionLocked(ctx)
}

// ParseRetention parses a retention: "forever" or "0" (keep everything),
// or a number with a unit of s, m, h, d (24 h), w (7 d) or y (365 d), such
// as "7d" or "5y". Go durations such as "36h30m" are accepted too.
func ParseRetention(s string) (time.Duration, error) {
	switch s {
	case "forever", "0", "":
		return 0, nil
	}
	unit := map[byte]time.Duration{'d': 24 * time.Hour, 'w': 7 * 24 * time.Hour, 'y': 365 * 24 * time.Hour}
	if u, ok := unit[s[len(s)-1]]; ok {
		n, err := strconv.ParseUint(s[:len(s)-1], 10, 32)
		if err != nil || n == 0 {
			return 0, fmt.Errorf("retention %q: want a positive number of %c", s, s[len(s)-1])
		}
		r, fits := timex.Mul(int64(n), int64(u))
		if !fits {
			return 0, fmt.Errorf("retention %q is too long (at most %dy); use forever", s, math.MaxInt64/int64(365*24*time.Hour))
		}
		return time.Duration(r), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("retention %q: want forever, or a positive duration such as 7d, 52w, 5y or 36h", s)
	}
	return d, nil
}

// SettingsSpec is the text form of CollectionSettings that the admin API
// (JSON) and the config file (YAML) use:
//
//	{"rollups": true, "retention": {"raw": "7d", "1h": "365d", "1d": "5y", "1M": "forever"},
//	 "cold_after": {"raw": "30d", "1h": "90d"}}
type SettingsSpec struct {
	Rollups   *bool             `json:"rollups,omitempty" yaml:"rollups"`
	Retention map[string]string `json:"retention,omitempty" yaml:"retention"`
	// Ack is the acknowledgement mode in a cluster: local or replicated.
	Ack *string `json:"ack,omitempty" yaml:"ack"`
	// ColdAfter is how long each level's files stay local after their
	// partition ended before they move to the cold store: a duration as
	// for retention, or "off".
	ColdAfter map[string]string `json:"cold_after,omitempty" yaml:"cold_after"`
}

// Apply returns s changed by what the spec sets; levels the spec does not
// name keep their retention.
func (sp SettingsSpec) Apply(s CollectionSettings) (CollectionSettings, error) {
	if sp.Rollups != nil {
		s.NoRollups = !*sp.Rollups
	}
	if sp.Ack != nil {
		s.Ack = *sp.Ack
	}
	for name, v := range sp.Retention {
		l, ok := model.ParseLevel(name)
		if !ok {
			return s, fmt.Errorf("retention: unknown level %q (want raw, 1h, 1d, 1M or 1y)", name)
		}
		d, err := ParseRetention(v)
		if err != nil {
			return s, fmt.Errorf("retention of level %s: %w", name, err)
		}
		s.Retention[l] = d
	}
	for name, v := range sp.ColdAfter {
		l, ok := model.ParseLevel(name)
		if !ok {
			return s, fmt.Errorf("cold_after: unknown level %q (want raw, 1h, 1d, 1M or 1y)", name)
		}
		d, err := ParseColdAfter(v)
		if err != nil {
			return s, fmt.Errorf("cold_after of level %s: %w", name, err)
		}
		s.ColdAfter[l] = d
	}
	return s, s.Validate()
}

// ParseColdAfter parses a cold_after setting: "off" or "0" (the level
// stays local), or a duration as ParseRetention reads it ("30d", "12w").
func ParseColdAfter(s string) (time.Duration, error) {
	switch s {
	case "off", "0":
		return 0, nil
	case "", "forever":
		return 0, fmt.Errorf("cold_after %q: want off, or a positive duration such as 30d, 12w or 1y", s)
	}
	d, err := ParseRetention(s)
	if err != nil {
		return 0, fmt.Errorf("cold_after %q: want off, or a positive duration such as 30d, 12w or 1y", s)
	}
	return d, nil
}

// FormatColdAfter writes a cold_after setting as ParseColdAfter reads it:
// "off", or whole days when it is whole days.
func FormatColdAfter(d time.Duration) string {
	if d == 0 {
		return "off"
	}
	return FormatRetention(d)
}

// cold reports whether any level of s has a cold_after.
func (s CollectionSettings) cold() bool {
	for _, d := range s.ColdAfter {
		if d > 0 {
			return true
		}
	}
	return false
}

// Spec returns the full text form of s.
func (s CollectionSettings) Spec() SettingsSpec {
	on := !s.NoRollups
	sp := SettingsSpec{Rollups: &on, Retention: make(map[string]string)}
	if s.Ack != "" {
		ack := s.Ack
		sp.Ack = &ack
	}
	for l, d := range s.Retention {
		sp.Retention[model.Level(l).String()] = FormatRetention(d)
	}
	// Every level named once any is set; left out otherwise, so that the
	// spec of a collection without a cold tier stays what it was.
	if s.cold() {
		sp.ColdAfter = make(map[string]string)
		for l, d := range s.ColdAfter {
			sp.ColdAfter[model.Level(l).String()] = FormatColdAfter(d)
		}
	}
	return sp
}
