package clientip

import (
	"net/http/httptest"
	"net/netip"
	"testing"
)

func TestIP(t *testing.T) {
	lb := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	for _, tc := range []struct {
		name    string
		trusted []netip.Prefix
		peer    string
		xff     []string
		want    string
	}{
		{"no proxies configured", nil, "203.0.113.5:4000", []string{"1.2.3.4"}, "203.0.113.5"},
		{"untrusted peer forges XFF", lb, "203.0.113.5:4000", []string{"1.2.3.4"}, "203.0.113.5"},
		{"trusted proxy", lb, "10.1.2.3:4000", []string{"198.51.100.7"}, "198.51.100.7"},
		{"client prepends a forged hop", lb, "10.1.2.3:4000", []string{"6.6.6.6, 198.51.100.7"}, "198.51.100.7"},
		{"two trusted hops", lb, "10.1.2.3:4000", []string{"198.51.100.7, 10.9.9.9"}, "198.51.100.7"},
		{"several headers", lb, "10.1.2.3:4000", []string{"6.6.6.6", "198.51.100.7"}, "198.51.100.7"},
		{"garbage entry", lb, "10.1.2.3:4000", []string{"nonsense"}, "10.1.2.3"},
		{"only trusted hops", lb, "10.1.2.3:4000", []string{"10.0.0.1"}, "10.1.2.3"},
		{"no XFF from proxy", lb, "10.1.2.3:4000", nil, "10.1.2.3"},
		{"ipv4-mapped peer", lb, "[::ffff:10.1.2.3]:4000", []string{"198.51.100.7"}, "198.51.100.7"},
		{"ipv6 client", lb, "10.1.2.3:4000", []string{"2001:db8::1"}, "2001:db8::1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tc.peer
			for _, v := range tc.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := New(tc.trusted).IP(r); got != tc.want {
				t.Fatalf("IP = %s, want %s", got, tc.want)
			}
		})
	}
}

func FuzzIP(f *testing.F) {
	f.Add("10.1.2.3:4000", "1.2.3.4, 10.0.0.1")
	f.Add("[::1]:1", ",,,")
	res := New([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")})
	f.Fuzz(func(t *testing.T, peer, xff string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = peer
		r.Header.Set("X-Forwarded-For", xff)
		_ = res.IP(r)
	})
}

// FuzzAddrString holds the allocation-free form to netip's.
func FuzzAddrString(f *testing.F) {
	for _, s := range []string{"10.1.2.3", "::ffff:10.1.2.3", "2001:db8::1", "010.1.2.3", "1.2.3.4%eth0", "fe80::1%eth0", "", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, host string) {
		a := parseAddr(host)
		if got, want := addrString(a, host), a.String(); got != want {
			t.Fatalf("addrString(%q) = %q, want %q", host, got, want)
		}
	})
}
