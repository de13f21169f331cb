package main

import (
	"bufio"
	"bytes"
	"errors"
	"net"
	"net/http"
	"strconv"
)

// The minimal relays are reference rows, not proxies to deploy: they show
// what relaying a GET costs a Go program on this machine with the standard
// library's HTTP/1.1 parsers and nothing else (no authentication, no
// header hygiene, no timeouts, bodiless requests only), once on a
// connection loop of their own and once behind net/http's server. Set
// beside the gateway's row they split its cost into what Go and net/http
// take and what the gateway's own work takes.

// relayPool holds keep-alive connections to the upstream.
type relayPool struct {
	target string
	idle   chan *relayConn
}

type relayConn struct {
	nc   net.Conn
	br   *bufio.Reader
	head []byte // the request head being written, reused
	body bytes.Buffer
}

func newRelayPool(target string) *relayPool {
	return &relayPool{target: target, idle: make(chan *relayConn, 1024)}
}

// answer is what the relays pass back of an upstream answer.
type answer struct {
	status      int
	contentType string
	body        []byte // valid until the connection is used again
}

var errRelayBody = errors.New("the minimal relay relays bodiless requests only")

// exchange sends req's method and target to the upstream over a pooled
// connection and reads the whole answer; release returns the connection.
func (p *relayPool) exchange(req *http.Request) (a answer, release func(), err error) {
	if req.ContentLength != 0 {
		return a, nil, errRelayBody
	}
	var c *relayConn
	select {
	case c = <-p.idle:
	default:
		nc, err := net.Dial("tcp", p.target)
		if err != nil {
			return a, nil, err
		}
		c = &relayConn{nc: nc, br: bufio.NewReaderSize(nc, 16<<10)}
	}
	c.head = append(append(append(append(append(c.head[:0], req.Method...), ' '), req.RequestURI...),
		" HTTP/1.1\r\nHost: "...), p.target...)
	c.head = append(c.head, "\r\n\r\n"...)
	if _, err := c.nc.Write(c.head); err != nil {
		c.nc.Close()
		return a, nil, err
	}
	resp, err := http.ReadResponse(c.br, req)
	if err == nil {
		c.body.Reset()
		_, err = c.body.ReadFrom(resp.Body)
	}
	if err != nil || resp.Close {
		c.nc.Close()
		if err == nil {
			err = errors.New("the upstream closed the connection")
		}
		return a, nil, err
	}
	a = answer{status: resp.StatusCode, contentType: resp.Header.Get("Content-Type"), body: c.body.Bytes()}
	return a, func() { p.idle <- c }, nil
}

// serveRelay is the minimal relay on a connection loop of its own: one
// goroutine per client connection, requests read with http.ReadRequest,
// answers written with their length and flushed once.
func serveRelay(ln net.Listener, pool *relayPool) error {
	for {
		nc, err := ln.Accept()
		if err != nil {
			return err
		}
		go relayConnection(nc, pool)
	}
}

func relayConnection(nc net.Conn, pool *relayPool) {
	defer nc.Close()
	br, bw := bufio.NewReader(nc), bufio.NewWriter(nc)
	var head []byte
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		a, release, err := pool.exchange(req)
		if err != nil {
			a = answer{status: http.StatusBadGateway, contentType: "text/plain", body: []byte(err.Error())}
		}
		head = append(strconv.AppendInt(append(head[:0], "HTTP/1.1 "...), int64(a.status), 10), ' ')
		head = append(append(head, http.StatusText(a.status)...), "\r\nContent-Type: "...)
		head = append(append(head, a.contentType...), "\r\nContent-Length: "...)
		head = append(strconv.AppendInt(head, int64(len(a.body)), 10), "\r\n\r\n"...)
		_, _ = bw.Write(head)
		_, _ = bw.Write(a.body)
		if release != nil {
			release()
		}
		if bw.Flush() != nil || err != nil || req.Close {
			return
		}
	}
}

// relayHandler is the minimal relay as a handler, for net/http's server.
func relayHandler(pool *relayPool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		a, release, err := pool.exchange(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer release()
		h := w.Header()
		h["Content-Type"] = []string{a.contentType}
		h["Content-Length"] = []string{strconv.Itoa(len(a.body))}
		w.WriteHeader(a.status)
		_, _ = w.Write(a.body)
	})
}
