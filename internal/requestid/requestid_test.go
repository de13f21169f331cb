package requestid

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestMiddleware(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		kept     bool
	}{
		{"caller's id kept", "lb-7f3a:9.x_Y", true},
		{"none", "", false},
		{"too long", strings.Repeat("a", 129), false},
		{"unprintable", "a b", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var seen string
			h := Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				// Derived contexts still carry the id.
				ctx, cancel := context.WithCancel(context.WithValue(r.Context(), struct{}{}, 1))
				defer cancel()
				seen = From(ctx)
			}))
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			if tc.in != "" {
				req.Header.Set(Header, tc.in)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			got := w.Header().Get(Header)
			if seen != got || got == "" || (got == tc.in) != tc.kept || len(w.Header()[Header]) != 1 {
				t.Fatalf("handler saw %q, response says %v, request sent %q", seen, w.Header()[Header], tc.in)
			}
		})
	}
}

func TestWithFrom(t *testing.T) {
	if From(context.Background()) != "" {
		t.Fatal("an id without one")
	}
	parent, cancel := context.WithCancel(context.Background())
	child, stop := context.WithCancel(With(parent, "x"))
	defer stop()
	if From(child) != "x" {
		t.Fatalf("From = %q", From(child))
	}
	cancel()
	<-child.Done() // cancellation still reaches contexts made from it
}

func BenchmarkMiddleware(b *testing.B) {
	h := Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	w := httptest.NewRecorder()
	b.ReportAllocs()
	for b.Loop() {
		clear(w.Header())
		h.ServeHTTP(w, req)
	}
}

// FuzzMiddleware sends any X-Request-Id: the id the handler sees and the
// response echoes is the caller's when it is short and of the safe
// characters, else a fresh one, and never carries a byte that could break
// a log line or a header.
func FuzzMiddleware(f *testing.F) {
	for _, s := range []string{"", "abc-123", "Root=1-67891233-abcdef012345678912345678", "a b", "x\r\nSet-Cookie: y",
		strings.Repeat("a", 128), strings.Repeat("a", 129), "é", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		var seen string
		h := Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { seen = From(r.Context()) }))
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set(Header, id)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if got := w.Header().Get(Header); got != seen || seen == "" || len(seen) > 128 {
			t.Fatalf("id %q: handler saw %q, response says %q", id, seen, got)
		}
		for _, c := range []byte(seen) {
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || strings.IndexByte("-_.:", c) >= 0) {
				t.Fatalf("id %q became %q with byte %q", id, seen, c)
			}
		}
		if keep := acceptable(id); keep != (seen == id) {
			t.Fatalf("id %q: acceptable=%v but handler saw %q", id, keep, seen)
		}
	})
}
