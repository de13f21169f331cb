package main

import (
	"bufio"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"time"
)

// helperArg, as the first argument, makes this program one of the servers
// a run starts in its own process: "upstream", or "reverseproxy ADDR".
const helperArg = "-serve"

// The trivial upstream's answers: fixed bytes, no JSON work, so that every
// microsecond a proxy adds shows.
const (
	upstreamUser = `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"2819c223-7f76-453a-919d-413861904646",` +
		`"externalId":"0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef","userName":"ann@example.com","active":true,` +
		`"name":{"givenName":"Ann","familyName":"Example"},"emails":[{"value":"ann@example.com","type":"work","primary":true}],` +
		`"meta":{"resourceType":"User","created":"2026-01-02T03:04:05Z","lastModified":"2026-01-02T03:04:05Z",` +
		`"location":"https://users.example.com/scim/v2/Users/2819c223-7f76-453a-919d-413861904646"}}`
	upstreamList = `{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"totalResults":1,"itemsPerPage":1,"startIndex":1,"Resources":[` +
		upstreamUser + `]}`
)

// upstream answers every GET with a one-user ListResponse, a POST with 201
// and the user, a PATCH or PUT with the user and anything else with 204.
func upstream() http.Handler {
	list, user := []byte(upstreamList), []byte(upstreamUser)
	ctype, listLen, userLen := []string{"application/scim+json"}, []string{fmt.Sprint(len(list))}, []string{fmt.Sprint(len(user))}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		h := w.Header()
		switch r.Method {
		case http.MethodGet:
			h["Content-Type"], h["Content-Length"] = ctype, listLen
			_, _ = w.Write(list)
		case http.MethodPost:
			h["Content-Type"], h["Content-Length"] = ctype, userLen
			w.WriteHeader(http.StatusCreated)
			_, _ = w.Write(user)
		case http.MethodPatch, http.MethodPut:
			h["Content-Type"], h["Content-Length"] = ctype, userLen
			_, _ = w.Write(user)
		default:
			w.WriteHeader(http.StatusNoContent)
		}
	})
}

// reverseProxy is a bare httputil.ReverseProxy to target, with only the
// connection pool sized for the load (the default keeps 2 idle connections
// per host, which would measure connection setup instead).
func reverseProxy(target string) http.Handler {
	u := &url.URL{Scheme: "http", Host: target}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 1024
	tr.MaxIdleConns = 1024
	return &httputil.ReverseProxy{
		Rewrite:   func(pr *httputil.ProxyRequest) { pr.SetURL(u) },
		Transport: tr,
		// Requests cut off at the end of a scenario are no news.
		ErrorLog: log.New(io.Discard, "", 0),
	}
}

// serveHelper runs one helper server on a free loopback port, prints
// "listening ADDR" and serves until its standard input closes (the parent
// went away or stopped it).
func serveHelper(args []string) error {
	var h http.Handler
	var serve func(net.Listener) error
	switch {
	case len(args) == 1 && args[0] == "upstream":
		h = upstream()
	case len(args) == 2 && args[0] == "reverseproxy":
		h = reverseProxy(args[1])
	case len(args) == 2 && args[0] == "relay-nethttp":
		h = relayHandler(newRelayPool(args[1]))
	case len(args) == 2 && args[0] == "relay":
		pool := newRelayPool(args[1])
		serve = func(ln net.Listener) error { return serveRelay(ln, pool) }
	default:
		return fmt.Errorf("usage: %s upstream | reverseproxy HOST:PORT | relay HOST:PORT | relay-nethttp HOST:PORT", helperArg)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	if serve == nil {
		srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: 2 * time.Minute}
		serve = srv.Serve
	}
	go func() { _ = serve(ln) }()
	fmt.Printf("listening %s\n", ln.Addr())
	_, _ = io.Copy(io.Discard, bufio.NewReader(os.Stdin))
	return nil
}
