package app

import (
	"net"
	"strings"
	"testing"
)

// A listener that cannot be opened is explained with the configuration key
// and its variable, the address said once.
func TestListenTCPErrors(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	addr := taken.Addr().String()
	for name, tc := range map[string]struct {
		key, addr, want string
	}{
		"in use": {"listen.public", addr, "listen.public " + addr + ": the address is already in use by another process (another scimgate?): " +
			"stop it, or choose another address with listen.public or SCIMGATE_LISTEN_PUBLIC"},
		"not an address here": {"listen.admin", "192.0.2.1:0", "listen.admin 192.0.2.1:0: no network interface of this machine has that address"},
	} {
		t.Run(name, func(t *testing.T) {
			ln, err := listenTCP(tc.key, tc.addr)
			if err == nil {
				ln.Close()
				t.Fatal("listened")
			}
			if !strings.HasPrefix(err.Error(), tc.want) || strings.Count(err.Error(), tc.addr) != 1 {
				t.Fatalf("error %q, want %q", err, tc.want)
			}
		})
	}
}
