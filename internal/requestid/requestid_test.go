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
