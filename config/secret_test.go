package config_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/scimgate/scimgate/config"
)

func TestSecretsAreNeverShown(t *testing.T) {
	const (
		adminToken    = "admin-token-0123456789abcdef0123456789"
		redisPassword = "redis-password-42"
		upstreamKey   = "upstream-key-77"
	)
	cfg := mustLoad(t, route+"      headers: {X-Key: '${UPSTREAM_KEY}'}",
		"SCIMGATE_ADMIN_TOKEN="+adminToken, "SCIMGATE_STORE_REDIS_PASSWORD="+redisPassword, "UPSTREAM_KEY="+upstreamKey)
	if cfg.Admin.Token.Reveal() != adminToken || cfg.Store.Redis.Password.Reveal() != redisPassword ||
		cfg.Gateway.Routes[0].Headers["X-Key"].Reveal() != upstreamKey {
		t.Fatal("secrets were not loaded")
	}

	var out bytes.Buffer
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q"} {
		fmt.Fprintf(&out, verb+"\n", cfg)
		fmt.Fprintf(&out, verb+"\n", *cfg)
	}
	js, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	out.Write(js)
	ym, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	out.Write(ym)
	slog.New(slog.NewJSONHandler(&out, nil)).Info("config", "config", cfg, "token", cfg.Admin.Token)
	slog.New(slog.NewTextHandler(&out, nil)).Info("config", "config", cfg, "token", cfg.Admin.Token)

	for _, secret := range []string{adminToken, redisPassword, upstreamKey} {
		if strings.Contains(out.String(), secret) {
			t.Errorf("secret %q shown in:\n%s", secret, out.String())
		}
	}
	if !strings.Contains(out.String(), "[REDACTED]") {
		t.Errorf("no [REDACTED] marker in:\n%s", out.String())
	}
	if got := fmt.Sprint(config.Secret("")); got != "" {
		t.Errorf("empty secret renders as %q", got)
	}
}

func TestSecretsAreNotInErrors(t *testing.T) {
	const secret = "hunter2-secret"
	for name, tc := range map[string]struct {
		yaml string
		env  []string
	}{
		"short admin token":        {env: []string{"SCIMGATE_ADMIN_TOKEN=" + secret}},
		"password in redis url":    {yaml: `store: {redis: {url: "redis://:` + secret + `@h:6379/0"}}`},
		"malformed redis url":      {yaml: `store: {redis: {url: "redis://:` + secret + `@h:port/0"}}`},
		"credentials in upstream":  {yaml: "gateway: {routes: [{prefix: /a, upstream: 'http://u:" + secret + "@h/x'}]}"},
		"malformed upstream":       {yaml: "gateway: {routes: [{prefix: /a, upstream: 'http://u:" + secret + "@h:port/x'}]}"},
		"header control character": {yaml: route + "      headers: {X-Key: '${K}'}", env: []string{"K=" + secret + "\n"}},
		"header bad variable name": {yaml: route + "      headers: {X-Key: '${" + secret + "}'}"},
		"unknown variable":         {env: []string{"SCIMGATE_ADMIN_TOKEM=" + secret}},
	} {
		t.Run(name, func(t *testing.T) {
			errs := loadErrors(t, tc.yaml, tc.env...)
			if strings.Contains(errs.Error(), secret) {
				t.Errorf("secret shown in:\n%v", errs)
			}
		})
	}
}
