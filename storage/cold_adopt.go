// Adopting the cold files of a lost node: a node whose local disk is gone
// left its cold files in the bucket; a new node takes them over.

package storage

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/storage/colfile"
)

// AdoptStats is what AdoptCold did.
type AdoptStats struct {
	// Files counts the objects adopted as cold files, Bytes their size.
	Files int
	Bytes int64
	// Superseded counts the objects of the id left out because another
	// object replaces them (a compaction's output, a newer file of the
	// same rollup partition), Expired those retention has expired.
	Superseded, Expired int
}

// AdoptCold takes over the cold files another DB left in the cold store,
// for a node whose local disk was lost: every object under the store's
// prefix whose name carries the DB id id (the 16 hex digits before
// ".col", from the lost node's object names) becomes a cold file of this
// DB, except those another of them replaces and those retention has
// expired. It refuses a DB that holds any data: adopt into an empty data
// directory, after setting the collections' settings. The adopted files
// are shared (only retention deletes their objects), and every rollup
// bucket of their collections is rebuilt by the next flush, from the
// finest level kept (which reads the adopted raw files' blocks once), as
// the lost node's local rollup files are gone with its disk. What was
// only local on the lost node (recent data, its WAL) is not recovered.
func (db *DB) AdoptCold(ctx context.Context, id string) (AdoptStats, error) {
	var st AdoptStats
	s := db.store()
	if s == nil {
		if db.opts.ColdPending {
			return st, ErrColdUnreachable
		}
		return st, ErrNoColdStore
	}
	if b, err := hex.DecodeString(id); err != nil || len(b) != 8 {
		return st, fmt.Errorf("adopt: id %q is not 16 hex digits", id)
	}
	db.tierMu.Lock()
	defer db.tierMu.Unlock()
	if files, _ := db.coldTotals(); len(db.HeldGroups()) > 0 || files > 0 {
		return st, errors.New("adopt: this node holds data already; adopt into an empty data directory")
	}
	prefix := s.Prefix()
	if prefix != "" {
		prefix += "/"
	}
	objs, err := s.List(ctx, prefix)
	if err != nil {
		return st, fmt.Errorf("adopt: %w", err)
	}
	type found struct {
		e     coldEntry
		stub  *coldStub
		df    *dataFile
		part  int64
		fseq  uint64 // the footer's sequence number (the lost node's)
		repls []uint64
		maxT  int64
	}
	var all []*found
	suffix := "-" + strings.ToLower(id) + ".col"
	for _, o := range objs {
		rel := strings.TrimPrefix(o.Key, prefix)
		parts := strings.Split(rel, "/")
		if len(parts) != 4 || !strings.HasSuffix(parts[3], suffix) || o.Size <= 0 {
			continue
		}
		l, ok := model.ParseLevel(parts[2])
		if !ok || l == model.Level1y {
			continue
		}
		if err := ctx.Err(); err != nil {
			return st, err
		}
		stub, err := db.fetchStub(ctx, s.Reader(o.Key, o.Size))
		if err != nil {
			return st, fmt.Errorf("adopt: %w", err)
		}
		name := strings.TrimSuffix(parts[3], suffix) + ".col"
		e := coldEntry{Level: l, Name: name, Seq: 1, Key: o.Key, Size: o.Size, Flags: coldShared}
		// The footer says whose file it is.
		r, err := colfile.NewReader(&coldReaderAt{db: db, key: o.Key, size: o.Size, stub: stub}, o.Size, db.coldName(o.Key))
		if err != nil {
			return st, fmt.Errorf("adopt: %w", err)
		}
		m := r.Meta()
		if m.Group < 0 || m.Group >= db.opts.NumGroups || parts[0] != collDirName(m.Collection) || parts[1] != fmt.Sprintf("group_%04d", m.Group) {
			return st, fmt.Errorf("adopt: object %s holds collection %q group %d", db.coldName(o.Key), m.Collection, m.Group)
		}
		e.Coll, e.Group = m.Collection, m.Group
		f := &found{e: e, stub: stub, fseq: m.Seq, repls: m.Replaces, maxT: m.MaxTime}
		if l != model.LevelRaw {
			_, f.part, ok = parseRollupPath(filepath.Join("rollup_"+levelNamesForDirs[l], name))
			if !ok {
				continue
			}
		}
		all = append(all, f)
	}
	// Superseded: raw files a compaction output lists, rollup files of a
	// partition with a newer one.
	replaced := make(map[string]bool)
	rkey := func(f *found) string {
		return fmt.Sprintf("%s\x00%d\x00%d\x00%d", f.e.Coll, f.e.Group, f.e.Level, f.part)
	}
	newest := make(map[string]uint64)
	for _, f := range all {
		for _, r := range f.repls {
			replaced[fmt.Sprintf("%s\x00%d\x00%d", f.e.Coll, f.e.Group, r)] = true
		}
		if f.e.Level != model.LevelRaw {
			newest[rkey(f)] = max(newest[rkey(f)], f.fseq)
		}
	}
	db.mu.RLock()
	horizon := func(coll string, l model.Level) int64 { return db.retentionHorizon(db.settingsOf(coll), l) }
	var keep []*found
	for _, f := range all {
		switch {
		case f.e.Level == model.LevelRaw && replaced[fmt.Sprintf("%s\x00%d\x00%d", f.e.Coll, f.e.Group, f.fseq)],
			f.e.Level != model.LevelRaw && newest[rkey(f)] != f.fseq:
			st.Superseded++
		case f.e.Level == model.LevelRaw && f.maxT < horizon(f.e.Coll, model.LevelRaw),
			f.e.Level != model.LevelRaw && partEnd(f.e.Level, f.part) < horizon(f.e.Coll, f.e.Level):
			st.Expired++
		default:
			keep = append(keep, f)
		}
	}
	db.mu.RUnlock()
	if len(keep) == 0 {
		return st, nil
	}
	// New numbers in the lost node's order: its last-write-wins order.
	sort.Slice(keep, func(i, j int) bool { return keep[i].fseq < keep[j].fseq })
	db.flushMu.Lock()
	defer db.flushMu.Unlock()
	if db.shut {
		return st, ErrClosed
	}
	colls := make(map[string]bool)
	for _, f := range keep {
		f.e.Seq = db.seq.Add(1)
		f.e.Name = partitionName(f.e.Name) + fmt.Sprintf("-%016d.col", f.e.Seq)
		if err := db.writeStub(f.e.Seq, f.stub); err != nil {
			return st, fmt.Errorf("adopt: %w", err)
		}
		if f.df, err = db.coldDataFile(f.e, f.stub); err != nil {
			return st, fmt.Errorf("adopt: %w", err)
		}
		colls[f.e.Coll] = true
	}
	if err := db.fs.SyncDir(filepath.Join(db.dir, coldDir)); err != nil {
		return st, fmt.Errorf("adopt: %w", err)
	}
	// The rollups are rebuilt, durably pending like an import's.
	db.mu.RLock()
	states := db.cloneRollStates()
	settings := db.settings
	db.mu.RUnlock()
	for coll := range colls {
		if db.settingsIn(settings, coll).NoRollups {
			continue
		}
		stt := states[coll]
		if stt == nil {
			stt = &rollupState{}
			states[coll] = stt
		}
		stt.pending = true
	}
	if err := db.saveSettings(settings, states); err != nil {
		return st, fmt.Errorf("adopt: %w", err)
	}
	db.coldMu.Lock()
	next := &coldList{id: db.coldList.id, entries: slices.Clone(db.coldList.entries)}
	for _, f := range keep {
		next.add(f.e)
	}
	err = db.saveColdList(next)
	if err == nil {
		db.coldList = next
	}
	db.coldMu.Unlock()
	if err != nil {
		return st, fmt.Errorf("adopt: %w", err)
	}
	db.mu.Lock()
	var rolls []*rollFile
	for _, f := range keep {
		if f.e.Level == model.LevelRaw {
			db.attachFile(f.df)
		} else {
			rolls = append(rolls, &rollFile{dataFile: f.df, level: f.e.Level, part: f.part})
		}
		st.Files++
		st.Bytes += f.e.Size
	}
	db.attachRollFiles(rolls, func(*dataFile) {})
	for coll := range colls {
		c := db.colls[coll]
		if st := states[coll]; st != nil && !c.settings.NoRollups {
			st.gen = db.rollGen
			db.setRollState(coll, st)
			db.markAll(c)
		}
	}
	db.mu.Unlock()
	db.log.Info("adopted cold files", "id", id, "files", st.Files, "bytes", st.Bytes, "superseded", st.Superseded, "expired", st.Expired)
	return st, nil
}
