package h1client

import (
	"bufio"
	"bytes"
	"net/http"
	"net/textproto"
	"strings"
)

// readResponse reads an answer's head from br as http.ReadResponse does,
// and reports whether its body is the next resp.ContentLength bytes of br
// (direct), for the caller to read, rather than resp.Body. The answers a
// gateway relays — HTTP/1.1, a final status with a body, one
// Content-Length, header fields in their plain form, the head within br's
// buffer — are parsed in place: one string holds the whole head and the
// field values are parts of it. Anything else goes to http.ReadResponse
// before a byte of it is consumed.
func readResponse(br *bufio.Reader, req *http.Request) (resp *http.Response, direct bool, err error) {
	if req.Method != http.MethodHead {
		if head := peekHead(br); head != nil {
			if resp := parseHead(head, req); resp != nil {
				_, _ = br.Discard(len(head))
				return resp, true, nil
			}
		}
	}
	resp, err = http.ReadResponse(br, req)
	return resp, false, err
}

var endOfHead = []byte("\r\n\r\n")

// peekHead returns the buffered head of the next answer, through the empty
// line that ends it, reading more as needed; nil if it does not fit in br's
// buffer or reading failed (http.ReadResponse then meets the same).
func peekHead(br *bufio.Reader) []byte {
	searched := 0
	for {
		buf, _ := br.Peek(br.Buffered())
		if i := bytes.Index(buf[searched:], endOfHead); i >= 0 {
			return buf[:searched+i+len(endOfHead)]
		}
		if len(buf) >= br.Size() {
			return nil
		}
		searched = max(0, len(buf)-len(endOfHead)+1)
		if _, err := br.Peek(len(buf) + 1); err != nil {
			return nil
		}
	}
}

// parseHead parses head as http.ReadResponse would, or returns nil for
// any head it might read otherwise: anything but HTTP/1.1, a status
// without a body (1xx, 204, 304), no or several Content-Length fields,
// Transfer-Encoding, Connection or Trailer fields (which ReadResponse
// interprets and edits), folded lines, and bytes it would refuse.
func parseHead(head []byte, req *http.Request) *http.Response {
	s := string(head[:len(head)-len(endOfHead)])
	line, rest, _ := strings.Cut(s, "\r\n")
	if !validLine(line) || len(line) < len("HTTP/1.1 200") || line[:len("HTTP/1.1 ")] != "HTTP/1.1 " ||
		len(line) > len("HTTP/1.1 200") && line[len("HTTP/1.1 200")] != ' ' {
		return nil
	}
	code := 0
	for _, c := range line[len("HTTP/1.1 "):len("HTTP/1.1 200")] {
		if c < '0' || c > '9' {
			return nil
		}
		code = code*10 + int(c-'0')
	}
	if code < 200 || code > 599 || code == http.StatusNoContent || code == http.StatusNotModified {
		return nil
	}

	fields := strings.Count(rest, "\r\n") + 1
	if rest == "" {
		fields = 0
	}
	h := make(http.Header, fields)
	values := make([]string, fields)
	length := int64(-1)
	for rest != "" {
		var field string
		field, rest, _ = strings.Cut(rest, "\r\n")
		name, value, ok := strings.Cut(field, ":")
		if !ok || !validFieldName(name) || !validLine(value) {
			return nil // also a folded line, which starts with white space
		}
		value = strings.Trim(value, " \t")
		key := name
		if !isCanonical(name) {
			key = textproto.CanonicalMIMEHeaderKey(name)
		}
		switch key {
		case "Connection", "Transfer-Encoding", "Trailer":
			return nil
		case "Content-Length":
			if length >= 0 {
				return nil
			}
			if length = parseLength(value); length < 0 {
				return nil
			}
		}
		if vv, ok := h[key]; ok {
			h[key] = append(vv, value)
			continue
		}
		vv := values[:1:1]
		values = values[1:]
		vv[0] = value
		h[key] = vv
	}
	if length < 0 {
		return nil
	}
	return &http.Response{Status: line[len("HTTP/1.1 "):], StatusCode: code, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: h, ContentLength: length, Request: req}
}

// validLine reports whether s holds only what textproto accepts in a
// field value (visible characters, space, tab, obs-text): no bare CR or
// LF, which would end lines where ReadResponse ends them and this parser
// does not.
func validLine(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// isCanonical reports whether the token name is in textproto's canonical
// case: upper case at the start and after each hyphen, lower case
// elsewhere.
func isCanonical(name string) bool {
	upper := true
	for i := 0; i < len(name); i++ {
		c := name[i]
		if upper && 'a' <= c && c <= 'z' || !upper && 'A' <= c && c <= 'Z' {
			return false
		}
		upper = c == '-'
	}
	return true
}

// parseLength reads a Content-Length value as net/http does (decimal
// digits, below 2^63), or returns -1. Values of 19 digits or more are
// left to net/http.
func parseLength(v string) int64 {
	if v == "" || len(v) > 18 {
		return -1
	}
	n := int64(0)
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c < '0' || c > '9' {
			return -1
		}
		n = n*10 + int64(c-'0')
	}
	return n
}
