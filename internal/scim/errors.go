package scim

import (
	"errors"
	"net/http"
	"strconv"
)

// scimType values of RFC 7644 §3.12 used by scimgate.
const (
	InvalidFilter = "invalidFilter"
	InvalidSyntax = "invalidSyntax"
	InvalidPath   = "invalidPath"
	InvalidValue  = "invalidValue"
	NoTarget      = "noTarget"
	Uniqueness    = "uniqueness"
	Mutability    = "mutability"
	TooMany       = "tooMany"
)

// Error is an RFC 7644 §3.12 error. The gateway uses it for every SCIM-facing
// failure (400 from the normalizer, 401/403/404/413/429/502/504 of its own),
// so Status is any HTTP status; extra headers such as WWW-Authenticate or
// Retry-After are the caller's business.
type Error struct {
	Status   int
	ScimType string // optional
	Detail   string
	Err      error // cause for logs; never rendered
}

func (e *Error) Error() string {
	msg := "scim " + strconv.Itoa(e.Status)
	if e.ScimType != "" {
		msg += " " + e.ScimType
	}
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// MarshalJSON renders the wire form, with status as a string as RFC 7644
// §3.12 defines it (Okta's SPEC test compares it with "404").
func (e *Error) MarshalJSON() ([]byte, error) {
	return e.appendJSON(make([]byte, 0, 128+len(e.Detail))), nil
}

func (e *Error) appendJSON(dst []byte) []byte {
	status := e.Status
	if status == 0 {
		status = http.StatusInternalServerError
	}
	detail := e.Detail
	if detail == "" {
		detail = http.StatusText(status)
	}
	dst = append(dst, `{"schemas":["`+URNError+`"],"status":"`...)
	dst = strconv.AppendInt(dst, int64(status), 10)
	dst = append(dst, '"')
	if e.ScimType != "" {
		dst = append(dst, `,"scimType":`...)
		dst = appendQuoted(dst, e.ScimType)
	}
	dst = append(dst, `,"detail":`...)
	dst = appendQuoted(dst, detail)
	return append(dst, '}')
}

// WriteError writes err as a SCIM error with Content-Type
// application/scim+json. An error that is not (and does not wrap) an *Error
// becomes a 500 whose detail reveals nothing of the cause.
func WriteError(w http.ResponseWriter, err error) { WriteErrorAs(w, err, MediaTypeSCIM) }

// WriteErrorAs is WriteError with the Content-Type contentType, such as
// ResponseContentType's choice for the client.
func WriteErrorAs(w http.ResponseWriter, err error, contentType string) {
	var se *Error
	if !errors.As(err, &se) {
		se = &Error{Status: http.StatusInternalServerError, Detail: "internal error"}
	}
	status := se.Status
	if status == 0 {
		status = http.StatusInternalServerError
	}
	body := se.appendJSON(nil)
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func badRequest(scimType, detail string) *Error {
	return &Error{Status: http.StatusBadRequest, ScimType: scimType, Detail: detail}
}
