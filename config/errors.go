package config

import (
	"strconv"
	"strings"
)

// Origin says where a configuration value came from. The zero Origin is a
// built-in default.
type Origin struct {
	// File is the configuration file and Line the 1-based line in it.
	File string
	Line int
	// Env is the SCIMGATE_* variable that set the value.
	Env string
}

// String renders file:line, the variable name, or "" for a default.
func (o Origin) String() string {
	switch {
	case o.Env != "":
		return o.Env
	case o.File != "":
		return o.File + ":" + strconv.Itoa(o.Line)
	}
	return ""
}

// FieldError is one problem with one configuration key.
type FieldError struct {
	// Key is the dotted path of the value, such as gateway.routes[1].upstream,
	// or the variable name for an unknown SCIMGATE_* variable.
	Key string
	// Problem says what is wrong. It never contains a secret.
	Problem string
	// Origin is where the offending value came from.
	Origin Origin
}

// Error renders "origin: key: problem", or "key: problem" for a default.
func (e FieldError) Error() string {
	msg := e.Key + ": " + e.Problem
	if o := e.Origin.String(); o != "" && o != e.Key {
		return o + ": " + msg
	}
	return msg
}

// Errors is every problem found in one configuration. Load returns it
// (as error) when the configuration is invalid; use errors.As to inspect it.
type Errors []FieldError

// Error renders one problem per line.
func (errs Errors) Error() string {
	lines := make([]string, len(errs))
	for i, e := range errs {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}
