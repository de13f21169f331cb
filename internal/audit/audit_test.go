package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scimgate/scimgate/internal/requestid"
	"github.com/scimgate/scimgate/internal/testkit"
)

// withoutTime drops the time of each JSON line, so that two streams of the
// same events compare equal.
func withoutTime(t *testing.T, stream string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.Lines(stream) {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("%v: %q", err, line)
		}
		delete(m, "time")
		out = append(out, m)
	}
	return out
}

func TestBufferedWritesWhatNewWrites(t *testing.T) {
	var direct, buffered testkit.SyncBuffer
	ctx := requestid.With(context.Background(), "req-1")
	record := func(l *Logger) {
		l.Record(ctx, TokenIssued, slog.String("grant", "client_credentials"), slog.String("client_id", "c1"))
		l.Record(context.Background(), GatewayRefused, slog.String("reason", "revoked"), slog.Int("status", 401))
	}
	record(New(&direct))
	b := NewBuffered(&buffered)
	record(b)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	got, want := withoutTime(t, buffered.String()), withoutTime(t, direct.String())
	if fmt.Sprint(got) != fmt.Sprint(want) || len(got) != 2 {
		t.Fatalf("buffered %v\ndirect   %v", got, want)
	}
}

// slowWriter takes its time over every write, so that events pile up.
type slowWriter struct {
	testkit.SyncBuffer
	writes int
}

func (s *slowWriter) Write(p []byte) (int, error) {
	time.Sleep(time.Millisecond)
	s.writes++ // only the flusher writes
	return s.SyncBuffer.Write(p)
}

// More than maxPending bytes of events from several goroutines, into a
// slow writer: recording waits rather than dropping, and each goroutine's
// events arrive in the order it recorded them.
func TestBufferedKeepsOrderAndDropsNothing(t *testing.T) {
	w := &slowWriter{}
	l := NewBuffered(w)
	const goroutines, events = 4, 3000
	pad := strings.Repeat("x", 200)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range events {
				l.Record(context.Background(), SCIMUpdate, slog.Int("g", g), slog.Int("i", i), slog.String("pad", pad))
			}
		})
	}
	wg.Wait()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	next := make([]int, goroutines)
	for _, m := range withoutTime(t, w.String()) {
		g, i := int(m["g"].(float64)), int(m["i"].(float64))
		if i != next[g] {
			t.Fatalf("goroutine %d: event %d after %d", g, i, next[g]-1)
		}
		next[g]++
	}
	for g, n := range next {
		if n != events {
			t.Fatalf("goroutine %d: %d of %d events written", g, n, events)
		}
	}
	if w.writes >= goroutines*events/2 {
		t.Errorf("%d writes for %d events: not batched", w.writes, goroutines*events)
	}
}

func TestBufferedWritesWithoutClose(t *testing.T) {
	var w testkit.SyncBuffer
	l := NewBuffered(&w)
	defer l.Close()
	l.Record(context.Background(), KeyRotated, slog.String("kid", "k1"))
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(w.String(), "key.rotated"); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the event was not written without Close")
		}
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestBufferedCloseReportsWriteErrors(t *testing.T) {
	l := NewBuffered(failingWriter{})
	l.Record(context.Background(), KeyRevoked)
	if err := l.Close(); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("Close: %v", err)
	}
}

func TestBufferedAfterClose(t *testing.T) {
	var w testkit.SyncBuffer
	l := NewBuffered(&w)
	l.Record(context.Background(), KeyRotated)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l.Record(context.Background(), KeyRevoked)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if got := w.String(); strings.Index(got, "key.rotated") > strings.Index(got, "key.revoked") || !strings.Contains(got, "key.revoked") {
		t.Fatalf("stream %q", got)
	}
	var unbuffered *Logger
	if err := unbuffered.Close(); err != nil || New(&w).Close() != nil {
		t.Fatal("Close of a nil or unbuffered Logger failed")
	}
}

// BenchmarkRecord is one token.issued event, to a discarding writer.
func BenchmarkRecord(b *testing.B) {
	for _, c := range []struct {
		name string
		l    *Logger
	}{{"direct", New(discard{})}, {"buffered", NewBuffered(discard{})}} {
		b.Run(c.name, func(b *testing.B) {
			ctx := requestid.With(context.Background(), "bWVhc3VyZWQgaWQ")
			b.ReportAllocs()
			for b.Loop() {
				c.l.Record(ctx, TokenIssued, slog.String("grant", "client_credentials"), slog.String("tenant", "acme"),
					slog.String("client_id", "c1"), slog.String("scope", "scim.full"), slog.String("jti", "j1"))
			}
			b.StopTimer()
			c.l.Close()
		})
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// TestAppendEventAsHandler holds the hand-written encoding to the slog
// handler's, on awkward strings and times, and checks that Record only
// takes it for what it can write.
func TestAppendEventAsHandler(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	pieces := []string{"a", "acme", `"`, `\`, "\n", "\r", "\t", "\x00", "\x1f", "\x7f", "<>&", "é", "\u2028", "\u2029", "\xff", "\xe2\x80", "🙂", " "}
	word := func() string {
		var b strings.Builder
		for range r.IntN(5) {
			b.WriteString(pieces[r.IntN(len(pieces))])
		}
		return b.String()
	}
	zones := []*time.Location{time.UTC, time.FixedZone("x", 5*3600+1800), time.Local}
	for range 2000 {
		at := time.Now().Add(time.Duration(r.Int64N(1e15))).In(zones[r.IntN(len(zones))])
		var attrs []slog.Attr
		for range r.IntN(6) {
			if r.IntN(3) == 0 {
				attrs = append(attrs, slog.Int(word()+"k", int(r.Int64N(1e12))-5e11))
			} else {
				attrs = append(attrs, slog.String(word()+"k", word()))
			}
		}
		event, id := word(), word()
		want := handlerLine(t, at, event, attrs, id)
		if got := appendEvent(nil, at, event, attrs, id); string(got) != want {
			t.Fatalf("appendEvent\n%q\nhandler\n%q", got, want)
		}
	}
	for _, attrs := range [][]slog.Attr{
		{slog.Bool("ok", true)}, {slog.Time("at", time.Now())}, {slog.String("msg", "x")}, {slog.String("level", "x")}, {slog.String("", "x")},
	} {
		if plainAttrs(attrs) {
			t.Errorf("%v taken as plain", attrs)
		}
	}
}

// handlerLine is what the slog handler writes for the event.
func handlerLine(t *testing.T, at time.Time, event string, attrs []slog.Attr, requestID string) string {
	t.Helper()
	var b strings.Builder
	rec := slog.NewRecord(at, slog.LevelInfo, event, 0)
	rec.AddAttrs(attrs...)
	if requestID != "" {
		rec.AddAttrs(slog.String(requestIDKey, requestID))
	}
	if err := newHandler(&b).Handle(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
	return b.String()
}
