package scimtest

import (
	"testing"

	"github.com/scimgate/scimgate/internal/scim"
)

// RFC 7644 §3.4.2.2: gt, ge, lt and le compare dateTime values
// chronologically. Each case is chosen so that comparing the text would
// give the other answer, or names the boundary.
func TestFilterComparesDateTimesChronologically(t *testing.T) {
	user := map[string]any{
		"userName": "ann",
		"meta": map[string]any{
			"created":      "2026-03-01T12:00:00+02:00", // 10:00 UTC
			"lastModified": "2026-03-01T10:00:00.5Z",
		},
	}
	for _, tc := range []struct {
		filter string
		want   bool
	}{
		// created is 10:00Z, written with a +02:00 offset.
		{`meta.created gt "2026-03-01T11:00:00Z"`, false},
		{`meta.created lt "2026-03-01T11:00:00Z"`, true},
		{`meta.created ge "2026-03-01T10:00:00Z"`, true},
		{`meta.created le "2026-03-01T10:00:00Z"`, true},
		{`meta.created gt "2026-03-01T10:00:00Z"`, false},
		{`meta.created lt "2026-03-01T10:00:00Z"`, false},
		{`meta.created eq "2026-03-01T10:00:00Z"`, true},
		{`meta.created eq "2026-03-01T05:00:00-05:00"`, true},
		{`meta.created ne "2026-03-01T10:00:00Z"`, false},
		{`meta.created ne "2026-03-01T10:00:01Z"`, true},
		{`meta.created gt "2026-03-01T23:00:00+14:00"`, true}, // 09:00Z
		// lastModified has half a second more than 10:00:00Z.
		{`meta.lastModified gt "2026-03-01T10:00:00Z"`, true},
		{`meta.lastModified lt "2026-03-01T10:00:00.500000001Z"`, true},
		{`meta.lastModified ge "2026-03-01T10:00:00.500Z"`, true},
		{`meta.lastModified le "2026-03-01T10:00:00.499Z"`, false},
		{`meta.lastModified gt "2026-03-01t10:00:00z"`, true},
		{`meta.lastModified gt "2026-03-01T00:00:00-12:00"`, false}, // 12:00Z
		// Across the year boundary in two offsets.
		{`meta.created gt "2025-12-31T23:00:00-01:00" and meta.created lt "2027-01-01T00:00:00+01:00"`, true},
		{`not (meta.lastModified ge "2026-03-01T10:00:00.5Z")`, false},
		// co, sw and ew still compare the text.
		{`meta.created sw "2026-03-01T12"`, true},
		{`meta.created co "+02:00"`, true},
	} {
		t.Run(tc.filter, func(t *testing.T) {
			e, err := scim.ParseFilter(tc.filter)
			if err != nil {
				t.Fatal(err)
			}
			if err := checkFilter(scim.Users, nil, e); err != nil {
				t.Fatal(err)
			}
			if got := matches(scim.Users, e, user); got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// A dateTime compared with something that is not an RFC 3339 date-time has
// no instant to compare with: 400 invalidFilter, not an answer from string
// order.
func TestFilterRefusesDateTimeComparisonsWithoutAnInstant(t *testing.T) {
	for _, tc := range []struct {
		filter string
		ok     bool
	}{
		{`meta.lastModified gt "yesterday"`, false},
		{`meta.lastModified gt "2026-03-01"`, false},
		{`meta.lastModified gt "2026-03-01T10:00:00"`, false}, // no time zone
		{`meta.lastModified gt "2026-03-01 10:00:00Z"`, false},
		{`meta.lastModified gt "2026-02-30T10:00:00Z"`, false},
		{`meta.lastModified gt 20260301`, false},
		{`meta.lastModified eq true`, false},
		{`meta.lastModified ne null`, false},
		{`userName eq "x" or not (meta.created le "soon")`, false},
		{`meta.lastModified pr`, true},
		{`meta.lastModified sw "2026"`, true},
		{`userName gt "2026"`, true},
		{`emails[type eq "work" and value gt "a"]`, true},
	} {
		t.Run(tc.filter, func(t *testing.T) {
			e, err := scim.ParseFilter(tc.filter)
			if err != nil {
				t.Fatal(err)
			}
			err = checkFilter(scim.Users, nil, e)
			se, _ := err.(*scim.Error)
			switch {
			case tc.ok && err != nil:
				t.Errorf("refused: %v", err)
			case !tc.ok && (se == nil || se.Status != 400 || se.ScimType != scim.InvalidFilter):
				t.Errorf("got %v, want 400 invalidFilter", err)
			}
		})
	}
}
