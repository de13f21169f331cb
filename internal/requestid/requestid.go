// Package requestid gives every HTTP request an id that appears on each log
// line about it and travels upstream as X-Request-Id.
package requestid

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"net/http"
)

// Header carries the id in both directions.
const Header = "X-Request-Id"

type ctxKey struct{}

// idContext is a request's context with its id: the one allocation that
// adds the id, its header value included.
type idContext struct {
	context.Context
	id     string
	header [1]string // X-Request-Id of the response
}

func (c *idContext) Value(key any) any {
	if key == (ctxKey{}) {
		return c
	}
	return c.Context.Value(key)
}

// From returns the request id stored in ctx, or "".
func From(ctx context.Context) string {
	if c, ok := ctx.Value(ctxKey{}).(*idContext); ok {
		return c.id
	}
	return ""
}

// With returns ctx carrying id.
func With(ctx context.Context, id string) context.Context {
	return withID(ctx, id)
}

func withID(ctx context.Context, id string) *idContext {
	return &idContext{Context: ctx, id: id, header: [1]string{id}}
}

// New returns a fresh random id.
func New() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// Middleware assigns each request an id — the caller's X-Request-Id when it
// is short and printable (so a trace can start at a load balancer), a fresh
// one otherwise — stores it in the context and echoes it in the response.
func Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(Header)
		if !acceptable(id) {
			id = New()
		}
		ctx := withID(r.Context(), id)
		w.Header()[Header] = ctx.header[:]
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

func acceptable(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' || c == '_' || c == '.' || c == ':') {
			return false
		}
	}
	return true
}
