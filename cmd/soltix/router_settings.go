package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/soltixdb/soltix/coord"
	"github.com/soltixdb/soltix/storage"
)

// routerSettings are a router's collection settings: kept in etcd,
// decoded once per change for the write path, and pushed to the storage
// nodes when the router changes them.
type routerSettings struct {
	co   *coord.Coord
	view *coord.View
	log  *slog.Logger
	hc   *http.Client // HTTP/2 to the storage nodes (remote.NewInternalClient)

	cur   atomic.Pointer[map[string]storage.CollectionSettings]
	mu    sync.Mutex // refresh
	unsub func()
}

// syncTimeout bounds a settings change's wait for the storage nodes.
const syncTimeout = 30 * time.Second

func newRouterSettings(co *coord.Coord, view *coord.View, hc *http.Client, log *slog.Logger) *routerSettings {
	s := &routerSettings{co: co, view: view, log: log, hc: hc}
	s.refresh()
	s.unsub = co.OnSettings(func(map[string][]byte) { s.refresh() })
	return s
}

// refresh decodes the settings the view holds now.
func (s *routerSettings) refresh() {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := decodeAllSettings(s.co.Settings(), s.log)
	s.cur.Store(&m)
}

func (s *routerSettings) close() { s.unsub() }

// CollectionSettings returns a collection's settings (the defaults when
// etcd has none for it).
func (s *routerSettings) CollectionSettings(collection string) storage.CollectionSettings {
	return (*s.cur.Load())[collection]
}

// Settings returns the settings of every collection that has some of its
// own.
func (s *routerSettings) Settings() map[string]storage.CollectionSettings {
	return maps.Clone(*s.cur.Load())
}

// SetSettings stores a collection's settings in etcd (the defaults delete
// its key), then asks every storage node that is up to apply them before
// it returns, so that the next request sees them everywhere. A node that
// cannot be reached applies them from etcd when it is back.
func (s *routerSettings) SetSettings(ctx context.Context, collection string, cs storage.CollectionSettings) error {
	if err := cs.Validate(); err != nil {
		return err
	}
	var err error
	if cs == (storage.CollectionSettings{}) {
		err = s.co.DeleteSettings(ctx, collection)
	} else {
		err = s.co.PutSettings(ctx, collection, encodeSettings(cs))
	}
	if err != nil {
		return fmt.Errorf("%w: %w", storage.ErrUnavailable, err)
	}
	if err := s.view.RefreshContext(ctx); err != nil {
		return fmt.Errorf("%w: %w", storage.ErrUnavailable, err)
	}
	s.refresh()
	return s.syncNodes(ctx)
}

// syncNodes asks every storage node that is up to apply etcd's settings
// (settingsSyncPath) and waits for their answers.
func (s *routerSettings) syncNodes(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, syncTimeout)
	defer cancel()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	for _, n := range s.view.Map().Nodes {
		if !n.Up {
			continue
		}
		wg.Go(func() {
			err := s.syncNode(ctx, n.Addr)
			if err == nil {
				return
			}
			var unreachable *unreachableError
			if errors.As(err, &unreachable) {
				s.log.Warn("storage node unreachable; it applies the settings from etcd when back", "node", n.ID, "err", err)
				return
			}
			mu.Lock()
			errs = append(errs, fmt.Errorf("node %s: %w", n.ID, err))
			mu.Unlock()
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		return fmt.Errorf("%w: settings stored in etcd but not applied: %w", storage.ErrUnavailable, errors.Join(errs...))
	}
	return nil
}

// unreachableError is a node that did not answer.
type unreachableError struct{ err error }

func (e *unreachableError) Error() string { return e.err.Error() }

func (s *routerSettings) syncNode(ctx context.Context, addr string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, addr+settingsSyncPath, nil)
	if err != nil {
		return err
	}
	resp, err := s.hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return err
		}
		return &unreachableError{err}
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusNoContent {
		return fmt.Errorf("settings sync: %d %s", resp.StatusCode, body)
	}
	return nil
}
