package backup

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/soltixdb/soltix/storage"
)

// Source is what Sessions snapshots: a *storage.DB.
type Source interface {
	NumGroups() int
	ShardTag() string
	HeldGroups() []int
	SnapshotGroup(ctx context.Context, g int) (*storage.GroupSnapshot, error)
	Settings() map[string]storage.CollectionSettings
}

// Defaults of Options.
const (
	DefaultIdleTimeout = 10 * time.Minute
	DefaultMaxSessions = 2
)

// ErrBusy is returned by Sessions.Start when Options.MaxSessions
// snapshots are held already.
var ErrBusy = errors.New("too many backups in progress")

// ErrNotOwner is returned (wrapped) by Sessions.StartGroups when
// Options.Owns refuses a group: in a cluster, a node backs up only the
// groups it is the primary of.
var ErrNotOwner = errors.New("not this node's group")

// ErrNoGroup is returned (wrapped) by Sessions.StartGroups for a group
// out of range.
var ErrNoGroup = errors.New("no such group")

// ErrUnknown is returned for a snapshot id that is not (or no longer)
// held: never started, released, or idle past Options.IdleTimeout.
var ErrUnknown = errors.New("no such backup (released or timed out)")

// Options configures Sessions. The zero value is usable.
type Options struct {
	// IdleTimeout is how long a snapshot stays pinned with no request for
	// it before it is released (default DefaultIdleTimeout).
	IdleTimeout time.Duration
	// MaxSessions bounds the snapshots held at once (default
	// DefaultMaxSessions).
	MaxSessions int
	// Logger receives the sessions' logs (default slog.Default()).
	Logger *slog.Logger
	// Owns, when set, is asked about every group a backup is asked for
	// (StartGroups): an error (which should wrap ErrNotOwner) refuses the
	// backup. A cluster's storage node answers whether its map names it
	// the group's primary.
	Owns func(g int) error
}

// Sessions holds the snapshots of the backups in progress on one node.
// Its methods are safe for concurrent use.
type Sessions struct {
	src  Source
	opts Options
	log  *slog.Logger

	mu       sync.Mutex
	sessions map[string]*session
	starting int

	started, finished, failed, expired atomic.Uint64
}

// session is one held snapshot.
type session struct {
	man   Manifest
	snaps map[int]*storage.GroupSnapshot
	timer *time.Timer
}

// NewSessions returns the backup sessions of src.
func NewSessions(src Source, opts Options) *Sessions {
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = DefaultIdleTimeout
	}
	if opts.MaxSessions <= 0 {
		opts.MaxSessions = DefaultMaxSessions
	}
	s := &Sessions{src: src, opts: opts, log: opts.Logger, sessions: make(map[string]*session)}
	if s.log == nil {
		s.log = slog.Default()
	}
	return s
}

// Start snapshots every group the node holds and returns the manifest of
// the snapshot, its ID set; the snapshot stays pinned until Release, or
// until no request touched it for Options.IdleTimeout. Every write
// acknowledged before Start was called is in the snapshot.
func (s *Sessions) Start(ctx context.Context) (*Manifest, error) {
	return s.StartGroups(ctx, nil)
}

// StartGroups is Start for the groups given (nil: every group held). A
// group asked for that the node holds nothing of is left out of the
// manifest, as it would be from Start's; one out of range, or refused by
// Options.Owns, fails it.
func (s *Sessions) StartGroups(ctx context.Context, groups []int) (*Manifest, error) {
	started := time.Now().UTC()
	for _, g := range groups {
		if g < 0 || g >= s.src.NumGroups() {
			return nil, fmt.Errorf("backup: group %d outside [0, %d): %w", g, s.src.NumGroups(), ErrNoGroup)
		}
		if s.opts.Owns != nil {
			if err := s.opts.Owns(g); err != nil {
				return nil, fmt.Errorf("backup: group %d: %w", g, err)
			}
		}
	}
	s.mu.Lock()
	if len(s.sessions)+s.starting >= s.opts.MaxSessions {
		s.mu.Unlock()
		return nil, fmt.Errorf("%w (%d held; release one or wait %v for it to time out)", ErrBusy, s.opts.MaxSessions, s.opts.IdleTimeout)
	}
	s.starting++
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.starting--
		s.mu.Unlock()
	}()
	s.started.Add(1)
	sess := &session{snaps: make(map[int]*storage.GroupSnapshot)}
	man, err := s.snapshot(ctx, sess, started, groups)
	if err != nil {
		s.failed.Add(1)
		closeSnaps(sess.snaps)
		return nil, err
	}
	var id [16]byte
	rand.Read(id[:])
	man.ID = hex.EncodeToString(id[:])
	sess.man = *man
	s.mu.Lock()
	s.sessions[man.ID] = sess
	sess.timer = time.AfterFunc(s.opts.IdleTimeout, func() { s.expire(man.ID) })
	s.mu.Unlock()
	s.log.Info("backup snapshot taken", "id", man.ID, "groups", len(man.Groups), "files", man.fileCount(), "bytes", man.bytes())
	return man, nil
}

// snapshot snapshots the held groups into sess and lists their files.
func (s *Sessions) snapshot(ctx context.Context, sess *session, started time.Time, groups []int) (*Manifest, error) {
	man := &Manifest{Version: Version, Started: started, NumGroups: s.src.NumGroups(), ShardTag: s.src.ShardTag(),
		Groups: []Group{}}
	for _, g := range s.src.HeldGroups() {
		if groups != nil && !slices.Contains(groups, g) {
			continue
		}
		snap, err := s.src.SnapshotGroup(ctx, g)
		if err != nil {
			return nil, fmt.Errorf("backup: %w", err)
		}
		sess.snaps[g] = snap
	}
	// Settings after the snapshots: a collection the snapshots hold has
	// its settings listed.
	man.Settings = s.src.Settings()
	for _, g := range s.src.HeldGroups() {
		snap, ok := sess.snaps[g]
		if !ok {
			continue // a group first written after the backup point
		}
		grp := Group{Group: g}
		for _, f := range snap.Files() {
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("backup: %w", err)
			}
			rc, err := snap.Open(f.Path)
			if err != nil {
				return nil, fmt.Errorf("backup: group %d: %w", g, err)
			}
			n, sum, err := checksum(io.LimitReader(rc, f.Size+1))
			rc.Close()
			if err == nil && n != f.Size {
				err = fmt.Errorf("%d bytes, want %d", n, f.Size)
			}
			if err != nil {
				return nil, fmt.Errorf("backup: group %d: read %s: %w", g, f.Path, err)
			}
			grp.Files = append(grp.Files, File{Path: f.Path, Size: f.Size, CRC32C: sum})
		}
		man.Groups = append(man.Groups, grp)
	}
	man.Finished = time.Now().UTC()
	return man, nil
}

// Open opens one file of group g of the snapshot id, and counts as a use
// of the snapshot (its idle timeout starts again).
func (s *Sessions) Open(id string, g int, path string) (io.ReadCloser, File, error) {
	s.mu.Lock()
	sess, ok := s.sessions[id]
	if ok {
		sess.timer.Reset(s.opts.IdleTimeout)
	}
	s.mu.Unlock()
	if !ok {
		return nil, File{}, ErrUnknown
	}
	snap, ok := sess.snaps[g]
	var file File
	found := false
	for _, grp := range sess.man.Groups {
		if grp.Group != g {
			continue
		}
		for _, f := range grp.Files {
			if f.Path == path {
				file, found = f, true
			}
		}
	}
	if !ok || !found {
		return nil, File{}, fmt.Errorf("backup %s has no file %q in group %d: %w", id, path, g, ErrUnknown)
	}
	rc, err := snap.Open(path)
	return rc, file, err
}

// Release releases the snapshot id: its files may be removed again.
func (s *Sessions) Release(id string) error {
	s.mu.Lock()
	sess, ok := s.sessions[id]
	delete(s.sessions, id)
	s.mu.Unlock()
	if !ok {
		return ErrUnknown
	}
	sess.timer.Stop()
	s.finished.Add(1)
	s.log.Info("backup snapshot released", "id", id)
	return closeSnaps(sess.snaps)
}

// expire releases a snapshot that sat idle.
func (s *Sessions) expire(id string) {
	s.mu.Lock()
	sess, ok := s.sessions[id]
	delete(s.sessions, id)
	s.mu.Unlock()
	if !ok {
		return
	}
	s.expired.Add(1)
	s.log.Warn("backup snapshot released after its idle timeout", "id", id, "idle_timeout", s.opts.IdleTimeout)
	if err := closeSnaps(sess.snaps); err != nil {
		s.log.Warn("release backup snapshot", "id", id, "err", err)
	}
}

// Close releases every snapshot held; call it before closing the DB.
func (s *Sessions) Close() error {
	s.mu.Lock()
	all := s.sessions
	s.sessions = make(map[string]*session)
	s.mu.Unlock()
	var errs []error
	for _, sess := range all {
		sess.timer.Stop()
		errs = append(errs, closeSnaps(sess.snaps))
	}
	return errors.Join(errs...)
}

// Stats are the counters of Sessions since it was made.
type Stats struct {
	// Held is the number of snapshots held now.
	Held int
	// Started, Released, Failed and Expired count the backups begun,
	// released by their client, failed while snapshotting, and released
	// after their idle timeout.
	Started, Released, Failed, Expired uint64
}

// Stats returns the sessions' counters.
func (s *Sessions) Stats() Stats {
	s.mu.Lock()
	held := len(s.sessions)
	s.mu.Unlock()
	return Stats{Held: held, Started: s.started.Load(), Released: s.finished.Load(), Failed: s.failed.Load(), Expired: s.expired.Load()}
}

func closeSnaps(snaps map[int]*storage.GroupSnapshot) error {
	var errs []error
	for _, snap := range snaps {
		errs = append(errs, snap.Close())
	}
	return errors.Join(errs...)
}

func (m *Manifest) fileCount() int {
	n := 0
	for _, g := range m.Groups {
		n += len(g.Files)
	}
	return n
}

func (m *Manifest) bytes() int64 {
	var n int64
	for _, g := range m.Groups {
		for _, f := range g.Files {
			n += f.Size
		}
	}
	return n
}
