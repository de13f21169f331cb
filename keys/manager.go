// Package keys keeps the ring of keys that sign and verify scimgate's JWT
// access tokens: it generates, rotates, publishes and retires them in one
// store record, with private keys encrypted under the master key, and serves
// them pre-parsed to the authorization server and the gateway.
//
// Every replica sharing the store runs a Manager. All changes to the ring go
// through kv.Update on one record, so when replicas race to rotate exactly
// one wins and the others re-read the result.
package keys

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/sync/singleflight"

	"github.com/scimgate/scimgate/internal/store"
)

var (
	// ErrUnknownKey reports a kid that is not published (never was, retired
	// or revoked).
	ErrUnknownKey = errors.New("keys: unknown key id")
	// ErrNotReady reports a Manager that has not loaded the key ring yet.
	ErrNotReady = errors.New("keys: key ring not loaded")
)

// errUnchanged aborts a kv.Update that has nothing to write.
var errUnchanged = errors.New("keys: ring unchanged")

// refetchTimeout bounds one store read made for an unknown kid.
const refetchTimeout = 2 * time.Second

// Options tune a Manager; zero fields take the defaults shown.
type Options struct {
	// Algorithm for newly generated keys (ES256). Changing it never touches
	// existing keys: the next key generated uses it.
	Algorithm Algorithm
	// RotationInterval is how long a key stays active (720h).
	RotationInterval time.Duration
	// PublishBeforeUse is the least time a key is published before it signs
	// (10m). It must exceed RefreshInterval plus the JWKS cache lifetime of
	// remote verifiers; see JWKSMaxAge.
	PublishBeforeUse time.Duration
	// MaxTokenTTL is the longest access-token lifetime issued (6h, the
	// ceiling Entra allows).
	MaxTokenTTL time.Duration
	// Leeway is the clock skew verifiers tolerate past exp (5m).
	Leeway time.Duration
	// RefreshInterval is how often the ring is re-read and the rotation
	// schedule checked (30s).
	RefreshInterval time.Duration
	// MinRefetch is the least time between store reads caused by unknown
	// kids, which attackers choose (1s).
	MinRefetch time.Duration
	// Replicated says that other processes share the store (Redis). Forced
	// rotations then wait until every replica can know the next key; with
	// the embedded store one process owns the file and there is no one to
	// wait for.
	Replicated bool
	// Clock returns the current time (time.Now).
	Clock func() time.Time
	// Logger receives rotation events and refresh failures, never key
	// material (slog.Default()).
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	orDefault := func(d *time.Duration, def time.Duration) {
		if *d == 0 {
			*d = def
		}
	}
	if o.Algorithm == "" {
		o.Algorithm = ES256
	}
	orDefault(&o.RotationInterval, 720*time.Hour)
	orDefault(&o.PublishBeforeUse, 10*time.Minute)
	orDefault(&o.MaxTokenTTL, 6*time.Hour)
	orDefault(&o.Leeway, 5*time.Minute)
	orDefault(&o.RefreshInterval, 30*time.Second)
	orDefault(&o.MinRefetch, time.Second)
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

func (o Options) validate() error {
	if _, err := ParseAlgorithm(string(o.Algorithm)); err != nil {
		return err
	}
	for name, d := range map[string]time.Duration{
		"RotationInterval": o.RotationInterval, "PublishBeforeUse": o.PublishBeforeUse,
		"MaxTokenTTL": o.MaxTokenTTL, "Leeway": o.Leeway,
		"RefreshInterval": o.RefreshInterval, "MinRefetch": o.MinRefetch,
	} {
		if d < 0 {
			return fmt.Errorf("keys: %s is negative (%s)", name, d)
		}
	}
	if o.PublishBeforeUse <= o.RefreshInterval {
		return fmt.Errorf("keys: PublishBeforeUse (%s) must exceed RefreshInterval (%s), or replicas could sign with a key others have not published", o.PublishBeforeUse, o.RefreshInterval)
	}
	if o.RotationInterval <= o.PublishBeforeUse {
		return fmt.Errorf("keys: RotationInterval (%s) must exceed PublishBeforeUse (%s)", o.RotationInterval, o.PublishBeforeUse)
	}
	return nil
}

// Manager owns this replica's view of the key ring. Signer, PublicKey,
// Keyfunc and JWKS read an immutable snapshot and are safe for concurrent use
// on hot paths; the rest talk to the store.
type Manager struct {
	kv     store.KV
	sealer *sealer
	opts   Options
	policy policy

	snap atomic.Pointer[snapshot]
	// storeMu serialises this Manager's store reads and writes with the
	// snapshot installs that follow them, so an older read never replaces a
	// newer snapshot. The hot paths never take it.
	storeMu  sync.Mutex
	lastRead atomic.Int64 // Clock() of the latest store read, unix ns
	refetch  singleflight.Group

	life    context.Context // ends at Close; bounds refetches
	stop    context.CancelFunc
	started atomic.Bool
	done    chan struct{}
}

// New checks its inputs and returns a Manager that holds no keys until Start.
// master is the raw master key (see ParseMasterKey); every replica sharing kv
// needs the same one.
func New(kv store.KV, master []byte, opts Options) (*Manager, error) {
	if kv == nil {
		return nil, errors.New("keys: nil store")
	}
	opts = opts.withDefaults()
	if err := opts.validate(); err != nil {
		return nil, err
	}
	s, err := newSealer(master)
	if err != nil {
		return nil, err
	}
	life, stop := context.WithCancel(context.Background())
	return &Manager{
		kv: kv, sealer: s, opts: opts,
		policy: policy{
			rotateEvery:      opts.RotationInterval,
			publishBeforeUse: opts.PublishBeforeUse,
			// A replica may go on signing with a key for up to one refresh
			// after another one retired it, and its tokens then live for
			// MaxTokenTTL, plus the verifiers' leeway.
			retireAfter:  opts.RefreshInterval + opts.MaxTokenTTL + opts.Leeway,
			retention:    retiredRetention,
			forcedMinAge: forcedMinAge(opts),
		},
		life: life, stop: stop,
		done: make(chan struct{}),
	}, nil
}

// Start loads the ring, creating it if the store has none and applying any
// rotation that is due, so the Manager is usable when Start returns. It then
// re-reads the ring and runs the rotation schedule every RefreshInterval
// until ctx ends or Close is called.
func (m *Manager) Start(ctx context.Context) error {
	if !m.started.CompareAndSwap(false, true) {
		return errors.New("keys: Manager already started")
	}
	if err := m.sync(ctx); err != nil {
		close(m.done)
		return err
	}
	go m.loop(ctx)
	return nil
}

// Close stops the background refresh and waits for it to end.
func (m *Manager) Close() {
	m.stop()
	if m.started.Load() {
		<-m.done
	}
}

func (m *Manager) loop(ctx context.Context) {
	defer close(m.done)
	tick := time.NewTicker(m.opts.RefreshInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-m.life.Done():
			return
		case <-tick.C:
			if err := m.sync(ctx); err != nil && ctx.Err() == nil && m.life.Err() == nil {
				// Keep serving the last good snapshot; the next tick retries.
				m.opts.Logger.Warn("keys: key ring refresh failed", "err", err)
			}
		}
	}
}

// Signer returns the active signing key.
func (m *Manager) Signer() (SigningKey, error) {
	snap := m.snap.Load()
	if snap == nil {
		return SigningKey{}, ErrNotReady
	}
	return snap.signing, nil
}

// PublicKey returns the published key kid and the only method it verifies
// with. An unknown kid causes at most one store read per MinRefetch, shared
// by all callers waiting for it, since a rotation on another replica may have
// published a key this one has not seen yet.
func (m *Manager) PublicKey(ctx context.Context, kid string) (crypto.PublicKey, jwt.SigningMethod, error) {
	if v, ok := m.lookup(kid); ok {
		return v.public, v.method, nil
	}
	if !m.refetchAllowed() {
		return nil, nil, ErrUnknownKey
	}
	// DoChan, so a caller can stop waiting without cancelling the read the
	// others share; the read itself is bounded by the Manager's life.
	flight := m.refetch.DoChan("ring", func() (any, error) {
		if !m.refetchAllowed() { // a read finished while we queued
			return nil, nil
		}
		ctx, cancel := context.WithTimeout(m.life, refetchTimeout)
		defer cancel()
		return nil, m.reload(ctx)
	})
	select {
	case res := <-flight:
		if res.Err != nil {
			return nil, nil, fmt.Errorf("%w %s (key ring refetch failed: %w)", ErrUnknownKey, kid, res.Err)
		}
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	}
	if v, ok := m.lookup(kid); ok {
		return v.public, v.method, nil
	}
	return nil, nil, ErrUnknownKey
}

func (m *Manager) lookup(kid string) (verifier, bool) {
	snap := m.snap.Load()
	if snap == nil {
		return verifier{}, false
	}
	v, ok := snap.verifiers[kid]
	return v, ok
}

func (m *Manager) refetchAllowed() bool {
	since := m.opts.Clock().UnixNano() - m.lastRead.Load()
	return since >= int64(m.opts.MinRefetch)
}

// Keyfunc is a jwt.Keyfunc that finds the token's key by its kid header and
// refuses the token unless its alg header names that key's algorithm: the
// key, never the token, chooses how the signature is checked, so "none", HS*
// and algorithm-confusion tokens cannot verify. Callers should still pass
// jwt.WithValidMethods.
func (m *Manager) Keyfunc(t *jwt.Token) (any, error) {
	kid, _ := t.Header["kid"].(string)
	if kid == "" {
		return nil, errors.New("keys: token has no kid header")
	}
	pub, method, err := m.PublicKey(context.Background(), kid)
	if err != nil {
		return nil, err
	}
	if alg, _ := t.Header["alg"].(string); alg != method.Alg() || t.Method != method {
		return nil, fmt.Errorf("keys: token alg %q does not match key %s (%s)", alg, kid, method.Alg())
	}
	return pub, nil
}

// emptyJWKS is served before the ring is loaded.
const emptyJWKS = `{"keys":[]}`

// JWKS returns the RFC 7517 key set of every key that can still verify a live
// token (next, active, retiring), public members only. It is rendered once
// per ring change; callers must not modify it.
func (m *Manager) JWKS() []byte {
	snap := m.snap.Load()
	if snap == nil {
		return []byte(emptyJWKS)
	}
	return snap.jwks
}

// JWKSMaxAge is the longest a verifier may cache JWKS and still see each new
// key before it signs, allowing one RefreshInterval for this replica to learn
// of it; use it for the JWKS endpoint's Cache-Control max-age.
func (m *Manager) JWKSMaxAge() time.Duration {
	return (m.opts.PublishBeforeUse - m.opts.RefreshInterval) / 2
}

// Ready reports whether the ring is loaded with an active key, for /readyz.
func (m *Manager) Ready() error {
	if m.snap.Load() == nil {
		return ErrNotReady
	}
	return nil
}

// forcedMinAge is the least age of the next key a forced rotation may
// promote: one refresh of every other replica plus one unknown-kid refetch
// gate, so that none of them meets the new kid before it can learn it.
func forcedMinAge(o Options) time.Duration {
	if !o.Replicated {
		return 0
	}
	return o.RefreshInterval + o.MinRefetch
}

// RotationTooSoonError refuses a forced rotation whose next key other
// replicas may not know yet; retry after Wait.
type RotationTooSoonError struct{ Wait time.Duration }

func (e *RotationTooSoonError) Error() string {
	return fmt.Sprintf("keys: the next key was published too recently for every replica to know it; rotate again in %s",
		e.Wait.Round(100*time.Millisecond))
}

// Rotate promotes the next key to active now, makes the active key retiring
// and generates a new next key. Replicas sharing the store pick the new key
// up on their next refresh, or at once when they meet its kid. With
// Options.Replicated the next key must have been published for
// RefreshInterval + MinRefetch; a rotation sooner than that after the
// previous one is refused with *RotationTooSoonError.
func (m *Manager) Rotate(ctx context.Context) error {
	now := m.opts.Clock()
	mint := m.newMint()
	return m.change(ctx, mint, func(r *ring) (bool, error) {
		return true, r.rotate(now, m.policy, mint)
	})
}

// Revoke withdraws key kid at once: it is no longer published and tokens it
// signed fail here at once and on other replicas within one RefreshInterval.
// If it was active the next key becomes active. Revoking a key that is
// already unpublished does nothing; an unknown kid gives ErrUnknownKey.
func (m *Manager) Revoke(ctx context.Context, kid string) error {
	now := m.opts.Clock()
	mint := m.newMint()
	err := m.change(ctx, mint, func(r *ring) (bool, error) {
		return r.revoke(kid, now, m.policy, mint)
	})
	if err != nil {
		return err
	}
	m.opts.Logger.Warn("keys: signing key revoked", "kid", kid)
	return nil
}

// KeyInfo describes one key in the ring, without any key material.
type KeyInfo struct {
	KID           string    `json:"kid"`
	Algorithm     Algorithm `json:"alg"`
	State         State     `json:"state"`
	CreatedAt     time.Time `json:"created_at"`
	ActivatedAt   time.Time `json:"activated_at,omitzero"`
	RetiringSince time.Time `json:"retiring_since,omitzero"`
	RetiredAt     time.Time `json:"retired_at,omitzero"`
	RevokedAt     time.Time `json:"revoked_at,omitzero"`
}

// List reads the ring from the store and describes every key in it, in
// creation order, including retired and revoked keys not yet pruned.
func (m *Manager) List(ctx context.Context) ([]KeyInfo, error) {
	m.storeMu.Lock()
	defer m.storeMu.Unlock()
	raw, err := m.read(ctx)
	if err != nil {
		return nil, err
	}
	r, err := m.decode(raw)
	if err != nil {
		return nil, err
	}
	out := make([]KeyInfo, 0, len(r.Keys))
	for _, k := range r.Keys {
		out = append(out, KeyInfo{
			KID: k.KID, Algorithm: k.Alg, State: k.State, CreatedAt: k.CreatedAt,
			ActivatedAt: k.ActivatedAt, RetiringSince: k.RetiringSince,
			RetiredAt: k.RetiredAt, RevokedAt: k.RevokedAt,
		})
	}
	return out, nil
}

// sync re-reads the ring and, if the schedule says a transition is due,
// applies it under kv.Update, which re-decides on the freshest record: of
// several replicas doing this at once, the first writes and the others find
// nothing left to do.
func (m *Manager) sync(ctx context.Context) error {
	m.storeMu.Lock()
	defer m.storeMu.Unlock()
	raw, err := m.read(ctx)
	if err != nil {
		return err
	}
	r, err := m.decode(raw)
	if err != nil {
		return err
	}
	now := m.opts.Clock()
	mint := m.newMint()
	due, err := r.step(now, m.policy, mint)
	if err != nil {
		return err
	}
	if !due {
		return m.install(raw)
	}
	return m.updateLocked(ctx, mint, func(r *ring) (bool, error) {
		return r.step(now, m.policy, mint)
	})
}

// CheckMasterKey reports whether the Manager's master key is the one the
// stored key ring was encrypted under, without changing or installing
// anything: nil when it is, or when the store holds no ring yet (the first
// Start creates it); ErrMasterKeyMismatch when another master key made it.
// Commands that write secrets call it first, since a secret hashed under a
// pepper the server does not have is shown once and then never verifies.
func (m *Manager) CheckMasterKey(ctx context.Context) error {
	m.storeMu.Lock()
	defer m.storeMu.Unlock()
	raw, err := m.read(ctx)
	if err != nil {
		return err
	}
	_, err = m.decode(raw)
	return err
}

// HasRing reports whether kv holds a key ring, that is whether a server
// has already started on it under some master key.
func HasRing(ctx context.Context, kv store.KV) (bool, error) {
	_, err := kv.Get(ctx, ringKey)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("keys: read key ring: %w", err)
	}
	return true, nil
}

// reload re-reads the ring without changing it.
func (m *Manager) reload(ctx context.Context) error {
	m.storeMu.Lock()
	defer m.storeMu.Unlock()
	raw, err := m.read(ctx)
	if err != nil {
		return err
	}
	return m.install(raw)
}

// change applies op to the stored ring atomically and installs the result.
func (m *Manager) change(ctx context.Context, mint *mint, op func(*ring) (bool, error)) error {
	m.storeMu.Lock()
	defer m.storeMu.Unlock()
	return m.updateLocked(ctx, mint, op)
}

func (m *Manager) updateLocked(ctx context.Context, mint *mint, op func(*ring) (bool, error)) error {
	var result []byte
	var opErr error // ours, already explained; anything else is the store's
	err := m.kv.Update(ctx, ringKey, func(old []byte) ([]byte, time.Duration, error) {
		mint.rewind()
		result, opErr = nil, nil
		r, err := m.decode(old)
		if err == nil {
			var changed bool
			changed, err = op(r)
			if err == nil && !changed {
				result, err = old, errUnchanged
			}
		}
		if err == nil {
			result, err = encodeRing(r)
		}
		opErr = err
		return result, 0, err
	})
	switch {
	case errors.Is(err, errUnchanged):
	case err != nil && errors.Is(err, opErr):
		return err
	case err != nil:
		return fmt.Errorf("keys: update key ring: %w", err)
	}
	return m.install(result)
}

// read returns the stored ring, or nil if there is none yet.
func (m *Manager) read(ctx context.Context) ([]byte, error) {
	m.lastRead.Store(m.opts.Clock().UnixNano())
	raw, err := m.kv.Get(ctx, ringKey)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("keys: read key ring: %w", err)
	}
	return raw, nil
}

// decode turns a stored record into a ring this master key can open; nil
// gives an empty ring.
func (m *Manager) decode(raw []byte) (*ring, error) {
	if raw == nil {
		return &ring{V: ringVersion, MasterKeyCheck: m.sealer.check}, nil
	}
	r, err := decodeRing(raw)
	if err != nil {
		return nil, err
	}
	if !m.sealer.matches(r.MasterKeyCheck) {
		return nil, ErrMasterKeyMismatch
	}
	return r, nil
}

// install parses raw into a new snapshot unless it is the one in place.
// Callers hold storeMu.
func (m *Manager) install(raw []byte) error {
	old := m.snap.Load()
	if old.sameRecord(raw) {
		return nil
	}
	if raw == nil {
		return ErrNotReady
	}
	r, err := m.decode(raw)
	if err != nil {
		return err
	}
	snap, err := buildSnapshot(raw, r, m.sealer)
	if err != nil {
		return err
	}
	m.snap.Store(snap)
	if old == nil || old.signing.KID != snap.signing.KID {
		m.opts.Logger.Info("keys: signing key in use", "kid", snap.signing.KID, "alg", snap.signing.Method.Alg())
	}
	return nil
}

func (m *Manager) newMint() *mint {
	alg := m.opts.Algorithm
	return &mint{generate: func() (storedKey, error) { return newStoredKey(alg, m.sealer) }}
}
