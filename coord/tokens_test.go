package coord

import (
	"errors"
	"slices"
	"strings"
	"testing"

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
