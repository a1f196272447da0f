// Package reqid owns request ids: the id every HTTP request of Soltix
// carries in its context and its logs (the slog attribute request_id), how
// an incoming X-Request-Id is accepted or replaced, and the slog handler
// that adds the id of a context to every record logged with it. The router
// sends the id on to the storage nodes in the same header, so one id names a
// request in both roles' logs.
package reqid

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
)

// Header is the HTTP header that carries a request id, both ways.
const Header = "X-Request-Id"

// Attr is the slog attribute key of a request id.
const Attr = "request_id"

// MaxLen is the longest incoming id kept.
const MaxLen = 64

type ctxKey struct{}

// Valid reports whether an incoming id is kept as it is: 1 to MaxLen
// characters of [A-Za-z0-9._-].
func Valid(id string) bool {
	if id == "" || len(id) > MaxLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

// New returns a fresh id: 16 random bytes in hex.
func New() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return hex.EncodeToString(b[:])
}

// Accept returns incoming when Valid, otherwise a New id.
func Accept(incoming string) string {
	if Valid(incoming) {
		return incoming
	}
	return New()
}

// With returns ctx carrying id.
func With(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, ctxKey{}, id)
}

// From returns the id ctx carries ("" when none).
func From(ctx context.Context) string {
	id, _ := ctx.Value(ctxKey{}).(string)
	return id
}

// Handler wraps a slog.Handler so that every record logged with a context
// that carries a request id gains the attribute request_id.
func Handler(h slog.Handler) slog.Handler {
	if _, ok := h.(*handler); ok {
		return h
	}
	return &handler{h}
}

// Logger returns l with its handler wrapped by Handler.
func Logger(l *slog.Logger) *slog.Logger {
	if _, ok := l.Handler().(*handler); ok {
		return l
	}
	return slog.New(Handler(l.Handler()))
}

type handler struct{ slog.Handler }

func (h *handler) Handle(ctx context.Context, r slog.Record) error {
	if id := From(ctx); id != "" {
		r = r.Clone()
		r.AddAttrs(slog.String(Attr, id))
	}
	return h.Handler.Handle(ctx, r)
}

func (h *handler) WithAttrs(as []slog.Attr) slog.Handler {
	return &handler{h.Handler.WithAttrs(as)}
}

func (h *handler) WithGroup(name string) slog.Handler {
	return &handler{h.Handler.WithGroup(name)}
}
