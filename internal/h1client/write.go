package h1client

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// writeRequest writes req's head and body to w as req.Write does, and
// closes the body. The requests a gateway relays — a known length, no
// trailers, a plain host — are written directly, without req.Write's
// formatting, header sorting and transfer machinery; any other goes to
// req.Write. Header fields come out in map order, which HTTP does not
// give a meaning to.
func writeRequest(w *bufio.Writer, req *http.Request) error {
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	length, plain := plainLength(req)
	if !plain || !plainHost(host) || req.URL.Opaque != "" || hasCTL(req.URL.RawQuery) {
		return req.Write(w)
	}
	if req.Body != nil {
		defer req.Body.Close()
	}
	method := req.Method
	if method == "" {
		method = http.MethodGet
	}
	w.WriteString(method)
	w.WriteByte(' ')
	if path := req.URL.EscapedPath(); path != "" {
		w.WriteString(path)
	} else {
		w.WriteByte('/')
	}
	if req.URL.ForceQuery || req.URL.RawQuery != "" {
		w.WriteByte('?')
		w.WriteString(req.URL.RawQuery)
	}
	w.WriteString(" HTTP/1.1\r\nHost: ")
	w.WriteString(host)
	w.WriteString("\r\n")
	userAgent := defaultUserAgent
	if v, ok := req.Header["User-Agent"]; ok {
		userAgent = ""
		if len(v) > 0 {
			userAgent = v[0]
		}
	}
	if userAgent != "" {
		writeField(w, "User-Agent", userAgent)
	}
	if length > 0 || length == 0 && (method == http.MethodPost || method == http.MethodPut || method == http.MethodPatch) {
		w.WriteString("Content-Length: ")
		w.Write(strconv.AppendInt(w.AvailableBuffer(), length, 10))
		w.WriteString("\r\n")
	}
	for name, values := range req.Header {
		switch name {
		case "Host", "User-Agent", "Content-Length", "Transfer-Encoding", "Trailer":
			continue
		}
		if !validFieldName(name) {
			continue // as req.Write: dropped
		}
		for _, v := range values {
			writeField(w, name, v)
		}
	}
	_, err := w.WriteString("\r\n")
	if err != nil || length == 0 {
		return err
	}
	n, err := io.CopyN(w, req.Body, length)
	switch {
	case err == io.EOF:
		return fmt.Errorf("h1client: ContentLength=%d with Body length %d", length, n)
	case err != nil:
		return err
	}
	var extra [1]byte
	if n, _ := io.ReadFull(req.Body, extra[:]); n > 0 {
		return fmt.Errorf("h1client: ContentLength=%d with a longer Body", length)
	}
	return nil
}

// defaultUserAgent is what req.Write sends when the header names none.
const defaultUserAgent = "Go-http-client/1.1"

// plainLength returns the length writeRequest sends for req's body, and
// whether req has only what writeRequest writes itself: no trailers, no
// transfer coding, no Connection: close to add, a body of known length.
func plainLength(req *http.Request) (int64, bool) {
	if req.Close || req.Trailer != nil || len(req.TransferEncoding) > 0 {
		return 0, false
	}
	if req.Body == nil || req.Body == http.NoBody {
		return 0, req.ContentLength == 0
	}
	return req.ContentLength, req.ContentLength > 0
}

// plainHost reports whether host needs none of req.Write's cleaning
// (punycode, IPv6 zones, validation): letters, digits and . - : [ ] only.
func plainHost(host string) bool {
	if host == "" {
		return false
	}
	for i := 0; i < len(host); i++ {
		switch c := host[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '.', c == '-', c == ':', c == '[', c == ']':
		default:
			return false
		}
	}
	return true
}

func hasCTL(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return true
		}
	}
	return false
}

// writeField writes one header field line, its value cleaned as req.Write
// cleans it: line breaks become spaces, surrounding white space goes.
func writeField(w *bufio.Writer, name, value string) {
	if strings.ContainsAny(value, "\r\n") {
		value = strings.NewReplacer("\r", " ", "\n", " ").Replace(value)
	}
	value = strings.Trim(value, " \t")
	w.WriteString(name)
	w.WriteString(": ")
	w.WriteString(value)
	w.WriteString("\r\n")
}

// tcharLow and tcharHigh are RFC 9110 §5.6.2's tchar as a 128-bit mask
// (low word: bytes 0-63, high word: 64-127).
const (
	tcharLow  = 1<<'!' | 1<<'#' | 1<<'$' | 1<<'%' | 1<<'&' | 1<<'\'' | 1<<'*' | 1<<'+' | 1<<'-' | 1<<'.' | 0x3ff<<'0'
	tcharHigh = 0x3ffffff<<('A'-64) | 1<<('^'-64) | 1<<('_'-64) | 1<<('`'-64) | 0x3ffffff<<('a'-64) | 1<<('|'-64) | 1<<('~'-64)
)

// validFieldName reports whether name is a token, as a header field name
// must be.
func validFieldName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		var bit uint64
		switch {
		case c < 64:
			bit = tcharLow >> c
		case c < 128:
			bit = tcharHigh >> (c - 64)
		}
		if bit&1 == 0 {
			return false
		}
	}
	return true
}
