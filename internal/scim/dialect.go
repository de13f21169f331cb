package scim

import (
	"bytes"
	"fmt"
	"strings"
)

// Dialect names an identity provider's SCIM habits, as configured per route.
type Dialect string

// Route settings, plus Unknown for what Detect returns when a request shows no
// provider.
const (
	Auto     Dialect = "auto"     // recognise the provider per request (Detect)
	Entra    Dialect = "entra"    // Microsoft Entra ID, both the default job and aadOptscim062020
	Okta     Dialect = "okta"     // Okta, OIN and AIW apps and the Runscope suites
	OneLogin Dialect = "onelogin" // OneLogin SCIM v2 Core / Enterprise connectors
	Off      Dialect = "off"      // no rewriting in either direction
	Unknown  Dialect = "unknown"  // Auto found no provider: only the universal rewrites run
)

// ParseDialect reads a route's dialect setting; "" means Auto.
func ParseDialect(s string) (Dialect, error) {
	switch d := Dialect(strings.ToLower(strings.TrimSpace(s))); d {
	case "":
		return Auto, nil
	case Auto, Entra, Okta, OneLogin, Off:
		return d, nil
	}
	return "", fmt.Errorf("scim: unknown dialect %q (want auto, entra, okta, onelogin or off)", s)
}

// entraQueryFlags are the job switches Entra admins append to the Tenant URL
// (entra.md §5). They mean nothing to an upstream.
var entraQueryFlags = [...]string{"aadOptscim062020", "AzureAdScimPatch062020", "AzureAdScimPatch2017"}

// Detect recognises the provider from what the request itself shows, and
// returns Unknown rather than guess. Signals, strongest first:
//
//   - User-Agent "Okta SCIM Client 1.0.0" / "OKTA SCIM Integration" → Okta;
//     "OneLogin SCIM" (a custom header vendors have admins add) → OneLogin;
//   - Entra's job flags in the query (aadOptscim062020, AzureAdScimPatch…) or
//     its historic ADSCIMVersion header → Entra;
//   - in the body: Entra's capitalised PATCH ops ("Replace", "Add", "Remove"),
//     its ADSCIM group URN, its misspelled "…enterprise:2.0User" URN, or
//     "$ref":null member values → Entra; OneLogin's "urn:scim:schemas:…"
//     template URNs → OneLogin.
//
// Entra documents no User-Agent, so a bare Entra GET stays Unknown; that is
// harmless because every rewrite a GET needs is universal.
func Detect(req Request) Dialect {
	ua := req.header("User-Agent")
	switch {
	case containsFold(ua, "okta"):
		return Okta
	case containsFold(ua, "onelogin"):
		return OneLogin
	case req.header("Adscimversion") != "": // ADSCIMVersion in canonical form
		return Entra
	}
	for _, f := range entraQueryFlags {
		if containsFold(req.RawQuery, f) {
			return Entra
		}
	}
	b := req.Body
	switch {
	case len(b) == 0:
		return Unknown
	case hasCapitalisedOp(b),
		bytes.Contains(b, []byte("ResourceManagement/ADSCIM/")),
		bytes.Contains(b, []byte(`enterprise:2.0User"`)),
		bytes.Contains(b, []byte(`"$ref":null`)):
		return Entra
	case bytes.Contains(b, []byte(`"urn:scim:schemas:`)):
		return OneLogin
	}
	return Unknown
}

// hasCapitalisedOp finds "op":"Replace" (or Add, Remove) with any spacing.
func hasCapitalisedOp(b []byte) bool {
	for {
		i := bytes.Index(b, []byte(`"op"`))
		if i < 0 {
			return false
		}
		b = bytes.TrimLeft(b[i+4:], " \t\r\n")
		if len(b) == 0 || b[0] != ':' {
			continue
		}
		v := bytes.TrimLeft(b[1:], " \t\r\n")
		for _, op := range [...]string{`"Replace"`, `"Add"`, `"Remove"`} {
			if bytes.HasPrefix(v, []byte(op)) {
				return true
			}
		}
	}
}

// rules are the rewrites that could change the meaning of another client's
// request, switched on only for the provider known to need them. Everything
// else the normalizer does is universal: it either turns a request a strict
// RFC 7644 server would reject into the one form it can mean, or replaces a
// form with an RFC-equivalent one. DIALECTS.md lists both sets.
type rules struct {
	// emptyClears: "" on a simple attribute means "clear it". Entra's null
	// test PATCHes "" expecting a cleared value; OneLogin renders unmapped
	// template parameters as "". Another client might mean a literal "".
	emptyClears bool
	// qualifyEnterprise: unqualified manager, department, employeeNumber,
	// costCenter, organization and division on /Users are the enterprise
	// extension's (Entra's legacy create body and "path":"manager"); a
	// conditional manager removal (manager[value eq "x"]) becomes a plain
	// removal. An upstream with its own extension could mean something else.
	qualifyEnterprise bool
	// quoteBareValues: externalId eq jyoung (Entra's legacy customappsso job)
	// compares with the string "jyoung". For anyone else it is invalidFilter.
	quoteBareValues bool
}

func rulesFor(d Dialect) rules {
	switch d {
	case Entra:
		return rules{emptyClears: true, qualifyEnterprise: true, quoteBareValues: true}
	case OneLogin:
		return rules{emptyClears: true}
	}
	return rules{}
}

// containsFold reports whether s contains sub ignoring ASCII case, without
// allocating.
func containsFold(s, sub string) bool {
	if sub == "" {
		return true
	}
	first := sub[0] | 0x20
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i]|0x20 == first && strings.EqualFold(s[i:i+len(sub)], sub) {
			return true
		}
	}
	return false
}
