// groups.json: what this DB records durably about each group outside its
// files — the sequence number of its last drop (group_drop.go), the epoch
// at which this node last held it, a floor for LastSeq (group.go), and
// its replication position as of the last flush (applied.go).

package storage

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
)

// groupsFileName is the file, at the top of the data directory, that
// records the groups' drops, epochs and last sequence numbers.
const groupsFileName = "groups.json"

// ErrEpochBackwards is returned (wrapped) by SetGroupEpoch for an epoch
// below the one recorded for the group.
var ErrEpochBackwards = errors.New("group epoch goes backwards")

// groupsFile is groups.json. Every map is keyed by group number in
// decimal; a group a map does not list has 0 there. Versions before
// epochs and last_seq existed wrote only dropped, and ignore the other
// keys when they read a newer file.
type groupsFile struct {
	// Dropped maps a group to the sequence number its last DropGroup
	// took: the group's data with a lower sequence number, in files or in
	// the WAL, is gone.
	Dropped map[string]uint64 `json:"dropped"`
	// Epochs maps a group to the last epoch SetGroupEpoch recorded for it.
	Epochs map[string]uint64 `json:"epochs,omitempty"`
	// LastSeq maps a group to LastSeq as the last flush saw it, written
	// before the flush removes WAL segments: Open starts LastSeq there.
	LastSeq map[string]uint64 `json:"last_seq,omitempty"`
	// Applied maps a group to its replication position (Applied) as of
	// the last flush's rotation of the WAL, written before the flush
	// removes WAL segments: Open starts there, and the applied records
	// the WAL still holds move it on. Only format 4 directories have it.
	Applied map[string]uint64 `json:"applied,omitempty"`
}

// groupsMeta is the content of groups.json, by group number.
type groupsMeta struct {
	dropped, epochs, lastSeq, applied []uint64
}

func newGroupsMeta(n int) groupsMeta {
	return groupsMeta{dropped: make([]uint64, n), epochs: make([]uint64, n), lastSeq: make([]uint64, n),
		applied: make([]uint64, n)}
}

func (m groupsMeta) clone() groupsMeta {
	return groupsMeta{dropped: slices.Clone(m.dropped), epochs: slices.Clone(m.epochs), lastSeq: slices.Clone(m.lastSeq),
		applied: slices.Clone(m.applied)}
}

// loadGroupsMeta reads groups.json, if there is one, into the groups. The
// caller has the DB to itself.
func (db *DB) loadGroupsMeta() error {
	m := newGroupsMeta(len(db.groups))
	db.groupsMeta = m
	path := filepath.Join(db.dir, groupsFileName)
	b, err := db.readFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	var f groupsFile
	if err := json.Unmarshal(b, &f); err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	for _, part := range []struct {
		from map[string]uint64
		to   []uint64
	}{{f.Dropped, m.dropped}, {f.Epochs, m.epochs}, {f.LastSeq, m.lastSeq}, {f.Applied, m.applied}} {
		for k, v := range part.from {
			g, err := strconv.Atoi(k)
			if err != nil || g < 0 || g >= len(db.groups) {
				return fmt.Errorf("read %s: group %q is not one of the %d groups", path, k, len(db.groups))
			}
			part.to[g] = v
		}
	}
	for g, gr := range db.groups {
		if seq := m.dropped[g]; seq > 0 {
			gr.dropSeq = seq
			db.lastDrop = max(db.lastDrop, seq)
		}
		gr.noteSeq(m.lastSeq[g])
		gr.applied = m.applied[g]
		// Sequence numbers must stay above every drop and LastSeq, also
		// when no file or WAL record holds a higher one any more.
		db.bumpSeq(max(m.dropped[g], m.lastSeq[g]))
	}
	return nil
}

// saveGroupsMeta writes m as groups.json and makes it the recorded
// content. The caller holds groupsMu.
func (db *DB) saveGroupsMeta(m groupsMeta) error {
	f := groupsFile{Dropped: make(map[string]uint64)}
	for _, part := range []struct {
		from []uint64
		to   *map[string]uint64
	}{{m.dropped, &f.Dropped}, {m.epochs, &f.Epochs}, {m.lastSeq, &f.LastSeq}, {m.applied, &f.Applied}} {
		for g, v := range part.from {
			if v == 0 {
				continue
			}
			if *part.to == nil {
				*part.to = make(map[string]uint64)
			}
			(*part.to)[strconv.Itoa(g)] = v
		}
	}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	if err := db.writeFileSync(filepath.Join(db.dir, groupsFileName), b); err != nil {
		return err
	}
	db.groupsMeta = m
	return nil
}

// saveDropped records in groups.json that group g's drop took sequence
// number seq, and that its replication position is 0 again.
func (db *DB) saveDropped(g int, seq uint64) error {
	db.groupsMu.Lock()
	defer db.groupsMu.Unlock()
	if err := db.requireGroupsFormat(); err != nil {
		return err
	}
	m := db.groupsMeta.clone()
	m.dropped[g] = seq
	m.applied[g] = 0
	return db.saveGroupsMeta(m)
}

// saveLastSeqs records in groups.json every group's LastSeq that is above
// the one recorded, and applied, the groups' replication positions when
// the flush rotated the WAL. A flush calls it before it removes WAL
// segments, so that a restart does not lose the numbers of the deletes
// (and the batches) those segments held, nor the positions of the applied
// records among them. The caller holds flushMu.
func (db *DB) saveLastSeqs(applied []uint64) error {
	db.mu.RLock()
	seqs := make([]uint64, len(db.groups))
	for g, gr := range db.groups {
		seqs[g] = gr.lastSeq
	}
	db.mu.RUnlock()
	db.groupsMu.Lock()
	defer db.groupsMu.Unlock()
	if slices.Equal(seqs, db.groupsMeta.lastSeq) && slices.Equal(applied, db.groupsMeta.applied) {
		return nil
	}
	m := db.groupsMeta.clone()
	for g, seq := range seqs {
		m.lastSeq[g] = max(m.lastSeq[g], seq)
	}
	copy(m.applied, applied)
	if err := db.saveGroupsMeta(m); err != nil {
		return fmt.Errorf("save last sequence numbers: %w", err)
	}
	return nil
}

// SetGroupEpoch records, durably (in groups.json, fsynced), that this node
// holds group g at epoch: the epoch of the cluster map at which it became
// the group's owner. Epochs only go forward: an epoch below the one
// recorded fails with ErrEpochBackwards and changes nothing; the one
// recorded again is a no-op. DropGroup keeps the epoch, so a node that
// gives a group away and later receives it again still refuses the old
// epoch.
func (db *DB) SetGroupEpoch(g int, epoch uint64) error {
	if err := db.checkGroup(g); err != nil {
		return err
	}
	db.mu.RLock()
	closed := db.closed
	db.mu.RUnlock()
	if closed {
		return ErrClosed
	}
	db.groupsMu.Lock()
	defer db.groupsMu.Unlock()
	cur := db.groupsMeta.epochs[g]
	if epoch < cur {
		return fmt.Errorf("group %d: epoch %d is below the recorded %d: %w", g, epoch, cur, ErrEpochBackwards)
	}
	if epoch == cur {
		return nil
	}
	m := db.groupsMeta.clone()
	m.epochs[g] = epoch
	if err := db.saveGroupsMeta(m); err != nil {
		return fmt.Errorf("group %d: record epoch %d: %w", g, epoch, err)
	}
	return nil
}

// GroupEpoch returns the last epoch SetGroupEpoch recorded for group g (0:
// none, or g outside [0, NumGroups)).
func (db *DB) GroupEpoch(g int) uint64 {
	if db.checkGroup(g) != nil {
		return 0
	}
	db.groupsMu.Lock()
	defer db.groupsMu.Unlock()
	return db.groupsMeta.epochs[g]
}
