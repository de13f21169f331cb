package app

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/scimgate/scimgate/config"
)

// TestChunkedRequestClosesConnection sends requests that carry a
// Transfer-Encoding, with a second request pipelined behind them. A
// request with both Transfer-Encoding and Content-Length is how a front
// proxy that frames by Content-Length and scimgate, which frames by the
// chunks, can be made to disagree on where a request ends (RFC 9112 §6.1,
// §11.2): the server must close the connection after answering it, so
// that what follows is never served as a request of its own.
func TestChunkedRequestClosesConnection(t *testing.T) {
	bothServers(t, func(t *testing.T, fastPath bool) {
		s := startServer(t, serverOptions{config: func(c *config.Config) { c.Listen.FastPath = fastPath }})
		creds := s.newCredentials("acme")
		smuggled := func(id string) string {
			return "GET /scim/v2/Users HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + creds.apiKey + "\r\nX-Request-Id: " + id + "\r\n\r\n"
		}
		for i, tc := range []struct {
			name, first string
		}{
			{"CL+TE on the gateway", "GET /scim/v2/Users HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + creds.apiKey +
				"\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
			{"TE alone on the gateway", "GET /scim/v2/Users HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + creds.apiKey +
				"\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
			{"CL+TE on an unknown path", "GET /nowhere HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
			{"CL+TE on the token endpoint", "POST /oauth2/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded" +
				"\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				id := fmt.Sprintf("smuggled-%d", i)
				c, err := net.Dial("tcp", strings.TrimPrefix(s.public, "http://"))
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				if _, err := io.WriteString(c, tc.first+smuggled(id)); err != nil {
					t.Fatal(err)
				}
				br := bufio.NewReader(c)
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					t.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if !resp.Close {
					t.Errorf("first answer %d keeps the connection", resp.StatusCode)
				}
				if second, err := http.ReadResponse(br, nil); err == nil {
					t.Errorf("the pipelined request was answered too: %d", second.StatusCode)
				}
				if s.upstream.sawRequestID(id) {
					t.Error("the pipelined request reached the upstream")
				}
			})
		}
	})
}
