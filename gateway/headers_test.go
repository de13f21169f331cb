package gateway

import (
	"net/http"
	"slices"
	"testing"
)

func TestOutboundHeaders(t *testing.T) {
	rules := newHeaderRules("X-Tenant-Id", "X-Scim-Client")
	in := http.Header{
		"X-Tenant-Id":            {"evil"},
		"X_tenant_id":            {"evil"}, // CGI-style stacks read this as X-Tenant-Id
		"X-Scim-Client":          {"evil"},
		"X-Scim-Tenant":          {"not ours, kept"},
		"X-Auth-Method":          {"jwt"},
		"X-Auth-User":            {"admin"},
		"X-Scimgate-Anything":    {"1"},
		"Forwarded":              {"for=1.2.3.4"},
		"X-Forwarded-For":        {"1.2.3.4"},
		"X-Forwarded-Host":       {"evil"},
		"X-Real-Ip":              {"1.2.3.4"},
		"True-Client-Ip":         {"1.2.3.4"},
		"Cf-Connecting-Ip":       {"1.2.3.4"},
		"Fastly-Client-Ip":       {"1.2.3.4"},
		"X-Cluster-Client-Ip":    {"1.2.3.4"},
		"X-Host":                 {"evil"},
		"X-Request-Id":           {"spoofed"},
		"X-Idp-Profile":          {"okta"},
		"X-Http-Method-Override": {"DELETE"},
		"X-Original-Url":         {"/admin"},
		"Accept-Encoding":        {"gzip"},
		"Authorization":          {"Bearer x"},
		"Accept":                 {"application/scim+json"},
		"User-Agent":             {"Okta SCIM Client 1.0.0"},
		"Content-Type":           {"application/scim+json"},
		"Content-Length":         {"12"},
		"Expect":                 {"100-continue"},
		"Connection":             {"keep-alive, X-Hop"},
		"X-Hop":                  {"this connection only"},
		"Keep-Alive":             {"timeout=5"},
		"Te":                     {"trailers"},
		"Upgrade":                {"websocket"},
		"Proxy-Authorization":    {"Basic eA=="},
	}
	kept := func(h http.Header) []string {
		var names []string
		for k := range h {
			names = append(names, k)
		}
		slices.Sort(names)
		return names
	}
	if got, want := kept(rules.outbound(in, false, 0)), []string{"Accept", "Content-Type", "User-Agent", "X-Scim-Tenant"}; !slices.Equal(got, want) {
		t.Errorf("kept %v, want %v", got, want)
	}
	if rules.outbound(in, true, 0).Get("Authorization") == "" {
		t.Error("Authorization stripped although the route forwards it")
	}
	for name, want := range map[string]bool{
		"X-Tenant-Id": true, "x-tenant_id": true, "X-Auth-": true, "x-forwarded-proto": true, "X-Original-Method": true,
		"X-Scim": false, "Authorization": false, "X-Upstream-Key": false, "": false, "A": false,
	} {
		if got := rules.owned(name); got != want {
			t.Errorf("owned(%q) = %v", name, got)
		}
	}
}

func TestTTLCache(t *testing.T) {
	c := newTTLCache[string, int](cacheShards) // one entry per shard
	c.put("a", 1, 100, 0)
	if v, ok := c.get("a", 99); !ok || v != 1 {
		t.Fatalf("get before expiry = %v, %v", v, ok)
	}
	if _, ok := c.get("a", 100); ok {
		t.Fatal("expired entry returned")
	}
	c.put("dead", 1, 0, 10)
	if _, ok := c.get("dead", 0); ok {
		t.Fatal("entry stored with a past deadline")
	}
	for i := range 1000 {
		c.put(string(rune('a'+i%26))+string(rune(i)), i, 1000, 0)
	}
	total := 0
	for i := range c.shards {
		total += len(c.shards[i].m)
	}
	if total > cacheShards {
		t.Fatalf("cache holds %d entries, bound %d", total, cacheShards)
	}
	c.remove("a")
	var nilCache *ttlCache[string, int]
	nilCache.put("a", 1, 100, 0)
	if _, ok := nilCache.get("a", 0); ok || newTTLCache[string, int](0) != nil {
		t.Fatal("a size-0 cache stores")
	}
}
