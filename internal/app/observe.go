package app

import (
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/scimgate/scimgate/internal/clientip"
)

// Route labels of requests that matched no route.
const (
	labelUnmatched = "unmatched"
	// restSuffix starts the variable that a gateway route template
	// appends to its prefix; the label is the prefix alone.
	restSuffix = "{rest:"
)

// observeRoutes wraps the handler of every route of r, and its not-found
// and method-not-allowed handlers, so that each request is counted under
// its route template and logged at debug level. Labels come from the
// templates, never from request paths, so their number is bounded.
func (a *App) observeRoutes(r *mux.Router) error {
	err := r.Walk(func(route *mux.Route, _ *mux.Router, _ []*mux.Route) error {
		h := route.GetHandler()
		if h == nil {
			return nil
		}
		tpl, err := route.GetPathTemplate()
		if err != nil {
			tpl = "other"
		}
		route.Handler(a.observe(routeLabel(tpl), h))
		return nil
	})
	if r.NotFoundHandler == nil {
		r.NotFoundHandler = http.NotFoundHandler()
	}
	r.NotFoundHandler = a.observe(labelUnmatched, r.NotFoundHandler)
	if r.MethodNotAllowedHandler == nil {
		// What gorilla/mux answers when none is set.
		r.MethodNotAllowedHandler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusMethodNotAllowed)
		})
	}
	r.MethodNotAllowedHandler = a.observe(labelUnmatched, r.MethodNotAllowedHandler)
	return err
}

// routeLabel turns a gateway template such as /t/{tenant}/scim/v2{rest:...}
// into its configured prefix, and keeps every other template as it is.
func routeLabel(tpl string) string {
	if i := strings.LastIndex(tpl, restSuffix); i > 0 && strings.HasSuffix(tpl, "}") {
		return tpl[:i]
	}
	return tpl
}

// observe records each request of one route: its metrics and, at debug
// level, one log line with the status, latency and client address.
func (a *App) observe(label string, next http.Handler) http.Handler {
	rec := a.metrics.Route(label)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		debug := a.log.Enabled(ctx, slog.LevelDebug)
		if rec == nil && !debug {
			next.ServeHTTP(w, r)
			return
		}
		start := time.Now()
		rec.Start()
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			// Deferred: the reverse proxy aborts a broken copy with a panic.
			elapsed := time.Since(start)
			rec.Done(r.Method, sw.status(), elapsed)
			if debug {
				a.log.LogAttrs(ctx, slog.LevelDebug, "http request", slog.String("method", r.Method),
					slog.String("route", label), slog.Int("status", sw.status()), slog.Duration("latency", elapsed),
					slog.String("client", clientHost(r.RemoteAddr)))
			}
		}()
		next.ServeHTTP(sw, r)
	})
}

// statusWriter remembers the status a handler answered with.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 && code >= 200 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

// status is the answered status; 200 when the handler wrote nothing.
func (w *statusWriter) status() int {
	if w.code == 0 {
		return http.StatusOK
	}
	return w.code
}

// Flush passes flushes on, for handlers that look for http.Flusher.
func (w *statusWriter) Flush() { _ = http.NewResponseController(w.ResponseWriter).Flush() }

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// clientAddress resolves each request's client address once, believing
// X-Forwarded-For only from the trusted proxies, and puts it in RemoteAddr
// when it differs from the peer, so that everything after — the token
// endpoint's throttles, audit events, logs — sees the client and not the
// load balancer.
func clientAddress(ips *clientip.Resolver, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ip := ips.IP(r); ip != clientHost(r.RemoteAddr) && validAddr(ip) {
			r2 := *r
			r2.RemoteAddr = ip
			r = &r2
		}
		next.ServeHTTP(w, r)
	})
}

func validAddr(s string) bool {
	_, err := netip.ParseAddr(s)
	return err == nil
}

// clientHost is the address part of a RemoteAddr, which is host:port from
// the connection or a bare address from clientAddress.
func clientHost(remote string) string {
	if host, _, err := net.SplitHostPort(remote); err == nil {
		return host
	}
	return remote
}

// closeAfterTransferCoding ends the connection after answering a request
// that came with a Transfer-Encoding. One that also had a Content-Length
// is what request smuggling is made of: a front proxy that went by the
// Content-Length and this server, which goes by the chunks, disagree on
// where the request ends, and the rest would be served as a request of
// its own. RFC 9112 §6.1 requires closing the connection after answering
// such a request; net/http drops the Content-Length before a handler runs
// and keeps the connection, so every chunked request closes it here (the
// identity providers send a Content-Length; h1server hands chunked
// requests to net/http, which honours the Connection: close).
func closeAfterTransferCoding(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(r.TransferEncoding) > 0 {
			w.Header().Set("Connection", "close")
		}
		next.ServeHTTP(w, r)
	})
}
