// Package jsontext writes JSON strings as encoding/json does, for the
// hand-written encoders of hot paths (token claims, token responses).
package jsontext

import "encoding/json"

// AppendString appends s as encoding/json quotes it, HTML characters
// escaped. Plain printable ASCII, which nearly every claim and token is,
// is copied as it is; anything else goes through encoding/json.
func AppendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			quoted, _ := json.Marshal(s)
			return append(b, quoted...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
