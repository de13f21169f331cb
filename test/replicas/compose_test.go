package replicas

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/scimgate/scimgate/config"
)

// The Docker engine is not available where the tests run, so the images
// are not built here; this checks that docker-compose.yml and the
// Dockerfile agree with each other and with the code: two scimgate
// replicas on one Redis with persistence, secrets from the environment, a
// configuration that scimgate accepts, and an example upstream that the
// Dockerfile builds.
func TestComposeFileAndDockerfile(t *testing.T) {
	root := filepath.Join("..", "..")
	raw, err := os.ReadFile(filepath.Join(root, "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var compose struct {
		Services map[string]struct {
			Image string `yaml:"image"`
			Build struct {
				Context string `yaml:"context"`
				Target  string `yaml:"target"`
			} `yaml:"build"`
			Command     []string          `yaml:"command"`
			Environment map[string]string `yaml:"environment"`
			Volumes     []string          `yaml:"volumes"`
			Ports       []string          `yaml:"ports"`
			Configs     []struct {
				Source string `yaml:"source"`
				Target string `yaml:"target"`
			} `yaml:"configs"`
			Healthcheck map[string]any `yaml:"healthcheck"`
		} `yaml:"services"`
		Configs map[string]struct {
			Content string `yaml:"content"`
		} `yaml:"configs"`
		Volumes map[string]any `yaml:"volumes"`
	}
	if err := yaml.Unmarshal(raw, &compose); err != nil {
		t.Fatal(err)
	}
	dockerfile, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}

	redis, ok := compose.Services["redis"]
	switch {
	case !ok:
		t.Fatal("no redis service")
	case !strings.Contains(strings.Join(redis.Command, " "), "--appendonly yes"):
		t.Errorf("redis runs without the append-only file: %v", redis.Command)
	case len(redis.Volumes) != 1 || !strings.HasSuffix(redis.Volumes[0], ":/data"):
		t.Errorf("redis data is not kept on a volume: %v", redis.Volumes)
	default:
		if _, named := compose.Volumes[strings.SplitN(redis.Volumes[0], ":", 2)[0]]; !named {
			t.Errorf("redis data is not on a named volume: %v", redis.Volumes)
		}
	}

	upstream := compose.Services["upstream"]
	if upstream.Build.Target == "" || !regexp.MustCompile(`(?m)^FROM \S+ AS `+regexp.QuoteMeta(upstream.Build.Target)+`$`).Match(dockerfile) {
		t.Errorf("the upstream service builds target %q, which the Dockerfile lacks", upstream.Build.Target)
	}

	var replicas []string
	for name, s := range compose.Services {
		if s.Build.Context == "." && s.Build.Target == "" {
			replicas = append(replicas, name)
		}
	}
	if len(replicas) != 2 {
		t.Fatalf("%d scimgate services (%v), want 2", len(replicas), replicas)
	}
	hostPorts := map[string]bool{}
	for _, name := range replicas {
		s := compose.Services[name]
		for _, v := range []string{config.EnvMasterKey, "SCIMGATE_ADMIN_TOKEN"} {
			if !strings.HasPrefix(s.Environment[v], "${"+v+":?") {
				t.Errorf("%s: %s must come from the environment and be required, got %q", name, v, s.Environment[v])
			}
		}
		for _, p := range s.Ports {
			parts := strings.Split(p, ":")
			if hostPorts[strings.Join(parts[:len(parts)-1], ":")] {
				t.Errorf("%s: host port %s used twice", name, p)
			}
			hostPorts[strings.Join(parts[:len(parts)-1], ":")] = true
			if container := parts[len(parts)-1]; container == "8081" && !strings.HasPrefix(p, "127.0.0.1:") {
				t.Errorf("%s publishes the admin port beyond loopback: %s", name, p)
			}
		}
		if len(s.Configs) != 1 || s.Configs[0].Target != s.Environment[config.EnvConfig] {
			t.Errorf("%s: the mounted configuration is not the one SCIMGATE_CONFIG names", name)
		}

		// The configuration must pass scimgate's own validation, with the
		// environment the service sets.
		content := compose.Configs[s.Configs[0].Source].Content
		path := filepath.Join(t.TempDir(), "scimgate.yaml")
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		var env []string
		for k, v := range s.Environment {
			if k != config.EnvConfig && k != config.EnvMasterKey {
				env = append(env, k+"="+interpolate(v))
			}
		}
		cfg, err := config.Load(path, env)
		if err != nil {
			t.Fatalf("%s: scimgate rejects the compose configuration: %v", name, err)
		}
		if cfg.Store.Backend != config.BackendRedis || !strings.Contains(cfg.Store.Redis.URL, "//redis:") {
			t.Errorf("%s does not use the redis service: %s %s", name, cfg.Store.Backend, cfg.Store.Redis.URL)
		}
		if len(cfg.Gateway.Routes) != 1 || !strings.HasPrefix(cfg.Gateway.Routes[0].Upstream, "http://upstream:9000/") {
			t.Errorf("%s does not route to the example upstream: %+v", name, cfg.Gateway.Routes)
		}
		if cfg.Listen.ShutdownDelay == 0 || !cfg.Metrics.Enabled {
			t.Errorf("%s: no shutdown delay (%s) or no metrics", name, cfg.Listen.ShutdownDelay)
		}
		for _, port := range []string{cfg.Listen.Public, cfg.Listen.Admin} {
			if !regexp.MustCompile(`(?m)^EXPOSE .*\b` + strings.TrimPrefix(port, "0.0.0.0:") + `\b`).Match(dockerfile) {
				t.Errorf("the Dockerfile does not expose %s", port)
			}
		}
	}
	if !strings.Contains(string(dockerfile), "EXPOSE 9000") || !strings.Contains(string(dockerfile), `"--listen", ":9000"`) {
		t.Error("the example upstream does not listen on 9000")
	}

	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "./cmd/scimgate", "./test/upstream", "USER nonroot", "-X main.version="} {
		if !strings.Contains(string(dockerfile), want) {
			t.Errorf("the Dockerfile lacks %q", want)
		}
	}
	for _, dir := range []string{"cmd/scimgate", "test/upstream"} {
		if _, err := os.Stat(filepath.Join(root, dir, "main.go")); err != nil {
			t.Errorf("the Dockerfile builds ./%s: %v", dir, err)
		}
	}
}

// interpolate resolves ${NAME:-default} to the default and ${NAME:?msg}
// to a 44-character value, as the README's openssl command would give.
func interpolate(v string) string {
	return regexp.MustCompile(`\$\{(\w+)(:-([^}]*)|:\?[^}]*)\}`).ReplaceAllStringFunc(v, func(m string) string {
		if i := strings.Index(m, ":-"); i >= 0 {
			return m[i+2 : len(m)-1]
		}
		return strings.Repeat("k", 44)
	})
}
