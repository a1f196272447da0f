package coord

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
)

// PutSettings stores a collection's settings (settings/<collection>; the
// bytes are opaque to coord) with a plain put: the last writer wins, and
// every process's view applies it.
func (c *Coord) PutSettings(ctx context.Context, collection string, value []byte) error {
	if collection == "" {
		return errors.New("coord: settings: empty collection name")
	}
	if _, err := c.cli.Put(ctx, c.pfx+dirSettings+collection, string(value)); err != nil {
		return fmt.Errorf("coord: settings of %q: %w", collection, err)
	}
	return nil
}

// DeleteSettings removes a collection's settings.
func (c *Coord) DeleteSettings(ctx context.Context, collection string) error {
	if collection == "" {
		return errors.New("coord: settings: empty collection name")
	}
	if _, err := c.cli.Delete(ctx, c.pfx+dirSettings+collection); err != nil {
		return fmt.Errorf("coord: settings of %q: %w", collection, err)
	}
	return nil
}

// Settings returns every collection's settings as the view holds them
// (a copy).
func (c *Coord) Settings() map[string][]byte { return c.view.Settings() }

// Settings returns every collection's settings (a copy).
func (v *View) Settings() map[string][]byte {
	v.mu.Lock()
	defer v.mu.Unlock()
	return cloneSettings(v.settings)
}

func cloneSettings(m map[string][]byte) map[string][]byte {
	out := make(map[string][]byte, len(m))
	for k, b := range m {
		out[k] = bytes.Clone(b)
	}
	return out
}

// OnSettings calls fn with every collection's settings: once soon after
// the call, then after each change seen in etcd. Calls come one at a time
// from one goroutine (fn must not block for long); fn owns the map it is
// given. The returned func stops the calls (one already under way may
// still finish).
func (c *Coord) OnSettings(fn func(map[string][]byte)) (stop func()) {
	return c.view.OnSettings(fn)
}

// OnSettings is Coord.OnSettings.
func (v *View) OnSettings(fn func(map[string][]byte)) (stop func()) {
	return v.subscribe(&settingsSub{fn: fn})
}

// subscribe adds a subscriber of the settings or of the tokens.
func (v *View) subscribe(sub *settingsSub) (stop func()) {
	v.subsMu.Lock()
	id := v.nextSub
	v.nextSub++
	v.subs[id] = sub
	v.subsMu.Unlock()
	select {
	case v.setDirty <- struct{}{}:
	default:
	}
	return func() {
		v.subsMu.Lock()
		delete(v.subs, id)
		v.subsMu.Unlock()
	}
}

// dispatchSettings calls the subscribers that have not seen the current
// settings (or tokens), until Close.
func (v *View) dispatchSettings() {
	defer v.c.wg.Done()
	for {
		select {
		case <-v.c.ctx.Done():
			return
		case <-v.setDirty:
		}
		v.mu.Lock()
		// +1: a new subscriber (seen 0) is behind.
		setVer, settings := v.setVer+1, cloneSettings(v.settings)
		tokVer, tokens := v.tokVer+1, cloneSettings(v.tokens)
		v.mu.Unlock()
		v.subsMu.Lock()
		var due []*settingsSub
		for _, k := range slices.Sorted(maps.Keys(v.subs)) {
			s := v.subs[k]
			ver := setVer
			if s.tokens {
				ver = tokVer
			}
			if s.seen < ver {
				s.seen = ver
				due = append(due, s)
			}
		}
		v.subsMu.Unlock()
		for _, s := range due {
			if s.tokens {
				s.fn(cloneSettings(tokens))
			} else {
				s.fn(cloneSettings(settings))
			}
		}
	}
}
