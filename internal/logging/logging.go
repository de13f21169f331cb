// Package logging builds scimgate's operational logger: log/slog as JSON
// (or text) lines, each line about a request carrying that request's id.
package logging

import (
	"context"
	"io"
	"log/slog"

	"github.com/scimgate/scimgate/config"
	"github.com/scimgate/scimgate/internal/requestid"
)

// RequestIDKey is the attribute that carries the request id.
const RequestIDKey = "request_id"

// New returns the logger the configuration describes, writing to w.
func New(c config.Log, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: c.Level}
	var h slog.Handler
	if c.Format == config.LogText {
		h = slog.NewTextHandler(w, opts)
	} else {
		h = slog.NewJSONHandler(w, opts)
	}
	return slog.New(WithRequestID(h))
}

// WithRequestID wraps h so that every record logged with a context that
// holds a request id (requestid.Middleware puts it there) gets a request_id
// attribute, unless the caller already gave one.
func WithRequestID(h slog.Handler) slog.Handler {
	return requestIDHandler{h}
}

type requestIDHandler struct{ slog.Handler }

func (h requestIDHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := requestid.From(ctx); id != "" && !hasAttr(r, RequestIDKey) {
		r.AddAttrs(slog.String(RequestIDKey, id))
	}
	return h.Handler.Handle(ctx, r)
}

func (h requestIDHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return requestIDHandler{h.Handler.WithAttrs(attrs)}
}

func (h requestIDHandler) WithGroup(name string) slog.Handler {
	return requestIDHandler{h.Handler.WithGroup(name)}
}

func hasAttr(r slog.Record, key string) bool {
	found := false
	r.Attrs(func(a slog.Attr) bool {
		found = a.Key == key
		return !found
	})
	return found
}
