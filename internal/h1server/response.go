package h1server

import (
	"fmt"
	"io"
	"net/http"
	"net/textproto"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/http/httpguts"
)

// bufferBeforeChunking is how much of an answer is held back while the
// handler runs: an answer that ends within it gets a Content-Length,
// a longer one without a Content-Length is chunked (as net/http).
const bufferBeforeChunking = 2 << 10

// response is the http.ResponseWriter of a request served here; one per
// connection, reset for each request.
type response struct {
	c   *conn
	req *http.Request

	header      http.Header
	wroteHeader bool // WriteHeader was called (or implied)
	sentHeader  bool // the head is in the write buffer
	handlerDone bool
	isHead      bool
	status      int
	// contentLength is the handler's valid Content-Length, else -1.
	contentLength int64
	written       int64
	chunking      bool
	closeAfter    bool
	// tooBig says the handler left maxPostHandlerReadBytes or more of the
	// request body unread.
	tooBig bool
	// fixed is the head as WriteHeader fixed it: status line and the
	// handler's headers but the four sendHead decides on; special holds
	// those four as they were then.
	fixed   []byte
	special specialHeaders
	held    []byte // the answer held back, up to bufferBeforeChunking
	keys    []string
	date    dateCache
}

// specialHeaders are the handler's headers whose sending depends on the
// body: sendHead writes, drops or replaces them.
type specialHeaders struct {
	contentLength, transferEncoding, contentType, connection []string
	contentEncoding                                          string
	// has* say the name is in the header at all, even without a value
	// (a nil value suppresses sniffing or the Date, as in net/http).
	hasContentLength, hasContentType, hasDate bool
	// protocolSwitch says the answer is a 101 that keeps its Connection.
	protocolSwitch bool
}

func (w *response) reset(req *http.Request) {
	*w = response{c: w.c, req: req, header: make(http.Header, 8), isHead: req.Method == http.MethodHead,
		contentLength: -1, fixed: w.fixed[:0], held: w.held[:0], keys: w.keys[:0], date: w.date,
		closeAfter: req.Close}
}

func (w *response) Header() http.Header { return w.header }

func (w *response) WriteHeader(code int) {
	if w.wroteHeader {
		w.c.s.log().Warn("h1server: superfluous WriteHeader call", "status", code, "path", w.req.URL.Path)
		return
	}
	if code < 100 || code > 999 {
		panic(fmt.Sprintf("invalid WriteHeader code %v", code))
	}
	if code >= 100 && code <= 199 && code != http.StatusSwitchingProtocols {
		w.writeInformational(code)
		return
	}
	w.wroteHeader, w.status = true, code
	h := w.header
	cl, hasCL := h["Content-Length"]
	if len(cl) > 0 && cl[0] != "" {
		if v, err := strconv.ParseInt(cl[0], 10, 64); err == nil && v >= 0 {
			w.contentLength = v
		} else {
			// Not a length, yet net/http's head keeps the field (it drops
			// it from the handler's header, not from the copy it writes):
			// no Content-Length of its making, and the field goes out
			// where no chunking drops it (HEAD).
			w.c.s.log().Warn("h1server: invalid Content-Length", "value", cl[0], "path", w.req.URL.Path)
		}
	}
	w.fixed = appendStatusLine(w.fixed[:0], code)
	w.fixed = w.appendHeaders(w.fixed, isSpecial)
	_, hasCT := h["Content-Type"]
	_, hasDate := h["Date"]
	w.special = specialHeaders{contentLength: cl, transferEncoding: h["Transfer-Encoding"], contentType: h["Content-Type"],
		connection: h["Connection"], contentEncoding: h.Get("Content-Encoding"),
		hasContentLength: hasCL, hasContentType: hasCT, hasDate: hasDate,
		protocolSwitch: code == http.StatusSwitchingProtocols && h.Get("Upgrade") != "" &&
			httpguts.HeaderValuesContainsToken(h["Connection"], "Upgrade")}
}

// writeInformational sends a 1xx answer at once, the current headers but
// Content-Length and Transfer-Encoding with it (RFC 8297).
func (w *response) writeInformational(code int) {
	b := appendStatusLine(nil, code)
	b = w.appendHeaders(b, isFraming)
	b = append(b, "\r\n"...)
	_, _ = w.c.bw.Write(b)
	_ = w.c.bw.Flush()
}

func (w *response) Write(p []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if len(p) == 0 {
		return 0, nil
	}
	if !bodyAllowedForStatus(w.status) {
		return 0, http.ErrBodyNotAllowed
	}
	w.written += int64(len(p))
	if w.contentLength != -1 && w.written > w.contentLength {
		return 0, http.ErrContentLength
	}
	// Held as net/http's bufio.Writer of bufferBeforeChunking holds it: a
	// full buffer goes out, a larger write with nothing held goes out
	// whole. So the pieces, and what a panicking handler's client gets,
	// are net/http's.
	n := len(p)
	for len(p) > bufferBeforeChunking-len(w.held) {
		if len(w.held) == 0 {
			if err := w.writeChunk(p); err != nil {
				return 0, err
			}
			return n, nil
		}
		k := bufferBeforeChunking - len(w.held)
		w.held = append(w.held, p[:k]...)
		p = p[k:]
		if err := w.writeChunk(w.held); err != nil {
			return 0, err
		}
		w.held = w.held[:0]
	}
	w.held = append(w.held, p...)
	return n, nil
}

// writeChunk passes a piece of the answer on, as net/http's chunkWriter:
// the head first, p the start of the body for it.
func (w *response) writeChunk(p []byte) error {
	if !w.sentHeader {
		w.sendHead(p)
	}
	return w.writeBody(p)
}

func (w *response) writeBody(p []byte) error {
	if w.isHead || len(p) == 0 {
		return nil
	}
	bw := w.c.bw
	if w.chunking {
		var size [16]byte
		_, _ = bw.Write(append(strconv.AppendUint(size[:0], uint64(len(p)), 16), "\r\n"...))
	}
	_, err := bw.Write(p)
	if w.chunking && err == nil {
		_, err = bw.WriteString("\r\n")
	}
	if err != nil {
		w.c.nc.Close()
	}
	return err
}

// FlushError sends what the handler has written so far (net/http's
// Flush: a head sent before the handler ends has no Content-Length of
// its own making).
func (w *response) FlushError() error {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if len(w.held) > 0 {
		if err := w.writeChunk(w.held); err != nil {
			return err
		}
		w.held = w.held[:0]
	}
	if !w.sentHeader {
		w.sendHead(nil)
	}
	return w.c.bw.Flush()
}

func (w *response) Flush() { _ = w.FlushError() }

// ReadFrom is net/http's, which io.Copy uses when src has no WriteTo: the
// first 512 bytes go as by Write (for sniffing), then the head goes out
// at once, without a Content-Length of its own making, and the rest of a
// body not chunked goes to the connection as it comes.
func (w *response) ReadFrom(src io.Reader) (n int64, err error) {
	bufp := copyBufPool.Get().(*[]byte)
	defer copyBufPool.Put(bufp)
	buf := *bufp
	rf, ok := w.c.nc.(io.ReaderFrom)
	if !ok {
		return io.CopyBuffer(writerOnly{w}, src, buf)
	}
	const sniffLen = 512
	if !w.sentHeader {
		n0, err := io.CopyBuffer(writerOnly{w}, io.LimitReader(src, sniffLen), buf)
		n += n0
		if err != nil || n0 < sniffLen {
			return n, err
		}
	}
	_ = w.FlushError()
	if !w.chunking && bodyAllowedForStatus(w.status) && !w.isHead {
		n0, err := rf.ReadFrom(src)
		n += n0
		w.written += n0 // unchecked against a Content-Length, as in net/http
		return n, err
	}
	n0, err := io.CopyBuffer(writerOnly{w}, src, buf)
	return n + n0, err
}

// writerOnly hides the ReadFrom of its Writer from io.CopyBuffer.
type writerOnly struct{ io.Writer }

var copyBufPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// finish ends the answer once the handler has returned.
func (w *response) finish() {
	w.handlerDone = true
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if len(w.held) > 0 && w.writeChunk(w.held) != nil {
		return
	}
	if !w.sentHeader {
		w.sendHead(nil)
	}
	if w.chunking {
		_, _ = w.c.bw.WriteString("0\r\n\r\n")
	}
}

// sendHead writes the head, deciding what net/http's server decides when
// it writes one: p is the start of the body, for its length when the
// handler is done and for sniffing.
func (w *response) sendHead(p []byte) {
	w.sentHeader = true
	sp := &w.special
	te := ""
	if len(sp.transferEncoding) > 0 {
		te = sp.transferEncoding[0]
	}
	hasTE := te != ""
	bodyAllowed := bodyAllowedForStatus(w.status)
	var extraCL, extraCT, extraTE string
	// keep* say whether the handler's own lines of the name go out.
	keepCL, keepTE, keepCT, keepConnection := true, true, true, true

	if w.handlerDone && !hasTE && bodyAllowed && !sp.hasContentLength && (!w.isHead || len(p) > 0) {
		w.contentLength = int64(len(p))
		extraCL = strconv.Itoa(len(p))
	}
	hasCL := w.contentLength != -1
	connection := ""
	if len(sp.connection) > 0 {
		connection = sp.connection[0]
	}
	shutdown := w.c.s.inShutdown.Load()
	if connection == "close" || shutdown {
		w.closeAfter = true
	}
	// The handler is done with the request body once it answers: what it
	// left is read and dropped, or the connection cannot carry another
	// request.
	if w.req.ContentLength > 0 && !w.closeAfter {
		keep, tooBig := w.c.body.discard()
		w.closeAfter, w.tooBig = !keep, tooBig
	}
	if bodyAllowed {
		if sp.contentEncoding == "" && !sp.hasContentType && !hasTE && len(p) > 0 {
			extraCT = http.DetectContentType(p)
		}
	} else {
		keepCL, keepTE = false, false
		if w.status == http.StatusNotModified {
			keepCT = false
		}
	}
	if hasCL && hasTE && te != "identity" {
		w.c.s.log().Warn("h1server: WriteHeader with both Transfer-Encoding and Content-Length; Content-Length dropped", "path", w.req.URL.Path)
		keepCL, hasCL = false, false // w.contentLength stays: net/http holds the handler to it
	}
	switch {
	case w.isHead || !bodyAllowed:
		keepTE = false
	case hasCL:
		keepTE = false
	case te == "identity":
		w.closeAfter, keepTE = true, false
	default:
		// A coding the handler named but chunked stays, before chunked
		// (net/http's, though clients refuse it).
		w.chunking, keepTE, extraTE = true, te != "chunked", "chunked"
	}
	if w.chunking {
		keepCL, extraCL = false, ""
	}
	// net/http replaces the handler's Connection by "close", unless it
	// says close already (with keep-alives on) or switches protocols;
	// after a body too big, always.
	extraConnection := ""
	if w.tooBig || w.closeAfter && (shutdown || !hasToken(connection, "close")) && !sp.protocolSwitch {
		keepConnection, extraConnection = false, "close"
	}

	b := w.fixed
	b = appendSpecial(b, "Content-Length", sp.contentLength, keepCL)
	b = appendSpecial(b, "Transfer-Encoding", sp.transferEncoding, keepTE)
	b = appendSpecial(b, "Content-Type", sp.contentType, keepCT)
	b = appendSpecial(b, "Connection", sp.connection, keepConnection)
	if !sp.hasDate {
		b = append(append(append(b, "Date: "...), w.date.now()...), "\r\n"...)
	}
	for _, extra := range [...][2]string{{"Content-Length", extraCL}, {"Content-Type", extraCT}, {"Connection", extraConnection}, {"Transfer-Encoding", extraTE}} {
		if extra[1] != "" {
			b = append(append(append(append(b, extra[0]...), ": "...), extra[1]...), "\r\n"...)
		}
	}
	b = append(b, "\r\n"...)
	w.fixed = b
	_, _ = w.c.bw.Write(b)
}

// appendHeaders appends the handler's headers, sorted by name as net/http
// writes them, minus invalid names, trailers (not supported) and the ones
// skip names.
func (w *response) appendHeaders(b []byte, skip func(name string) bool) []byte {
	keys := w.keys[:0]
	for name := range w.header {
		keys = append(keys, name)
	}
	slices.Sort(keys)
	w.keys = keys
	for _, name := range keys {
		switch {
		case !httpguts.ValidHeaderFieldName(name), name == "Trailer", strings.HasPrefix(name, http.TrailerPrefix):
			continue
		case skip(name):
			continue
		}
		b = appendField(b, name, w.header[name])
	}
	return b
}

// isFraming reports whether name is a header a body-less answer drops.
func isFraming(name string) bool { return name == "Content-Length" || name == "Transfer-Encoding" }

// isSpecial reports whether sendHead decides on name.
func isSpecial(name string) bool {
	switch name {
	case "Content-Length", "Transfer-Encoding", "Content-Type", "Connection":
		return true
	}
	return false
}

func appendSpecial(b []byte, name string, values []string, keep bool) []byte {
	if !keep {
		return b
	}
	return appendField(b, name, values)
}

// appendField appends name's lines; values lose line breaks and outer
// white space, as net/http writes them.
func appendField(b []byte, name string, values []string) []byte {
	for _, v := range values {
		b = append(append(b, name...), ": "...)
		start := len(b)
		b = append(b, textproto.TrimString(v)...)
		for i := start; i < len(b); i++ {
			if b[i] == '\r' || b[i] == '\n' {
				b[i] = ' '
			}
		}
		b = append(b, "\r\n"...)
	}
	return b
}

func appendStatusLine(b []byte, code int) []byte {
	b = append(b, "HTTP/1.1 "...)
	if text := http.StatusText(code); text != "" {
		return append(append(append(strconv.AppendInt(b, int64(code), 10), ' '), text...), "\r\n"...)
	}
	return fmt.Appendf(b, "%03d status code %d\r\n", code, code)
}

// lengthMismatch reports whether the answer's body is not as long as its
// Content-Length says, which ends the connection (as net/http's
// shouldReuseConnection).
func (w *response) lengthMismatch() bool {
	return !w.isHead && w.contentLength != -1 && bodyAllowedForStatus(w.status) && w.contentLength != w.written
}

// hasToken is net/http's: whether v has token, case-insensitively, between
// space, tab or comma boundaries.
func hasToken(v, token string) bool {
	if len(token) > len(v) || token == "" {
		return false
	}
	if v == token {
		return true
	}
	for sp := 0; sp <= len(v)-len(token); sp++ {
		if b := v[sp]; b != token[0] && b|0x20 != token[0] {
			continue
		}
		if sp > 0 && !isTokenBoundary(v[sp-1]) {
			continue
		}
		if end := sp + len(token); end != len(v) && !isTokenBoundary(v[end]) {
			continue
		}
		if strings.EqualFold(v[sp:sp+len(token)], token) {
			return true
		}
	}
	return false
}

func isTokenBoundary(b byte) bool { return b == ' ' || b == ',' || b == '\t' }

func bodyAllowedForStatus(status int) bool {
	return !(status >= 100 && status <= 199 || status == http.StatusNoContent || status == http.StatusNotModified)
}

// dateCache formats the Date header once a second.
type dateCache struct {
	second int64
	value  []byte
}

func (d *dateCache) now() []byte {
	t := time.Now()
	if s := t.Unix(); s != d.second || d.value == nil {
		d.second = s
		d.value = t.UTC().AppendFormat(d.value[:0], http.TimeFormat)
	}
	return d.value
}
