// Package audit writes the security and provisioning event stream: one
// structured record per event, kept apart from operational logs so it can be
// shipped and retained on its own terms.
package audit

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/scimgate/scimgate/internal/requestid"
)

// Event names. They are a stable interface: the README lists them.
const (
	CredentialCreated = "credential.created"
	CredentialRotated = "credential.rotated"
	CredentialRevoked = "credential.revoked"
	CredentialEnabled = "credential.enabled"
	CredentialDeleted = "credential.deleted"
	TokenIssued       = "token.issued"
	TokenRefused      = "token.refused"
	TokenRevoked      = "token.revoked"
	RefreshReuse      = "refresh.reuse_detected"
	AdminSignIn       = "admin.sign_in"
	AdminSignInFailed = "admin.sign_in_failed"
	ConsentGranted    = "consent.granted"
	GatewayRefused    = "gateway.refused"
	SCIMCreate        = "scim.create"
	SCIMUpdate        = "scim.update"
	SCIMDeactivate    = "scim.deactivate"
	SCIMDelete        = "scim.delete"
	KeyRotated        = "key.rotated"
	KeyRevoked        = "key.revoked"
)

// Logger records audit events. The zero value and nil discard them.
type Logger struct {
	l *slog.Logger // nil: discard
	w *lockedWriter
	// bufs hold events being encoded by appendEvent.
	bufs  sync.Pool    // *[]byte
	batch *batchWriter // nil: events are written as they are recorded
}

// lockedWriter serialises the writes of both of the Logger's encoders.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// NewBuffered writes events as JSON lines to w from a background
// goroutine, in batches, so that recording one costs the request no
// write: events keep their order, none is dropped (recording waits when
// 1 MiB of events wait), and each reaches w within a few milliseconds.
// Close writes what waits; call it before closing w.
func NewBuffered(w io.Writer) *Logger {
	b := newBatchWriter(w)
	a := New(b)
	a.batch = b
	return a
}

// Close writes the events that wait, for a Logger made by NewBuffered,
// and returns the first error writing them returned. Events recorded
// afterwards are written as they come.
func (a *Logger) Close() error {
	if a == nil || a.batch == nil {
		return nil
	}
	return a.batch.Close()
}

// New writes events as JSON lines to w, each as it is recorded.
func New(w io.Writer) *Logger {
	lw := &lockedWriter{w: w}
	a := &Logger{l: slog.New(newHandler(lw)), w: lw}
	a.bufs.New = func() any { return new([]byte) }
	return a
}

// newHandler is the slog handler of the event stream: JSON, the message
// as "event", no level.
func newHandler(w io.Writer) slog.Handler {
	return slog.NewJSONHandler(w, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.MessageKey {
				a.Key = "event"
			}
			if a.Key == slog.LevelKey {
				return slog.Attr{}
			}
			return a
		},
	})
}

// Record writes one event with the request id from ctx, if any. Callers pass
// identifiers and reasons only: never a secret, token or request body.
func (a *Logger) Record(ctx context.Context, event string, attrs ...slog.Attr) {
	if a == nil || a.l == nil {
		return
	}
	id := requestid.From(ctx)
	if plainAttrs(attrs) {
		buf := a.bufs.Get().(*[]byte)
		*buf = appendEvent((*buf)[:0], time.Now(), event, attrs, id)
		_, _ = a.w.Write(*buf)
		if cap(*buf) <= maxPooledEvent {
			a.bufs.Put(buf)
		}
		return
	}
	if id != "" {
		attrs = append(attrs, slog.String(requestIDKey, id))
	}
	a.l.LogAttrs(ctx, slog.LevelInfo, event, attrs...)
}
