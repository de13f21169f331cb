package logging

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/scimgate/scimgate/config"
	"github.com/scimgate/scimgate/internal/requestid"
)

func TestRequestIDOnEveryLineAboutARequest(t *testing.T) {
	ctx := requestid.With(context.Background(), "req-1")
	for name, c := range map[string]struct {
		log  func(*slog.Logger)
		want string // the request_id, or "" for none
	}{
		"with context":          {func(l *slog.Logger) { l.InfoContext(ctx, "hello", "a", 1) }, "req-1"},
		"derived logger":        {func(l *slog.Logger) { l.With("component", "x").WarnContext(ctx, "hello") }, "req-1"},
		"in a group":            {func(l *slog.Logger) { l.WithGroup("g").ErrorContext(ctx, "hello", "a", 1) }, "req-1"},
		"caller's own id kept":  {func(l *slog.Logger) { l.InfoContext(ctx, "hello", RequestIDKey, "given") }, "given"},
		"no request in context": {func(l *slog.Logger) { l.InfoContext(context.Background(), "hello") }, ""},
		"no context":            {func(l *slog.Logger) { l.Info("hello") }, ""},
	} {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			c.log(New(config.Log{Level: slog.LevelDebug, Format: config.LogJSON}, &buf))
			var line map[string]any
			if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
				t.Fatalf("not one JSON line: %q", buf.String())
			}
			id := line[RequestIDKey]
			if g, ok := line["g"].(map[string]any); ok && id == nil {
				id = g[RequestIDKey]
			}
			if got, _ := id.(string); got != c.want {
				t.Errorf("request_id %q, want %q in %s", got, c.want, buf.String())
			}
			if n := strings.Count(buf.String(), `"`+RequestIDKey+`"`); n > 1 {
				t.Errorf("request_id appears %d times: %s", n, buf.String())
			}
		})
	}
}

func TestFormatAndLevel(t *testing.T) {
	var buf bytes.Buffer
	l := New(config.Log{Level: slog.LevelWarn, Format: config.LogText}, &buf)
	l.Info("quiet")
	l.WarnContext(requestid.With(context.Background(), "r2"), "loud")
	if got := buf.String(); strings.Contains(got, "quiet") || !strings.Contains(got, "msg=loud request_id=r2") {
		t.Errorf("text log at warn: %q", got)
	}
}

func BenchmarkLine(b *testing.B) {
	l := New(config.Log{Level: slog.LevelInfo, Format: config.LogJSON}, discard{})
	ctx := requestid.With(context.Background(), "abcdefghijklmnop")
	b.ReportAllocs()
	for b.Loop() {
		l.InfoContext(ctx, "gateway: request", "route", "/scim/v2", "status", 200)
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
