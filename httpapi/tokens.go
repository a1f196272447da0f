package httpapi

// Tokens kept by the cluster: the TokenStore a router hands in (etcd
// behind it) and the admin routes that list, add and remove tokens.
// docs/security.md "Authentication and TLS" describes what users see.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/go-chi/chi/v5"
)

// TokenStore keeps tokens that can change while the server runs (a
// router's: the config file's and those stored in etcd). Its methods must
// be safe for concurrent use.
type TokenStore interface {
	// Tokens returns the tokens accepted now, the config file's first.
	// The caller does not modify the slice. None turns authentication off.
	Tokens() []Token
	// AddToken stores a token (Stored is ignored): an error wrapping
	// ErrTokenExists when its name is taken, ErrUnavailable-like errors
	// (storage.ErrUnavailable) when the store cannot be reached. Once it
	// returns, Tokens includes the token.
	AddToken(ctx context.Context, t Token) error
	// RemoveToken removes a stored token: ErrTokenNotFound when none has
	// the name, ErrTokenFixed when it comes from the config file,
	// ErrTokenLastAdmin when no other unlimited admin token would remain
	// (checked atomically with the removal, so concurrent removals
	// through several servers cannot remove them all). Once it returns,
	// Tokens no longer includes it.
	RemoveToken(ctx context.Context, name string) error
}

// Errors of a TokenStore.
var (
	ErrTokenExists   = errors.New("a token with this name exists")
	ErrTokenNotFound = errors.New("no such token")
	ErrTokenFixed    = errors.New("the token comes from the config file")
	// ErrTokenLastAdmin: the removal would leave no admin token limited
	// to no collection.
	ErrTokenLastAdmin = errors.New("it is the last admin token limited to no collection: add another before removing it")
)

// tokens returns the tokens accepted now.
func (s *server) tokens() []Token {
	if s.opts.TokenStore != nil {
		return s.opts.TokenStore.Tokens()
	}
	return s.opts.Tokens
}

// maxTokenBody bounds the body of POST /api/v1/admin/tokens.
const maxTokenBody = 64 << 10

// tokenSpec is the body of POST /api/v1/admin/tokens.
type tokenSpec struct {
	Name        string   `json:"name"`
	SHA256      string   `json:"sha256"`
	Scopes      []string `json:"scopes"`
	Collections []string `json:"collections"`
}

// decodeTokenSpec decodes and checks the body of POST
// /api/v1/admin/tokens.
func decodeTokenSpec(body []byte) (Token, error) {
	var sp tokenSpec
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&sp); err != nil {
		return Token{}, fmt.Errorf("body: %v", err)
	}
	if dec.More() {
		return Token{}, errors.New("body: more than one JSON value")
	}
	if err := validTokenName(sp.Name); err != nil {
		return Token{}, err
	}
	d, err := ParseDigest(sp.SHA256)
	if err != nil {
		return Token{}, err
	}
	t := Token{Name: sp.Name, Digest: d}
	if len(sp.Scopes) == 0 {
		return Token{}, errors.New("scopes: want one or more of read, write, admin")
	}
	for _, name := range sp.Scopes {
		sc, err := ParseScope(name)
		if err != nil {
			return Token{}, fmt.Errorf("scopes: %w", err)
		}
		t.Scopes |= sc
	}
	for _, c := range sp.Collections {
		if c == "" || len(c) > 255 {
			return Token{}, fmt.Errorf("collections: name of %d bytes: want 1 to 255", len(c))
		}
	}
	if len(sp.Collections) > 1000 {
		return Token{}, fmt.Errorf("collections: %d names: at most 1000", len(sp.Collections))
	}
	t.Collections = sp.Collections
	return t, nil
}

// validTokenName accepts 1-64 characters of A-Z a-z 0-9 . _ - (a stored
// token's name is part of an etcd key).
func validTokenName(s string) error {
	if s == "" || len(s) > 64 || s == "." || s == ".." || strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-')
	}) >= 0 {
		return fmt.Errorf("token name %q: want 1-64 characters of A-Z a-z 0-9 . _ -", s)
	}
	return nil
}

// keepsAdmin reports whether a set of tokens leaves the API manageable:
// it holds an admin token limited to no collection. The admin routes
// refuse changes that break it, so that nobody locks the cluster out of
// its own tokens, and removing tokens never turns authentication off.
func keepsAdmin(ts []Token) bool {
	return slices.ContainsFunc(ts, Token.UnlimitedAdmin)
}

// UnlimitedAdmin says whether t is an admin token limited to no
// collection: the kind that can manage tokens, of which one must remain.
func (t Token) UnlimitedAdmin() bool { return t.Scopes&ScopeAdmin != 0 && len(t.Collections) == 0 }

// appendTokenJSON appends {"name":..,"scopes":[..],"collections":[..],
// "source":"config"|"cluster"}: never the digest.
func appendTokenJSON(b []byte, t Token) []byte {
	b = append(b, `{"name":`...)
	b = appendJSONString(b, t.Name)
	b = append(b, `,"scopes":[`...)
	for i, sc := range strings.Split(t.Scopes.String(), ",") {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, sc)
	}
	b = append(b, `],"collections":[`...)
	for i, c := range t.Collections {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, c)
	}
	src := "config"
	if t.Stored {
		src = "cluster"
	}
	b = append(b, `],"source":`...)
	return append(appendJSONString(b, src), '}')
}

// adminTokens serves GET /api/v1/admin/tokens: every accepted token's
// name, scopes, collections and source, sorted by name.
func (s *server) adminTokens(w http.ResponseWriter, r *http.Request) {
	ts := slices.Clone(s.tokens())
	slices.SortStableFunc(ts, func(a, b Token) int { return strings.Compare(a.Name, b.Name) })
	b := []byte(`{"tokens":[`)
	for i, t := range ts {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendTokenJSON(b, t)
	}
	writeJSON(w, http.StatusOK, append(b, "]}\n"...))
}

// errNoTokenStore answers the changing token routes of soltix serve.
const errNoTokenStore = "tokens are changed in the config file (auth.tokens) on this server; the token routes change a cluster's tokens, through a router"

// adminAddToken serves POST /api/v1/admin/tokens: it stores a token given
// by its SHA-256 digest and answers 201 with its listing entry.
func (s *server) adminAddToken(w http.ResponseWriter, r *http.Request) {
	if s.opts.TokenStore == nil {
		writeError(w, http.StatusNotImplemented, errNoTokenStore)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxTokenBody))
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("token body: at most %d bytes: %v", maxTokenBody, err))
		return
	}
	t, err := decodeTokenSpec(body)
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad token: "+err.Error())
		return
	}
	s.tokensMu.Lock()
	defer s.tokensMu.Unlock()
	cur := s.tokens()
	for _, o := range cur {
		if o.Name == t.Name {
			writeError(w, http.StatusConflict, fmt.Sprintf("add token %q: %v", t.Name, ErrTokenExists))
			return
		}
		if o.Digest == t.Digest {
			writeError(w, http.StatusConflict, fmt.Sprintf("token %q has the same digest as token %q", t.Name, o.Name))
			return
		}
	}
	if !keepsAdmin(append(slices.Clone(cur), t)) {
		writeError(w, http.StatusConflict, "the first token must be an admin token limited to no collection: it turns authentication on, and only such a token can manage tokens")
		return
	}
	if err := s.opts.TokenStore.AddToken(r.Context(), t); err != nil {
		s.tokenStoreError(w, r, "add token", t.Name, err)
		return
	}
	s.log.InfoContext(r.Context(), "token added", "name", t.Name, "scopes", t.Scopes.String(), "collections", t.Collections)
	t.Stored = true
	writeJSON(w, http.StatusCreated, append(appendTokenJSON(nil, t), '\n'))
}

// adminRemoveToken serves DELETE /api/v1/admin/tokens/{name}: 204.
func (s *server) adminRemoveToken(w http.ResponseWriter, r *http.Request) {
	if s.opts.TokenStore == nil {
		writeError(w, http.StatusNotImplemented, errNoTokenStore)
		return
	}
	name := chi.URLParam(r, "name")
	if err := validTokenName(name); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	s.tokensMu.Lock()
	defer s.tokensMu.Unlock()
	rest := slices.DeleteFunc(slices.Clone(s.tokens()), func(t Token) bool { return t.Name == name && t.Stored })
	if !keepsAdmin(rest) {
		writeError(w, http.StatusConflict, fmt.Sprintf("token %q is the last admin token limited to no collection: add another before removing it", name))
		return
	}
	if err := s.opts.TokenStore.RemoveToken(r.Context(), name); err != nil {
		s.tokenStoreError(w, r, "remove token", name, err)
		return
	}
	s.log.InfoContext(r.Context(), "token removed", "name", name)
	w.WriteHeader(http.StatusNoContent)
}

// tokenStoreError answers a TokenStore's error.
func (s *server) tokenStoreError(w http.ResponseWriter, r *http.Request, what, name string, err error) {
	switch {
	case errors.Is(err, ErrTokenExists), errors.Is(err, ErrTokenFixed), errors.Is(err, ErrTokenLastAdmin):
		writeError(w, http.StatusConflict, fmt.Sprintf("%s %q: %v", what, name, err))
	case errors.Is(err, ErrTokenNotFound):
		writeError(w, http.StatusNotFound, fmt.Sprintf("%s %q: %v", what, name, err))
	default:
		code, msg := storeErrorStatus(err)
		if code == http.StatusInternalServerError {
			s.log.ErrorContext(r.Context(), what, "name", name, "err", err)
		}
		writeError(w, code, fmt.Sprintf("%s %q: %s", what, name, msg))
	}
}
