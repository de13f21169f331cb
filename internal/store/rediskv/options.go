package rediskv

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Socket timeouts when the URL does not set them (dial_timeout,
// read_timeout, write_timeout). go-redis waits 5 s for a dial and for an
// answer: a Redis that stops answering without closing its connections
// (a network partition) then held every request, even those whose
// credentials were cached, since rate limits ask Redis each time, for
// 5 s before the 503. scimgate's commands are single-key and small, so an
// answer taking a second means Redis is not there.
const (
	defaultDialTimeout = 2 * time.Second
	defaultIOTimeout   = time.Second
)

// commandBudget is how long one command or pipeline may take in all,
// go-redis's retries included: twice the read timeout (2 s by default), and
// no bound when the URL turns read timeouts off. The read timeout alone
// does not bound a command: go-redis retries one whose answer timed out up
// to MaxRetries (3) times, each on another pooled connection that a stalled
// server leaves waiting as long, so a request waited 4 s and more for its
// 503. Twice the read timeout still lets a command retried after a broken
// connection succeed.
func commandBudget(readTimeout time.Duration) time.Duration {
	if readTimeout <= 0 {
		return 0
	}
	return 2 * readTimeout
}

// DefaultMaxUpdateAttempts bounds Update's optimistic retries when
// Options.MaxUpdateAttempts is zero.
const DefaultMaxUpdateAttempts = 50

// Options selects and configures the Redis deployment. Give either URL or
// Addrs.
type Options struct {
	// URL in go-redis form: redis://[user:pass@]host:port[/db], rediss:// for
	// TLS, unix:///path/to.sock. Extra ?addr=host:port parameters make it a
	// Cluster; ?master_name=name makes its hosts Sentinels (the URL's
	// user:pass then authenticate to the Sentinels, ?password= to the
	// master). Other query parameters tune the client (dial_timeout,
	// pool_size, ...). A URL carries its own addresses, credentials, database
	// and TLS switch, so Addrs, MasterName, Username, Password, DB and TLS
	// must stay empty.
	URL string
	// Addrs, used when URL is empty: one address is a single node, several
	// are Cluster seeds, and with MasterName they are Sentinels.
	Addrs      []string
	MasterName string
	Username   string
	Password   string
	// DB selects the logical database (not available in Cluster mode).
	DB int
	// TLS enables TLS 1.2+ with the system roots.
	TLS bool
	// TLSConfig replaces the TLS settings of the URL or of TLS (for private
	// CAs or client certificates).
	TLSConfig *tls.Config

	// Prefix namespaces every key this store reads or writes, e.g.
	// "scimgate:". It is not applied to keys written through Client.
	Prefix string
	// MaxUpdateAttempts bounds how often Update retries after a concurrent
	// write to its key (DefaultMaxUpdateAttempts when zero).
	MaxUpdateAttempts int
}

// clientConfig holds exactly one of the go-redis option kinds, mirroring the
// choice redis.NewUniversalClient makes, so that URLs parsed by go-redis keep
// every tuning parameter they carry.
type clientConfig struct {
	single   *redis.Options
	cluster  *redis.ClusterOptions
	failover *redis.FailoverOptions
}

// buildConfig validates o and turns it into client options. It never
// connects, and its errors never contain credentials.
func buildConfig(o Options) (clientConfig, error) {
	var cfg clientConfig
	switch {
	case o.URL != "" && (len(o.Addrs) > 0 || o.MasterName != "" || o.Username != "" || o.Password != "" || o.DB != 0 || o.TLS):
		return cfg, errors.New("rediskv: URL already names addresses, credentials, database and TLS; leave Addrs, MasterName, Username, Password, DB and TLS empty")
	case o.URL != "":
		parsed, err := parseURL(o.URL)
		if err != nil {
			return cfg, err
		}
		cfg = parsed
	case len(o.Addrs) == 0:
		return cfg, errors.New("rediskv: neither URL nor Addrs given")
	default:
		cfg = fromAddrs(o)
		if cfg.cluster != nil && o.DB != 0 {
			return cfg, errors.New("rediskv: DB cannot be selected in Cluster mode")
		}
	}

	tlsConfig := o.TLSConfig
	if tlsConfig == nil && o.TLS {
		tlsConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	switch {
	case cfg.cluster != nil:
		setTimeouts(&cfg.cluster.DialTimeout, &cfg.cluster.ReadTimeout, &cfg.cluster.WriteTimeout)
		cfg.cluster.ContextTimeoutEnabled = true
		if tlsConfig != nil {
			cfg.cluster.TLSConfig = tlsConfig
		}
	case cfg.failover != nil:
		setTimeouts(&cfg.failover.DialTimeout, &cfg.failover.ReadTimeout, &cfg.failover.WriteTimeout)
		cfg.failover.ContextTimeoutEnabled = true
		if tlsConfig != nil {
			cfg.failover.TLSConfig = tlsConfig
		}
	default:
		setTimeouts(&cfg.single.DialTimeout, &cfg.single.ReadTimeout, &cfg.single.WriteTimeout)
		cfg.single.ContextTimeoutEnabled = true
		if tlsConfig != nil {
			cfg.single.TLSConfig = tlsConfig
		}
	}
	return cfg, nil
}

// setTimeouts fills the timeouts left at zero, go-redis's "default"; a
// URL's own values, -1 (none) included, stay.
func setTimeouts(dial, read, write *time.Duration) {
	if *dial == 0 {
		*dial = defaultDialTimeout
	}
	if *read == 0 {
		*read = defaultIOTimeout
	}
	if *write == 0 {
		*write = defaultIOTimeout
	}
}

// parseURL picks the go-redis parser the URL's query asks for.
func parseURL(raw string) (clientConfig, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return clientConfig{}, fmt.Errorf("rediskv: invalid URL: %w", redactURLError(err))
	}
	var cfg clientConfig
	switch q := u.Query(); {
	case q.Has("master_name"):
		cfg.failover, err = redis.ParseFailoverURL(raw)
		if err == nil && cfg.failover.MasterName == "" {
			err = errors.New("empty master_name")
		}
	case q.Has("addr"):
		cfg.cluster, err = redis.ParseClusterURL(raw)
	default:
		cfg.single, err = redis.ParseURL(raw)
	}
	if err != nil {
		// %s, not %w: the parser's message may quote a secret, and a
		// wrapped error would keep it reachable.
		return clientConfig{}, fmt.Errorf("rediskv: invalid URL %s: %s", redactedURL(u), redact(redactURLError(err).Error(), u))
	}
	return cfg, nil
}

func fromAddrs(o Options) clientConfig {
	uo := &redis.UniversalOptions{
		Addrs:      slices.Clone(o.Addrs),
		MasterName: o.MasterName,
		Username:   o.Username,
		Password:   o.Password,
		DB:         o.DB,
	}
	switch {
	case o.MasterName != "":
		return clientConfig{failover: uo.Failover()}
	case len(o.Addrs) > 1:
		return clientConfig{cluster: uo.Cluster()}
	default:
		return clientConfig{single: uo.Simple()}
	}
}

// newClient builds the client, every command of which, also those sent
// through Store.Client by the rate limiter and the revocation cache, runs
// within commandBudget.
func (c clientConfig) newClient() redis.UniversalClient {
	var client redis.UniversalClient
	switch {
	case c.cluster != nil:
		client = redis.NewClusterClient(c.cluster)
	case c.failover != nil && (c.failover.RouteByLatency || c.failover.RouteRandomly):
		// NewFailoverClient panics on these; the cluster variant routes reads.
		client = redis.NewFailoverClusterClient(c.failover)
	case c.failover != nil:
		client = redis.NewFailoverClient(c.failover)
	default:
		client = redis.NewClient(c.single)
	}
	if budget := commandBudget(c.readTimeout()); budget > 0 {
		hook := deadlineHook{budget: budget}
		client.AddHook(hook)
		if cluster, ok := client.(*redis.ClusterClient); ok {
			// Commands sent to one node, as List's SCAN on each master,
			// do not pass through the cluster client's hooks.
			cluster.OnNewNode(func(node *redis.Client) { node.AddHook(hook) })
		}
	}
	return client
}

func (c clientConfig) readTimeout() time.Duration {
	switch {
	case c.cluster != nil:
		return c.cluster.ReadTimeout
	case c.failover != nil:
		return c.failover.ReadTimeout
	default:
		return c.single.ReadTimeout
	}
}

// deadlineHook gives every command and pipeline a deadline budget away,
// unless its context already has an earlier one.
type deadlineHook struct{ budget time.Duration }

func (deadlineHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h deadlineHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		bounded, cancel := h.bound(ctx)
		defer cancel()
		return h.explain(ctx, bounded, next(bounded, cmd))
	}
}

func (h deadlineHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		bounded, cancel := h.bound(ctx)
		defer cancel()
		return h.explain(ctx, bounded, next(bounded, cmds))
	}
}

func (h deadlineHook) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if d, ok := ctx.Deadline(); ok && time.Until(d) <= h.budget {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, h.budget)
}

// explain says that Redis was too slow when the budget, not the caller,
// ended the command: a bare "context deadline exceeded" in the log would
// point at the request instead.
func (h deadlineHook) explain(caller, bounded context.Context, err error) error {
	if err == nil || bounded.Err() == nil || caller.Err() != nil {
		return err
	}
	return fmt.Errorf("no answer within %v: %w", h.budget, err)
}

// describe names the deployment for error messages, without credentials.
func (c clientConfig) describe() string {
	switch {
	case c.cluster != nil:
		return "cluster " + strings.Join(c.cluster.Addrs, ",")
	case c.failover != nil:
		return fmt.Sprintf("master %q via sentinels %s", c.failover.MasterName, strings.Join(c.failover.SentinelAddrs, ","))
	default:
		return c.single.Network + " " + c.single.Addr
	}
}

// redactURLError drops the URL that net/url embeds in its errors, since it
// may carry a password.
func redactURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// redactedURL keeps only what locates the server.
func redactedURL(u *url.URL) string {
	return (&url.URL{Scheme: u.Scheme, Host: u.Host}).String()
}

// redact blanks out every password the URL carries, in userinfo or in the
// query parameters go-redis reads passwords from.
func redact(msg string, u *url.URL) string {
	secrets := u.Query()["password"]
	secrets = append(secrets, u.Query()["sentinel_password"]...)
	if p, ok := u.User.Password(); ok {
		secrets = append(secrets, p)
	}
	for _, secret := range secrets {
		if secret != "" {
			msg = strings.ReplaceAll(msg, secret, "xxxxx")
		}
	}
	return msg
}

// expiry converts a ttl to what SET PX accepts: whole milliseconds, rounded
// up so a key never lives shorter than asked.
func expiry(ttl time.Duration) time.Duration {
	if ttl <= 0 {
		return 0
	}
	if rest := ttl % time.Millisecond; rest != 0 && ttl <= math.MaxInt64-time.Millisecond {
		ttl += time.Millisecond - rest
	}
	return ttl
}
