// The tier mover: uploading the files whose collection's ColdAfter has
// passed to the cold store, recording them in the cold list, and only then
// removing them locally; the background tierer; deleting the objects of
// cold files the DB no longer uses.

package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/soltixdb/soltix/internal/timex"
	"github.com/soltixdb/soltix/model"
)

// Which files go cold. A raw file goes once the end of its partition is
// more than the collection's raw ColdAfter ago; a rollup file of level l
// once the end of its partition (a day for 1h, a month for 1d, a year for
// 1M) is more than ColdAfter[l] ago. The 1y level's one file never ends
// and stays local. Only whole ended partitions go, so what goes cold no
// longer changes in the ordinary course: a write older than that (a late
// write) lands in a new local file of the partition, which reads merge as
// usual and a later Tier moves too; a delete covering cold data is a
// tombstone reads honour until compaction rewrites the partition into a
// local file (its cold files leave the list, their objects are deleted);
// a rollup partition rebuilt (a late write or delete under it, an import)
// is written locally and the cold file it replaces leaves the same way.

// ErrNoColdStore is returned by Tier when the DB has no cold store.
var ErrNoColdStore = errors.New("no cold store configured")

// ErrColdUnreachable is returned by Tier when the DB's cold store could
// not be opened yet (Options.ColdPending).
var ErrColdUnreachable = errors.New("the cold store is not reachable yet")

// tierBatch is how many uploaded files one cold list write records.
const tierBatch = 32

// tierMaxFailures is how many uploads in a row may fail before a Tier run
// leaves the rest for a later run: S3 is down, or refuses us.
const tierMaxFailures = 3

// TierStats is what a Tier run did.
type TierStats struct {
	// Uploaded counts the files moved to the cold store (uploaded,
	// verified, recorded and removed locally); Bytes is their size.
	Uploaded int
	Bytes    int64
	// Failed counts the files whose upload failed: they stay local and
	// are tried again by a later run.
	Failed int
	// Waiting counts the files due that this run left for a later one:
	// waiting out the backoff of an earlier failure (background runs), or
	// left after uploads kept failing.
	Waiting int
	// Deleted counts the objects deleted of cold files the DB no longer
	// uses (expired, rewritten or dropped).
	Deleted int
	// ColdFiles and ColdBytes count the DB's cold files after the run.
	ColdFiles int
	ColdBytes int64
}

// tierBackoff is the failure record of one file.
type tierBackoff struct {
	failures int
	next     time.Time
}

// coldCounters are the cumulative counters of ColdStats.
type coldCounters struct {
	uploads, uploadBytes, uploadFailures, deletes, deleteFailures, runs atomic.Int64
}

// ColdStats are the cold tier's counters, for monitoring.
type ColdStats struct {
	// Enabled says the DB has a cold store configured; Reachable that it
	// could be opened (see Options.ColdPending).
	Enabled, Reachable bool
	// Files and Bytes count the cold files now.
	Files int
	Bytes int64
	// Uploads, UploadBytes and UploadFailures count the files moved to
	// the cold store, their bytes, and the uploads that failed (the file
	// stayed local), since Open; Deletes and DeleteFailures the objects
	// deleted and the deletes that failed (retried); Runs the Tier runs.
	Uploads, UploadBytes, UploadFailures int64
	Deletes, DeleteFailures              int64
	Runs                                 int64
	// Requests, BytesFetched, CacheHits and CacheMisses are the cold
	// store's read counters (cold.Stats); CacheBytes what its cache holds.
	Requests, BytesFetched, CacheHits, CacheMisses int64
	CacheBytes                                     int64
}

// ColdStats returns the cold tier's counters.
func (db *DB) ColdStats() ColdStats {
	s := db.store()
	if s == nil && !db.opts.ColdPending {
		return ColdStats{}
	}
	st := ColdStats{Enabled: true, Reachable: s != nil,
		Uploads: db.coldCnt.uploads.Load(), UploadBytes: db.coldCnt.uploadBytes.Load(),
		UploadFailures: db.coldCnt.uploadFailures.Load(), Deletes: db.coldCnt.deletes.Load(),
		DeleteFailures: db.coldCnt.deleteFailures.Load(), Runs: db.coldCnt.runs.Load()}
	st.Files, st.Bytes = db.coldTotals()
	if s != nil {
		cs := s.Stats()
		st.Requests, st.BytesFetched, st.CacheHits, st.CacheMisses = cs.Requests, cs.BytesFetched, cs.CacheHits, cs.CacheMisses
		st.CacheBytes = s.CacheBytes()
	}
	return st
}

// coldTotals counts the live entries of the cold list and their bytes.
func (db *DB) coldTotals() (int, int64) {
	db.coldMu.Lock()
	defer db.coldMu.Unlock()
	if db.coldList == nil {
		return 0, 0
	}
	n, b := 0, int64(0)
	for i := range db.coldList.entries {
		if e := &db.coldList.entries[i]; !e.gone() {
			n++
			b += e.Size
		}
	}
	return n, b
}

// Tier moves every file whose collection's ColdAfter has passed to the
// cold store: it uploads the file, has the store verify the object against
// it (size and checksum), keeps a local copy of its header, index and
// footer, records it durably in the cold list, and only then removes the
// local file; reads then take its blocks from the object. A failed upload
// leaves the file local (counted in TierStats.Failed and the error; a
// later run tries again). Tier also deletes the objects of cold files the
// DB no longer uses, and sweeps expired objects no cold list names
// (sweepExpired; background runs at most hourly). It runs alongside writes, flushes, compactions and
// queries: a file compacted, expired or replaced while it uploads stays
// what it was, and its upload is deleted. One Tier runs at a time; the
// background tierer calls it every TierInterval, holding back a file that
// failed for a backoff (TierInterval doubled at each failure, up to an
// hour or TierInterval), where Tier tries every due file.
func (db *DB) Tier(ctx context.Context) (TierStats, error) {
	return db.tier(ctx, false)
}

func (db *DB) tier(ctx context.Context, background bool) (TierStats, error) {
	var st TierStats
	if db.store() == nil {
		if db.opts.ColdPending {
			return st, ErrColdUnreachable
		}
		return st, ErrNoColdStore
	}
	db.tierMu.Lock()
	defer db.tierMu.Unlock()
	db.coldCnt.runs.Add(1)
	var errs []error
	if err := db.deleteGoneObjects(ctx, &st); err != nil {
		errs = append(errs, err)
	}
	now := time.Now()
	if !background || now.Sub(db.lastSweep) >= sweepInterval {
		if err := db.sweepExpired(ctx, &st); err != nil {
			db.log.Warn("cold tier: sweeping expired objects failed; tried again later", "err", err)
			errs = append(errs, err)
		} else {
			db.lastSweep = now
		}
	}
	fails := 0
	var batch []*tierUpload
	for _, c := range db.tierCandidates() {
		if err := ctx.Err(); err != nil {
			errs = append(errs, err)
			break
		}
		seq := c.f.meta.Seq
		if b := db.tierFail[seq]; background && b != nil && now.Before(b.next) || fails >= tierMaxFailures {
			st.Waiting++
			continue
		}
		up, err := db.upload(ctx, c)
		if err != nil {
			if c.f.obsolete.Load() || ctx.Err() != nil {
				continue // compacted or dropped meanwhile, or stopping
			}
			st.Failed++
			fails++
			db.coldCnt.uploadFailures.Add(1)
			n := db.noteTierFailure(seq, now)
			db.log.Warn("cold tier: upload failed; the file stays local and is tried again",
				"file", c.f.path, "attempts", n, "err", err)
			errs = append(errs, err)
			continue
		}
		fails = 0
		delete(db.tierFail, seq)
		batch = append(batch, up)
		if len(batch) == tierBatch {
			n, b, err := db.commitTier(ctx, batch)
			st.Uploaded, st.Bytes = st.Uploaded+n, st.Bytes+b
			errs = append(errs, err)
			batch = nil
		}
	}
	n, b, err := db.commitTier(ctx, batch)
	st.Uploaded, st.Bytes = st.Uploaded+n, st.Bytes+b
	errs = append(errs, err)
	if fails >= tierMaxFailures {
		db.log.Warn("cold tier: uploads keep failing; files stay local until a later run", "waiting", st.Waiting)
	}
	st.ColdFiles, st.ColdBytes = db.coldTotals()
	if st.Uploaded > 0 || st.Deleted > 0 {
		db.log.Info("cold tier", "uploaded", st.Uploaded, "bytes", st.Bytes, "deleted", st.Deleted,
			"failed", st.Failed, "cold_files", st.ColdFiles)
	}
	return st, errors.Join(errs...)
}

// noteTierFailure records a failed upload of file seq and returns how
// many in a row it has had.
func (db *DB) noteTierFailure(seq uint64, now time.Time) int {
	if db.tierFail == nil {
		db.tierFail = make(map[uint64]*tierBackoff)
	}
	b := db.tierFail[seq]
	if b == nil {
		b = &tierBackoff{}
		db.tierFail[seq] = b
	}
	b.failures++
	wait := db.opts.TierInterval << min(b.failures-1, 10)
	if limit := max(time.Hour, db.opts.TierInterval); wait > limit || wait <= 0 {
		wait = limit
	}
	b.next = now.Add(wait)
	return b.failures
}

// tierCand is a local file due to go cold.
type tierCand struct {
	f     *dataFile
	level model.Level
	part  int64 // rollup files: the partition
}

// tierCandidates lists the local files whose ColdAfter has passed, oldest
// first.
func (db *DB) tierCandidates() []tierCand {
	db.mu.RLock()
	defer db.mu.RUnlock()
	now, _ := timex.FromTime(db.now())
	var out []tierCand
	width := db.opts.PartitionDuration.Nanoseconds()
	for name, c := range db.colls {
		s := c.settings
		if !s.cold() {
			continue
		}
		if d := s.ColdAfter[model.LevelRaw]; d > 0 {
			cut, _ := timex.Sub(now, int64(d))
			for _, g := range db.groups {
				for k, files := range g.files {
					if k.coll != name {
						continue
					}
					// The partition's last instant.
					end, ok := timex.Mul(k.partition+1, width)
					if !ok || end-1 >= cut {
						continue
					}
					for _, f := range files {
						if f.cold == nil {
							out = append(out, tierCand{f: f, level: model.LevelRaw})
						}
					}
				}
			}
		}
		for l := model.Level1h; l < model.Level1y; l++ {
			d := s.ColdAfter[l]
			if d <= 0 {
				continue
			}
			cut, _ := timex.Sub(now, int64(d))
			for _, g := range db.collRollups(c) {
				for _, f := range g.files[l] {
					if f.cold == nil && partEnd(l, f.part) < cut {
						out = append(out, tierCand{f: f.dataFile, level: l, part: f.part})
					}
				}
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].f.meta.Seq < out[j].f.meta.Seq })
	return out
}

// tierUpload is a file uploaded and its cold replacement, not yet
// recorded.
type tierUpload struct {
	cand tierCand
	cold *dataFile
}

// objectName is a file's name in the cold store: its local name with the
// DB's id, so that no two DBs holding the same group (a replica, a group
// moved away and back) ever name an object alike.
func (db *DB) objectName(local string) string {
	db.coldMu.Lock()
	id := db.coldList.idString()
	db.coldMu.Unlock()
	return strings.TrimSuffix(local, ".col") + "-" + id + ".col"
}

// upload uploads one file, writes its index copy and opens its cold
// replacement.
func (db *DB) upload(ctx context.Context, c tierCand) (*tierUpload, error) {
	f := c.f
	lf, err := db.fs.Open(f.path)
	if err != nil {
		return nil, fmt.Errorf("cold tier: %w", err)
	}
	defer lf.Close()
	fi, err := lf.Stat()
	if err != nil {
		return nil, fmt.Errorf("cold tier: %w", err)
	}
	size := fi.Size()
	base := filepath.Base(f.path)
	key := db.store().Key(collDirName(f.meta.Collection), f.meta.Group, c.level.String(), db.objectName(base))
	obj, err := db.store().Upload(ctx, key, lf, size)
	if err != nil {
		return nil, fmt.Errorf("cold tier: upload %s: %w", f.path, err)
	}
	up, err := db.uploaded(ctx, c, lf, size, coldEntry{Coll: f.meta.Collection, Group: f.meta.Group, Level: c.level,
		Name: base, Seq: f.meta.Seq, Key: key, Size: obj.Size, Checksum: obj.Checksum})
	if err != nil {
		// Not recorded: the object is of no use.
		db.deleteUnused(ctx, key)
		return nil, fmt.Errorf("cold tier: %s: %w", f.path, err)
	}
	return up, nil
}

// uploaded writes the index copy of an uploaded file and opens its cold
// replacement.
func (db *DB) uploaded(ctx context.Context, c tierCand, lf io.ReaderAt, size int64, e coldEntry) (*tierUpload, error) {
	if e.Size != size {
		return nil, fmt.Errorf("object %s has %d bytes, the file %d", db.coldName(e.Key), e.Size, size)
	}
	stub, err := stubFrom(ctx, lf, size, c.f.r.DataEnd())
	if err != nil {
		return nil, err
	}
	if err := db.writeStub(e.Seq, stub); err != nil {
		return nil, err
	}
	nf, err := db.coldDataFile(e, stub)
	if err != nil {
		db.fs.Remove(db.stubPath(e.Seq))
		return nil, err
	}
	return &tierUpload{cand: c, cold: nf}, nil
}

// deleteUnused deletes an object no list names, best effort: an object
// left behind is swept once retention expires it.
func (db *DB) deleteUnused(ctx context.Context, key string) {
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	if err := db.store().Delete(dctx, key); err != nil {
		db.log.Warn("cold tier: cannot delete an object no list names", "object", db.coldName(key), "err", err)
	}
}

// commitTier records a batch of uploads in the cold list and swaps them in
// for their local files, which it then removes. A file no longer in use
// (compacted, expired, replaced or dropped while it uploaded) is left out
// and its object deleted. It returns the files and bytes moved.
func (db *DB) commitTier(ctx context.Context, batch []*tierUpload) (int, int64, error) {
	if len(batch) == 0 {
		return 0, 0, nil
	}
	// Under flushMu nothing retires a file: every path that does holds
	// it, so a file not retired now stays in use until the swap.
	db.flushMu.Lock()
	defer db.flushMu.Unlock()
	var keep, drop []*tierUpload
	for _, up := range batch {
		if db.shut || up.cand.f.obsolete.Load() {
			drop = append(drop, up)
		} else {
			keep = append(keep, up)
		}
	}
	abandon := func(ups []*tierUpload) {
		for _, up := range ups {
			up.cold.close()
			db.fs.Remove(db.stubPath(up.cold.meta.Seq))
			db.deleteUnused(ctx, up.cold.cold.entry.Key)
		}
	}
	abandon(drop)
	if db.shut {
		return 0, 0, ErrClosed
	}
	if len(keep) == 0 {
		return 0, 0, nil
	}
	// The index copies are durable before the list names them.
	if err := db.fs.SyncDir(filepath.Join(db.dir, coldDir)); err != nil {
		abandon(keep)
		return 0, 0, fmt.Errorf("cold tier: %w", err)
	}
	db.coldMu.Lock()
	next := &coldList{id: db.coldList.id, entries: slices.Clone(db.coldList.entries)}
	for _, up := range keep {
		next.add(up.cold.cold.entry)
	}
	if err := db.saveColdList(next); err != nil {
		db.coldMu.Unlock()
		abandon(keep)
		return 0, 0, fmt.Errorf("cold tier: %w", err)
	}
	db.coldList = next
	db.coldMu.Unlock()

	db.mu.Lock()
	for _, up := range keep {
		db.swapCold(up.cand, up.cold)
	}
	db.mu.Unlock()
	var errs []error
	dirs := make(map[string]bool)
	var bytes int64
	for _, up := range keep {
		old := up.cand.f
		old.retire()
		if err := db.removeData(old.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("cold tier: remove %s: %w", old.path, err))
		}
		dirs[filepath.Dir(old.path)] = true
		bytes += up.cold.cold.entry.Size
		db.coldCnt.uploads.Add(1)
		db.coldCnt.uploadBytes.Add(up.cold.cold.entry.Size)
	}
	for d := range dirs {
		errs = append(errs, db.fs.SyncDir(d))
	}
	return len(keep), bytes, errors.Join(errs...)
}

// add inserts an entry by sequence number, replacing one of the same.
func (l *coldList) add(e coldEntry) {
	i, ok := l.find(e.Seq)
	if ok {
		l.entries[i] = e
		return
	}
	l.entries = slices.Insert(l.entries, i, e)
}

// swapCold puts the cold file nf in the place of the local file of c in
// the index. The caller holds mu.
func (db *DB) swapCold(c tierCand, nf *dataFile) {
	old := c.f
	if c.level != model.LevelRaw {
		cl := db.colls[old.meta.Collection]
		if cl == nil {
			return
		}
		g := db.groups[old.meta.Group].rollups[cl]
		if g == nil {
			return
		}
		for i, rf := range g.files[c.level] {
			if rf.dataFile == old {
				g.files[c.level][i] = &rollFile{dataFile: nf, level: c.level, part: rf.part}
			}
		}
		return
	}
	g := db.groups[old.meta.Group]
	k := partKey{old.meta.Collection, timex.FloorDiv(old.meta.MinTime, db.opts.PartitionDuration.Nanoseconds())}
	for i, f := range g.files[k] {
		if f == old {
			g.files[k][i] = nf
		}
	}
	if c := db.colls[old.meta.Collection]; c != nil {
		for i := range old.r.NumSeries() {
			if s := c.series[old.r.Key(i)]; s != nil {
				for i := range s.files {
					if s.files[i].f == old {
						s.files[i].f = nf
					}
				}
			}
		}
	}
}

// tierLoop is the background tierer: Tier every TierInterval, and soon
// after files left the cold list (their objects to delete).
func (db *DB) tierLoop() {
	defer close(db.tierDone)
	if db.store() == nil && !db.opts.ColdPending || db.opts.TierInterval < 0 {
		<-db.stop
		return
	}
	ctx, cancel := db.stopContext()
	defer cancel()
	tick := time.NewTicker(db.opts.TierInterval)
	defer tick.Stop()
	for {
		select {
		case <-db.stop:
			return
		case <-tick.C:
		case <-db.tierKick:
		}
		if _, err := db.tier(ctx, true); err != nil && ctx.Err() == nil && !errors.Is(err, ErrClosed) && !errors.Is(err, ErrColdUnreachable) {
			db.log.Error("cold tier run failed; files stay local and are tried again", "err", err)
		}
	}
}
