package scim

import (
	"net/url"
	"strings"
)

// query canonicalises the filter parameter and drops Entra's job flags. All
// other parameters reach the upstream byte for byte, in their order, with
// their own escaping; the filter is re-escaped only when its text changed,
// keeping the client's choice of "+" or "%20" for spaces.
func (n *normalizer) query(raw string) (string, error) {
	if !containsFold(raw, "filter") && !containsFold(raw, "aadOptscim") && !containsFold(raw, "AzureAdScimPatch") {
		return raw, nil
	}
	// Nothing is copied until a parameter changes: most queries come
	// through whole, and raw is their answer.
	var out strings.Builder
	changed, first := false, true
	for start := 0; ; {
		part, next := raw[start:], -1
		if i := strings.IndexByte(part, '&'); i >= 0 {
			part, next = part[:i], start+i+1
		}
		key, value, hasValue := strings.Cut(part, "=")
		keep, edited := part, false
		switch {
		case isEntraFlag(key):
			n.rw.add(RewriteEntraFlag)
			keep, edited = "", true
		case strings.EqualFold(key, "filter") && hasValue:
			canon, err := n.filterParam(value)
			if err != nil {
				return "", err
			}
			if canon != value || key != "filter" {
				if key != "filter" {
					n.rw.add(RewriteFilterCase)
				}
				keep, edited = "filter="+canon, true
			}
		}
		if edited && !changed {
			changed = true
			out.Grow(len(raw))
			if start > 0 {
				out.WriteString(raw[:start-1]) // the parameters before, as they came
				first = false
			}
		}
		if changed && (keep != "" || part == "") {
			if !first {
				out.WriteByte('&')
			}
			out.WriteString(keep)
			first = false
		}
		if next < 0 {
			break
		}
		start = next
	}
	if !changed {
		return raw, nil
	}
	return out.String(), nil
}

func isEntraFlag(key string) bool {
	for _, f := range entraQueryFlags {
		if strings.EqualFold(key, f) {
			return true
		}
	}
	return false
}

// filterParam returns the escaped filter value in canonical form, or value
// itself when the filter is already canonical.
func (n *normalizer) filterParam(value string) (string, error) {
	var buf [256]byte
	dec, ok := unescapeQuery(buf[:0], value)
	if !ok {
		return "", badRequest(InvalidFilter, "the filter parameter is not validly percent-encoded")
	}
	out, p, err := canonicalFilter(dec, n.res, n.quoteBareValues)
	if err != nil {
		return "", err
	}
	if out == nil {
		return value, nil
	}
	if p.legacyURN {
		n.rw.add(RewriteLegacyURN)
	}
	if p.typedValue {
		n.rw.add(RewriteTypedBoolean)
	}
	if p.quoted {
		n.rw.add(RewriteFilterQuoted)
	}
	if p.recased {
		n.rw.add(RewriteFilterCase)
	}
	esc := url.QueryEscape(string(out))
	if containsFold(value, "%20") {
		esc = strings.ReplaceAll(esc, "+", "%20")
	}
	return esc, nil
}

// unescapeQuery appends the query-decoded s ("+" is a space) to dst.
func unescapeQuery(dst []byte, s string) ([]byte, bool) {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '+':
			dst = append(dst, ' ')
		case '%':
			if i+2 >= len(s) {
				return nil, false
			}
			h, l := unhex(s[i+1]), unhex(s[i+2])
			if h < 0 || l < 0 {
				return nil, false
			}
			dst = append(dst, byte(h<<4|l))
			i += 2
		default:
			dst = append(dst, c)
		}
	}
	return dst, true
}

func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c - 'a' + 10)
	case 'A' <= c && c <= 'F':
		return int(c - 'A' + 10)
	}
	return -1
}
