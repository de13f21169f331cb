// Package credentials manages who may talk to scimgate: tenants, OAuth
// clients and their secrets, API keys and admin users. It creates, rotates
// and revokes them and checks presented secrets against their stored hashes.
package credentials

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/scimgate/scimgate/internal/secret"
	"github.com/scimgate/scimgate/internal/store"
)

var (
	// ErrNotFound reports an unknown tenant, client, API key, secret or admin.
	ErrNotFound = errors.New("not found")
	// ErrExists reports a create of something that already exists.
	ErrExists = errors.New("already exists")
	// ErrInvalid reports a request that breaks a rule; the wrapped message
	// names the field and the rule.
	ErrInvalid = errors.New("invalid")
)

// AuthError is returned when a presented credential is not accepted. Its
// Error text is deliberately the same for every reason, so that callers who
// render it cannot leak which part was wrong; Reason is for logs and audit.
type AuthError struct {
	Reason string // unknown, wrong_secret, expired, revoked, disabled, tenant_disabled
	// ClientID and TenantID name the client of a failed client
	// authentication once it was found (every reason but unknown), so that
	// the refusal can be audited against it.
	ClientID, TenantID string
}

func (e *AuthError) Error() string { return "credentials: authentication failed" }

// Reasons an AuthError can carry.
const (
	ReasonUnknown        = "unknown"
	ReasonWrongSecret    = "wrong_secret"
	ReasonExpired        = "expired"
	ReasonRevoked        = "revoked"
	ReasonDisabled       = "disabled"
	ReasonTenantDisabled = "tenant_disabled"
)

// Options configure a Service.
type Options struct {
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// PasswordParams are the argon2id costs for admin passwords.
	PasswordParams secret.PasswordParams
	// Logger receives failures of the write-behind last-used updates.
	Logger *slog.Logger
	// DefaultAccessTTL is the access-token lifetime of clients without
	// their own (tokens.access_ttl); DefaultAccessTTL when zero.
	DefaultAccessTTL time.Duration
}

// Service is the one place credentials are created, changed and checked.
// It is safe for concurrent use; every read-modify-write goes through
// store.KV.Update so concurrent replicas never lose each other's changes.
type Service struct {
	kv     store.KV
	hasher *secret.Hasher
	now    func() time.Time
	pwp    secret.PasswordParams
	log    *slog.Logger
	usage  *usageRecorder
	// defaultAccessTTL is the lifetime of clients without their own.
	defaultAccessTTL time.Duration
	// Decoded clients and tenants for the authentication paths.
	clients *decodedRecords[Client]
	tenants *decodedRecords[Tenant]
	// dummyHash is checked when a client id is unknown, so that an unknown id
	// costs the same as a wrong secret and ids cannot be enumerated by timing.
	dummyHash string
	// dummyPassword plays the same role for unknown admin usernames. It is
	// made on first use: an argon2id hash takes its full memory cost
	// (64 MiB by default), which every server start and every CLI command
	// would otherwise pay, and keep as resident memory for a while.
	dummyPassword func() string
}

// New returns a Service over kv. hasher turns secrets into stored hashes.
func New(kv store.KV, hasher *secret.Hasher, opts Options) *Service {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.PasswordParams == (secret.PasswordParams{}) {
		opts.PasswordParams = secret.DefaultPasswordParams()
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.DefaultAccessTTL == 0 {
		opts.DefaultAccessTTL = DefaultAccessTTL
	}
	s := &Service{
		kv:               kv,
		hasher:           hasher,
		now:              opts.Now,
		pwp:              opts.PasswordParams,
		log:              opts.Logger,
		defaultAccessTTL: opts.DefaultAccessTTL,
		dummyHash:        hasher.Hash(secret.New()),
		dummyPassword:    sync.OnceValue(func() string { return secret.HashPassword(secret.New(), opts.PasswordParams) }),
		clients:          newDecodedRecords[Client](),
		tenants:          newDecodedRecords[Tenant](),
	}
	s.usage = newUsageRecorder(s)
	return s
}

// Store keys. Everything credentials keeps lives under these prefixes.
const (
	tenantPrefix = "tenants/"
	clientPrefix = "clients/"
	apiKeyPrefix = "apikeys/"
	adminPrefix  = "admins/"
)

func getJSON[T any](ctx context.Context, kv store.KV, key string) (*T, error) {
	b, err := kv.Get(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, fmt.Errorf("decode %s: %w", key, err)
	}
	return &v, nil
}

func createJSON(ctx context.Context, kv store.KV, key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s: %w", key, err)
	}
	if err := kv.Create(ctx, key, b, 0); err != nil {
		if errors.Is(err, store.ErrExists) {
			return ErrExists
		}
		return fmt.Errorf("write %s: %w", key, err)
	}
	return nil
}

// updateJSON applies change to the record under key atomically. change may
// be called several times; it must only modify the value it is given.
func updateJSON[T any](ctx context.Context, kv store.KV, key string, change func(*T) error) (*T, error) {
	var out *T
	err := kv.Update(ctx, key, func(old []byte) ([]byte, time.Duration, error) {
		if old == nil {
			return nil, 0, ErrNotFound
		}
		var v T
		if err := json.Unmarshal(old, &v); err != nil {
			return nil, 0, fmt.Errorf("decode %s: %w", key, err)
		}
		if err := change(&v); err != nil {
			return nil, 0, err
		}
		b, err := json.Marshal(&v)
		if err != nil {
			return nil, 0, err
		}
		out = &v
		return b, 0, nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func listJSON[T any](ctx context.Context, kv store.KV, prefix string, keep func(*T) bool) ([]T, error) {
	entries, err := kv.List(ctx, prefix)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", prefix, err)
	}
	out := make([]T, 0, len(entries))
	for _, e := range entries {
		var v T
		if err := json.Unmarshal(e.Value, &v); err != nil {
			return nil, fmt.Errorf("decode %s: %w", e.Key, err)
		}
		if keep == nil || keep(&v) {
			out = append(out, v)
		}
	}
	return out, nil
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
}
