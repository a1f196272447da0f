package coord

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/soltixdb/soltix/internal/etcdtest"
)

// TestTokensWatch: a token put by one process reaches every process's
// OnTokens and Tokens, a second put of the name is refused, a deletion
// reaches them too, and settings subscribers are not called for tokens.
func TestTokensWatch(t *testing.T) {
	srv := etcdtest.Start(t)
	a := open(t, srv, Config{})
	b := open(t, srv, Config{})
	ctx := testCtx(t)
	got := make(chan []TokenRecord, 16)
	defer b.OnTokens(func(rs []TokenRecord) { got <- rs })()
	settingsCalls := make(chan map[string][]byte, 16)
	defer b.OnSettings(func(m map[string][]byte) { settingsCalls <- m })()
	next := func() []TokenRecord {
		select {
		case rs := <-got:
			return rs
		case <-ctx.Done():
			t.Fatal("no tokens call")
			return nil
		}
	}
	if rs := next(); len(rs) != 0 {
		t.Fatalf("first call: %v, want none", rs)
	}
	<-settingsCalls // a new subscriber's first call
	ci := TokenRecord{Name: "ci", SHA256: strings.Repeat("ab", 32), Scopes: []string{"write"}, Collections: []string{"cpu"}}
	if err := a.PutToken(ctx, ci); err != nil {
		t.Fatal(err)
	}
	if rs := next(); len(rs) != 1 || rs[0].Name != "ci" || rs[0].SHA256 != ci.SHA256 ||
		!slices.Equal(rs[0].Scopes, ci.Scopes) || !slices.Equal(rs[0].Collections, ci.Collections) {
		t.Fatalf("after put: %+v", rs)
	}
	if rs := b.Tokens(); len(rs) != 1 || rs[0].Name != "ci" {
		t.Fatalf("Tokens() = %+v", rs)
	}
	dup := ci
	dup.SHA256 = strings.Repeat("cd", 32)
	if err := b.PutToken(ctx, dup); !errors.Is(err, ErrTokenExists) {
		t.Fatalf("second put of ci: %v, want ErrTokenExists", err)
	}
	if ok, err := b.DeleteToken(ctx, "ci"); err != nil || !ok {
		t.Fatalf("delete: %v %v", ok, err)
	}
	if rs := next(); len(rs) != 0 {
		t.Fatalf("after delete: %+v", rs)
	}
	if ok, err := a.DeleteToken(ctx, "ci"); err != nil || ok {
		t.Fatalf("second delete: %v %v, want false", ok, err)
	}
	select {
	case m := <-settingsCalls:
		t.Fatalf("settings subscriber called for a token change: %v", m)
	default:
	}
}

// TestPutTokenRefuses: bad records never reach etcd.
func TestPutTokenRefuses(t *testing.T) {
	srv := etcdtest.Start(t)
	c := open(t, srv, Config{})
	good := TokenRecord{Name: "x", SHA256: strings.Repeat("0f", 32), Scopes: []string{"read"}}
	for _, tc := range []struct {
		name string
		edit func(*TokenRecord)
	}{
		{"empty name", func(r *TokenRecord) { r.Name = "" }},
		{"slash in name", func(r *TokenRecord) { r.Name = "a/b" }},
		{"short digest", func(r *TokenRecord) { r.SHA256 = "abcd" }},
		{"uppercase digest", func(r *TokenRecord) { r.SHA256 = strings.Repeat("0F", 32) }},
		{"no scopes", func(r *TokenRecord) { r.Scopes = nil }},
	} {
		r := good
		tc.edit(&r)
		if err := c.PutToken(testCtx(t), r); err == nil {
			t.Errorf("%s: accepted", tc.name)
		}
	}
	if rs := c.Tokens(); len(rs) != 0 {
		t.Fatalf("tokens stored: %+v", rs)
	}
}

// TestDeleteTokenKeepingRace: two processes removing the last two admin
// tokens at the same time, both having read the tokens before either
// commits (the hook holds each until the other has read): exactly one
// removal succeeds, the other is refused with ErrTokenLast, and one admin
// token remains in etcd. Removing a token that keep does not count, or
// one of three, is not refused.
func TestDeleteTokenKeepingRace(t *testing.T) {
	srv := etcdtest.Start(t)
	a := open(t, srv, Config{})
	b := open(t, srv, Config{})
	ctx := testCtx(t)
	isAdmin := func(r TokenRecord) bool { return slices.Contains(r.Scopes, "admin") && len(r.Collections) == 0 }
	put := func(name string, scopes ...string) {
		t.Helper()
		r := TokenRecord{Name: name, SHA256: digestOf(name), Scopes: scopes}
		if err := a.PutToken(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	for round := range 5 {
		x, y := fmt.Sprintf("x%d", round), fmt.Sprintf("y%d", round)
		put(x, "admin")
		put(y, "admin")
		var read sync.WaitGroup
		read.Add(2)
		for _, c := range []*Coord{a, b} {
			var once sync.Once
			c.tokenTxnHook = func() {
				once.Do(func() {
					read.Done()
					read.Wait()
				})
			}
		}
		errs := make([]error, 2)
		oks := make([]bool, 2)
		var done sync.WaitGroup
		for i, job := range []struct {
			c    *Coord
			name string
		}{{a, x}, {b, y}} {
			done.Add(1)
			go func() {
				defer done.Done()
				oks[i], errs[i] = job.c.DeleteTokenKeeping(ctx, job.name, isAdmin)
			}()
		}
		done.Wait()
		won, refused := 0, 0
		for i := range 2 {
			switch {
			case errs[i] == nil && oks[i]:
				won++
			case errors.Is(errs[i], ErrTokenLast):
				refused++
			default:
				t.Fatalf("round %d: removal %d: %v %v", round, i, oks[i], errs[i])
			}
		}
		if won != 1 || refused != 1 {
			t.Fatalf("round %d: %d removals succeeded and %d were refused, want 1 and 1", round, won, refused)
		}
		resp, err := a.cli.Get(ctx, a.pfx+dirTokens, clientv3.WithPrefix(), clientv3.WithCountOnly())
		if err != nil || resp.Count != 1 {
			t.Fatalf("round %d: %v tokens left (%v), want 1", round, resp.Count, err)
		}
		// Clean up for the next round: the survivor goes once another is there.
		put("spare", "admin")
		for _, n := range []string{x, y} {
			if _, err := a.DeleteTokenKeeping(ctx, n, isAdmin); err != nil {
				t.Fatalf("round %d: remove %s with a spare: %v", round, n, err)
			}
		}
		if ok, err := a.DeleteToken(ctx, "spare"); err != nil || !ok {
			t.Fatal(ok, err)
		}
	}
	a.tokenTxnHook, b.tokenTxnHook = nil, nil

	put("admin1", "admin")
	put("reader", "read")
	if _, err := a.DeleteTokenKeeping(ctx, "admin1", isAdmin); !errors.Is(err, ErrTokenLast) {
		t.Fatalf("removing the only admin: %v, want ErrTokenLast", err)
	}
	if ok, err := a.DeleteTokenKeeping(ctx, "reader", isAdmin); err != nil || !ok {
		t.Fatalf("removing a reader: %v %v", ok, err)
	}
	if ok, err := a.DeleteTokenKeeping(ctx, "nosuch", isAdmin); err != nil || ok {
		t.Fatalf("removing a missing token: %v %v, want false", ok, err)
	}
}

// digestOf is a distinct digest per name.
func digestOf(name string) string {
	d := sha256.Sum256([]byte(name))
	return hex.EncodeToString(d[:])
}
