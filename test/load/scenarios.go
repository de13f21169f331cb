package main

import (
	"github.com/scimgate/scimgate/test/load/httpload"
)

// scenario is one line of the report: what is sent, to which server.
type scenario struct {
	name    string
	through string // the server, as the table names it
	server  *server
	cycle   []httpload.Request
	// compare is the scenario this one is a ratio of, and the targets that
	// apply to it.
	compare string
	target  target
}

type target int

const (
	noTarget target = iota
	tokenTarget
	gatewayTarget
)

// The GET every scenario of the GET family sends: Entra's user lookup by
// userName (its Test Connection and every cycle begin so).
const getUsers = routePath + "/Users?filter=userName+eq+%22ann%40example.com%22"

// Bodies of the provisioning cycle, as Entra sends them: a create with its
// charset parameter and empty roles, then a PATCH with capitalised ops and
// string booleans, both of which the gateway rewrites.
const (
	createUser = `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],` +
		`"externalId":"0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef","userName":"ann@example.com","active":true,` +
		`"emails":[{"primary":true,"type":"work","value":"ann@example.com"}],"meta":{"resourceType":"User"},` +
		`"name":{"formatted":"Ann Example","familyName":"Example","givenName":"Ann"},"roles":[]}`
	patchUser = `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[` +
		`{"op":"Replace","path":"active","value":"False"},` +
		`{"op":"Add","path":"displayName","value":"Ann Example"},` +
		`{"op":"Replace","path":"emails[type eq \"work\"].value","value":"ann@example.org"}]}`
	scimJSON = "Content-Type: application/scim+json; charset=utf-8"
	accept   = "Accept: application/scim+json"
)

// servers are the processes a run starts; nil when not started.
type servers struct {
	upstream, reverseProxy, relay, relayNetHTTP, nginx *server
	gateway                                            *gateway
}

func (s servers) all() []*server {
	return []*server{s.upstream, s.reverseProxy, s.relay, s.relayNetHTTP, s.nginx, s.gateway.server}
}

func scenarios(srv servers, token string) []scenario {
	up, rp, ngx, gw := srv.upstream, srv.reverseProxy, srv.nginx, srv.gateway
	get := func(s *server, auth ...string) []httpload.Request {
		if s == nil {
			return nil
		}
		return []httpload.Request{httpload.NewRequest("GET", s.addr, getUsers, append([]string{accept}, auth...), nil)}
	}
	cycle := func(s *server, auth ...string) []httpload.Request {
		h := append([]string{accept}, auth...)
		return []httpload.Request{
			httpload.NewRequest("GET", s.addr, getUsers, h, nil),
			httpload.NewRequest("POST", s.addr, routePath+"/Users", append([]string{scimJSON}, h...), []byte(createUser)),
			httpload.NewRequest("PATCH", s.addr, routePath+"/Users/2819c223-7f76-453a-919d-413861904646", append([]string{scimJSON}, h...), []byte(patchUser)),
		}
	}
	bearer, apiKey := "Authorization: Bearer "+token, "Authorization: Bearer "+gw.apiKey
	return []scenario{
		{name: "token", through: "scimgate", server: gw.server, target: tokenTarget,
			cycle: []httpload.Request{httpload.NewRequest("POST", gw.addr, "/oauth2/token",
				[]string{gw.basicAuth(), "Content-Type: application/x-www-form-urlencoded"}, []byte("grant_type=client_credentials"))}},
		{name: "get-direct", through: "upstream", server: up, cycle: get(up)},
		{name: "get-httputil", through: "httputil.ReverseProxy", server: rp, cycle: get(rp), compare: "get-direct"},
		{name: "get-nginx", through: "nginx proxy_pass", server: ngx, cycle: get(ngx), compare: "get-direct"},
		{name: "get-relay", through: "minimal Go relay", server: srv.relay, cycle: get(srv.relay), compare: "get-direct"},
		{name: "get-relay-nethttp", through: "minimal relay, net/http server", server: srv.relayNetHTTP, cycle: get(srv.relayNetHTTP), compare: "get-direct"},
		{name: "get-gateway-jwt", through: "scimgate, access token", server: gw.server, cycle: get(gw.server, bearer), compare: "get-direct", target: gatewayTarget},
		{name: "get-gateway-apikey", through: "scimgate, API key", server: gw.server, cycle: get(gw.server, apiKey), compare: "get-direct", target: gatewayTarget},
		{name: "cycle-direct", through: "upstream", server: up, cycle: cycle(up)},
		{name: "cycle-gateway-jwt", through: "scimgate, access token", server: gw.server, cycle: cycle(gw.server, bearer), compare: "cycle-direct"},
	}
}
