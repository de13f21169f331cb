package audit

import (
	"log/slog"
	"strconv"
	"time"
	"unicode/utf8"
)

const (
	requestIDKey = "request_id"
	// maxPooledEvent bounds the encoding buffers kept for reuse.
	maxPooledEvent = 4 << 10
)

// plainAttrs reports whether appendEvent writes attrs as the handler
// would: strings and integers only, under keys the handler's ReplaceAttr
// leaves alone.
func plainAttrs(attrs []slog.Attr) bool {
	for _, a := range attrs {
		switch a.Key {
		case "", slog.MessageKey, slog.LevelKey:
			return false
		}
		if k := a.Value.Kind(); k != slog.KindString && k != slog.KindInt64 {
			return false
		}
	}
	return true
}

// appendEvent writes the event's JSON line as newHandler writes it,
// without the handler's per-attribute ReplaceAttr calls and value
// boxing: TestAppendEventAsHandler compares the two.
func appendEvent(b []byte, t time.Time, event string, attrs []slog.Attr, requestID string) []byte {
	b = append(b, `{"time":"`...)
	b = t.Round(0).AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","event":`...)
	b = appendString(b, event)
	for _, a := range attrs {
		b = append(b, ',')
		b = appendString(b, a.Key)
		b = append(b, ':')
		if a.Value.Kind() == slog.KindInt64 {
			b = strconv.AppendInt(b, a.Value.Int64(), 10)
		} else {
			b = appendString(b, a.Value.String())
		}
	}
	if requestID != "" {
		b = append(b, `,"`+requestIDKey+`":`...)
		b = appendString(b, requestID)
	}
	return append(b, "}\n"...)
}

// appendString writes s as slog's JSON handler quotes strings: like
// encoding/json without HTML escaping, invalid UTF-8 as \ufffd, U+2028
// and U+2029 escaped.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, `\u202`...)
			b = append(b, hex[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
