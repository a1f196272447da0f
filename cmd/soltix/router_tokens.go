package main

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/soltixdb/soltix/coord"
	"github.com/soltixdb/soltix/httpapi"
	"github.com/soltixdb/soltix/storage"
)

// routerTokens is a router's httpapi.TokenStore: the config file's
// tokens, then the cluster's (etcd's tokens/<name>, followed live). A
// cluster token named like a config token is left out (and logged).
type routerTokens struct {
	co    *coord.Coord
	view  *coord.View
	log   *slog.Logger
	fixed []httpapi.Token

	cur   atomic.Pointer[[]httpapi.Token]
	mu    sync.Mutex // refresh
	unsub func()
}

func newRouterTokens(co *coord.Coord, view *coord.View, fixed []httpapi.Token, log *slog.Logger) *routerTokens {
	t := &routerTokens{co: co, view: view, log: log, fixed: fixed}
	t.refresh(co.Tokens(), false)
	t.unsub = co.OnTokens(func(rs []coord.TokenRecord) { t.refresh(rs, true) })
	return t
}

func (t *routerTokens) close() { t.unsub() }

// refresh installs the config tokens followed by records; logBad says
// whether to log the records left out.
func (t *routerTokens) refresh(rs []coord.TokenRecord, logBad bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := slices.Clone(t.fixed)
	for _, r := range rs {
		tok, err := tokenOfRecord(r)
		if err == nil && slices.ContainsFunc(out, func(o httpapi.Token) bool { return o.Name == tok.Name || o.Digest == tok.Digest }) {
			err = errors.New("its name or digest is a config file token's")
		}
		if err != nil {
			if logBad {
				t.log.Warn("ignoring a cluster token", "name", r.Name, "err", err)
			}
			continue
		}
		out = append(out, tok)
	}
	t.cur.Store(&out)
}

// tokenOfRecord converts a stored token.
func tokenOfRecord(r coord.TokenRecord) (httpapi.Token, error) {
	d, err := httpapi.ParseDigest(r.SHA256)
	if err != nil {
		return httpapi.Token{}, err
	}
	tok := httpapi.Token{Name: r.Name, Digest: d, Collections: r.Collections, Stored: true}
	for _, s := range r.Scopes {
		sc, err := httpapi.ParseScope(s)
		if err != nil {
			return httpapi.Token{}, err
		}
		tok.Scopes |= sc
	}
	return tok, nil
}

// Tokens implements httpapi.TokenStore.
func (t *routerTokens) Tokens() []httpapi.Token { return *t.cur.Load() }

// AddToken implements httpapi.TokenStore: a create in etcd, then this
// router's view catches up so that the next request here sees it.
func (t *routerTokens) AddToken(ctx context.Context, tok httpapi.Token) error {
	if slices.ContainsFunc(t.fixed, func(o httpapi.Token) bool { return o.Name == tok.Name }) {
		return httpapi.ErrTokenExists
	}
	var scopes []string
	for _, s := range []httpapi.Scope{httpapi.ScopeRead, httpapi.ScopeWrite, httpapi.ScopeAdmin} {
		if tok.Scopes&s != 0 {
			scopes = append(scopes, s.String())
		}
	}
	r := coord.TokenRecord{Name: tok.Name, SHA256: hex.EncodeToString(tok.Digest[:]), Scopes: scopes, Collections: tok.Collections}
	if err := t.co.PutToken(ctx, r); err != nil {
		if errors.Is(err, coord.ErrTokenExists) {
			return httpapi.ErrTokenExists
		}
		return fmt.Errorf("%w: %w", storage.ErrUnavailable, err)
	}
	return t.catchUp(ctx)
}

// RemoveToken implements httpapi.TokenStore.
func (t *routerTokens) RemoveToken(ctx context.Context, name string) error {
	if slices.ContainsFunc(t.fixed, func(o httpapi.Token) bool { return o.Name == name }) {
		return httpapi.ErrTokenFixed
	}
	var ok bool
	var err error
	if slices.ContainsFunc(t.fixed, httpapi.Token.UnlimitedAdmin) {
		ok, err = t.co.DeleteToken(ctx, name)
	} else {
		// The check that an unlimited admin token remains and the removal
		// are one transaction: two routers removing the last two at once
		// cannot both succeed.
		ok, err = t.co.DeleteTokenKeeping(ctx, name, t.countsAsAdmin)
	}
	if errors.Is(err, coord.ErrTokenLast) {
		return httpapi.ErrTokenLastAdmin
	}
	if err != nil {
		return fmt.Errorf("%w: %w", storage.ErrUnavailable, err)
	}
	if !ok {
		return httpapi.ErrTokenNotFound
	}
	return t.catchUp(ctx)
}

// countsAsAdmin says whether a stored token is one refresh installs as an
// unlimited admin token.
func (t *routerTokens) countsAsAdmin(r coord.TokenRecord) bool {
	tok, err := tokenOfRecord(r)
	return err == nil && tok.UnlimitedAdmin() &&
		!slices.ContainsFunc(t.fixed, func(o httpapi.Token) bool { return o.Name == tok.Name || o.Digest == tok.Digest })
}

// catchUp makes this router's tokens as new as etcd's.
func (t *routerTokens) catchUp(ctx context.Context) error {
	if err := t.view.RefreshContext(ctx); err != nil {
		return fmt.Errorf("%w: %w", storage.ErrUnavailable, err)
	}
	t.refresh(t.co.Tokens(), false)
	return nil
}

var _ httpapi.TokenStore = (*routerTokens)(nil)
