package grants

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/scimgate/scimgate/config"
	"github.com/scimgate/scimgate/internal/secret"
	"github.com/scimgate/scimgate/internal/store"
)

// RefreshPrefix starts every refresh token.
//
// A refresh token is RefreshPrefix, the 22-character family id, then 43
// characters of secret. The family id is public: it only says which family
// record to load, and the whole token is compared by hash against that
// record. Carrying it in the token means the family record alone decides a
// rotation — one store.KV Update, no index to keep in step.
const RefreshPrefix = "sgr_"

const (
	familyIDLen     = 22 // base62: 131 bits
	tokenSecretLen  = 43
	refreshTokenLen = len(RefreshPrefix) + familyIDLen + tokenSecretLen
	// maxIssuedAccess bounds the live access tokens of a family, all of
	// which it remembers for revocation. Each entry lives at most one
	// access lifetime, and a family is refreshed about once per access
	// lifetime, so a handful are live at any time; the bound stops a
	// client that refreshes in a loop from growing the record. Beyond it
	// a refresh is refused rather than an entry forgotten: a forgotten
	// token would outlive the family's revocation.
	maxIssuedAccess = 64
)

func newFamilyID() string { return secret.NewID(familyIDLen) }

// NewRefreshToken returns the first token of the family familyID.
func NewRefreshToken(familyID string) string {
	return RefreshPrefix + familyID + secret.New()
}

// ParseRefreshToken returns the family id a well-formed refresh token
// names. It checks the shape only; whether the token is live is decided
// against the family record.
func ParseRefreshToken(token string) (familyID string, ok bool) {
	if len(token) != refreshTokenLen || token[:len(RefreshPrefix)] != RefreshPrefix {
		return "", false
	}
	id := token[len(RefreshPrefix) : len(RefreshPrefix)+familyIDLen]
	for i := 0; i < len(id); i++ {
		if !isBase62(id[i]) {
			return "", false
		}
	}
	for _, c := range []byte(token[len(RefreshPrefix)+familyIDLen:]) {
		if !isBase62(c) && c != '-' && c != '_' {
			return "", false
		}
	}
	return id, true
}

func isBase62(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z'
}

// successor derives the token that replaces token when the family rotates
// with nonce. Because it is a function of the presented token and a nonce
// kept in the family record, a concurrent retry with the same token gets
// the very same successor instead of forking the family, while neither a
// copy of the store (no tokens in it) nor an old token alone (no nonce)
// is enough to compute it.
func successor(nonce []byte, token, familyID string) string {
	mac := hmac.New(sha256.New, nonce)
	mac.Write([]byte(token))
	return RefreshPrefix + familyID + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// IssuedAccess is an access token minted from a family, remembered so that
// revoking the family can deny-list it until it expires.
type IssuedAccess struct {
	JTI     string    `json:"jti"`
	Expires time.Time `json:"exp"`
}

// Family is one consent's chain of refresh tokens. Exactly one token, the
// head (Current), rotates; the one before it (Previous) is honoured for the
// grace window only.
type Family struct {
	ID        string    `json:"id"`
	ClientID  string    `json:"client_id"`
	TenantID  string    `json:"tenant_id"`
	Subject   string    `json:"sub"`
	Scope     string    `json:"scope"`
	Audiences []string  `json:"audiences"`
	AuthTime  time.Time `json:"auth_time,omitzero"`
	// Current and Previous are hex SHA-256 hashes of tokens.
	Current  string `json:"current,omitempty"`
	Previous string `json:"previous,omitempty"`
	// Nonce derived Current from the Previous token.
	Nonce     []byte    `json:"nonce,omitempty"`
	RotatedAt time.Time `json:"rotated_at,omitzero"`
	Created   time.Time `json:"created,omitzero"`
	LastUsed  time.Time `json:"last_used,omitzero"`
	// Expires slides: every use moves it to a full RefreshTTL ahead.
	Expires      time.Time      `json:"expires,omitzero"`
	Revoked      bool           `json:"revoked,omitempty"`
	RevokedAt    time.Time      `json:"revoked_at,omitzero"`
	RevokeReason string         `json:"revoke_reason,omitempty"`
	Access       []IssuedAccess `json:"access,omitempty"`
}

// acceptedPastExp is how long after its exp, on the clock of the replica
// that revokes it, a verifier may still accept an access token: its leeway,
// at most config.MaxLeeway, on a clock that may lag by up to the leeway
// again. Until then revoking the family must deny-list the token, so the
// family keeps it that long.
const acceptedPastExp = 2 * config.MaxLeeway

// LiveAccess returns the access tokens of the family that a verifier may
// still accept at now: those not past their exp by more than the longest
// leeway.
func (f *Family) LiveAccess(now time.Time) []IssuedAccess {
	var out []IssuedAccess
	for _, a := range f.Access {
		if now.Before(a.Expires.Add(acceptedPastExp)) {
			out = append(out, a)
		}
	}
	return out
}

// remember adds a to the live access tokens, or fails with
// ErrTooManyAccess when maxIssuedAccess are live already.
func (f *Family) remember(a IssuedAccess, now time.Time) error {
	live := f.LiveAccess(now)
	if len(live) >= maxIssuedAccess {
		return ErrTooManyAccess
	}
	f.Access = append(live, a)
	return nil
}

// StartFamily creates the family named by token (from NewRefreshToken)
// with token as its head. f carries the grant: client, tenant, subject,
// scope, audiences and auth time. It fails with ErrRevoked if the family
// was revoked before it existed — a replay of its authorization code won
// the race.
func (s *Store) StartFamily(ctx context.Context, token string, f Family, access IssuedAccess) (*Family, error) {
	id, ok := ParseRefreshToken(token)
	if !ok {
		return nil, errors.New("grants: StartFamily needs a token from NewRefreshToken")
	}
	now := s.opts.Now()
	f.ID, f.Current, f.Previous, f.Nonce = id, hashOf(token), "", nil
	f.Created, f.LastUsed, f.Expires = now, now, now.Add(s.opts.RefreshTTL)
	f.Revoked, f.Access = false, nil
	_ = f.remember(access, now) // a new family has no live tokens, so nothing to refuse
	b, err := encode(&f)
	if err != nil {
		return nil, err
	}
	err = s.kv.Create(ctx, familyPrefix+id, b, s.opts.RefreshTTL)
	if errors.Is(err, store.ErrExists) {
		return nil, ErrRevoked
	}
	if err != nil {
		return nil, fmt.Errorf("grants: start family: %w", err)
	}
	return &f, nil
}

// Rotation is one use of a refresh token.
type Rotation struct {
	// ClientID is the authenticated client presenting the token.
	ClientID string
	// Access is the access token this refresh will mint.
	Access IssuedAccess
}

// Refreshed is the outcome of a successful Rotate.
type Refreshed struct {
	Family *Family
	// Token is the family's new head, to hand to the client.
	Token string
	// InGrace is true when the presented token was the previous head,
	// presented again inside the grace window; Token is then the same
	// successor the first presentation received.
	InGrace bool
}

// ReuseError is returned when a rotated-out token of a family comes back
// outside the grace window. The family is revoked by then; Family lists
// the access tokens it issued, for the caller to deny-list.
type ReuseError struct {
	Family *Family
}

func (e *ReuseError) Error() string {
	return ErrRefreshReused.Error() + "; family " + e.Family.ID + " revoked"
}

func (e *ReuseError) Unwrap() error { return ErrRefreshReused }

// errNotInRecord is Rotate's internal signal that the token is neither the
// head nor the previous head; only then is the spent index consulted.
var errNotInRecord = errors.New("grants: token not in the family record")

// Rotate spends token and returns the family's new head. The whole decision
// is one store.KV Update of the family record, so of any number of
// concurrent presentations of the head exactly one rotates it; the others
// either see the previous head inside the grace window (and receive the
// same successor) or, with no grace, count as reuse.
//
// Errors: ErrNotFound (unknown, forged or expired token), ErrWrongClient
// (nothing changes), ErrRevoked, and *ReuseError (the family is revoked).
func (s *Store) Rotate(ctx context.Context, token string, r Rotation) (*Refreshed, error) {
	id, ok := ParseRefreshToken(token)
	if !ok {
		return nil, ErrNotFound
	}
	presented := hashOf(token)
	nonce := make([]byte, 32)
	_, _ = rand.Read(nonce) // crypto/rand never fails (Go 1.24+)
	var (
		out    *Refreshed
		reused *Family
	)
	key := familyPrefix + id
	err := s.kv.Update(ctx, key, func(old []byte) ([]byte, time.Duration, error) {
		out, reused = nil, nil
		if old == nil {
			return nil, 0, ErrNotFound
		}
		f, err := decodeFamily(key, id, old)
		if err != nil {
			return nil, 0, err
		}
		now := s.opts.Now()
		switch {
		case f.Revoked:
			return nil, 0, ErrRevoked
		case !now.Before(f.Expires):
			return nil, 0, ErrNotFound
		case equalHash(presented, f.Current):
			if f.ClientID != r.ClientID {
				return nil, 0, ErrWrongClient
			}
			next := successor(nonce, token, f.ID)
			f.Previous, f.Current, f.Nonce, f.RotatedAt = presented, hashOf(next), nonce, now
			out = &Refreshed{Family: f, Token: next}
		case equalHash(presented, f.Previous) && s.opts.RefreshGrace > 0 && now.Sub(f.RotatedAt) <= s.opts.RefreshGrace:
			if f.ClientID != r.ClientID {
				return nil, 0, ErrWrongClient
			}
			out = &Refreshed{Family: f, Token: successor(f.Nonce, token, f.ID), InGrace: true}
		case equalHash(presented, f.Previous):
			f.revoke("refresh_reuse", now)
			reused = f
			return encodeWithTTL(f, s.opts.RefreshTTL)
		default:
			return nil, 0, errNotInRecord
		}
		if err := f.remember(r.Access, now); err != nil {
			return nil, 0, err
		}
		f.LastUsed, f.Expires = now, now.Add(s.opts.RefreshTTL)
		return encodeWithTTL(f, s.opts.RefreshTTL)
	})
	switch {
	case errors.Is(err, errNotInRecord):
		return nil, s.reuseOfSpent(ctx, id, presented)
	case err != nil:
		return nil, err
	case reused != nil:
		return nil, &ReuseError{Family: reused}
	}
	if !out.InGrace {
		// Remember the token just rotated out, so that it is recognised as
		// reuse even after it has dropped out of Previous. A lost write
		// here only weakens reuse detection for that one token; it never
		// fails the rotation the client is waiting for.
		_ = s.kv.Set(ctx, spentPrefix+presented, []byte(id), s.opts.RefreshTTL)
	}
	return out, nil
}

// reuseOfSpent handles a token that is neither head nor previous head: a
// former head of the family (recorded in the spent index) is reuse and
// revokes the family; anything else is just unknown.
func (s *Store) reuseOfSpent(ctx context.Context, familyID, presented string) error {
	owner, err := s.kv.Get(ctx, spentPrefix+presented)
	if errors.Is(err, store.ErrNotFound) || (err == nil && string(owner) != familyID) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("grants: read spent index: %w", err)
	}
	f, err := s.RevokeFamily(ctx, familyID, "refresh_reuse")
	if err != nil {
		return err
	}
	return &ReuseError{Family: f}
}

// decodeFamily decodes the record of family id stored under key. The key
// names the family: a record whose own id is missing or another's (copied
// or edited by hand) would otherwise rotate into a token of no family and
// name the wrong family to revocation and audit.
func decodeFamily(key, id string, b []byte) (*Family, error) {
	f, err := decode[Family](key, b)
	if err != nil {
		return nil, err
	}
	f.ID = id
	return f, nil
}

func (f *Family) revoke(reason string, now time.Time) {
	if f.Revoked {
		return
	}
	f.Revoked, f.RevokedAt, f.RevokeReason = true, now, reason
}

func encodeWithTTL(f *Family, ttl time.Duration) ([]byte, time.Duration, error) {
	b, err := encode(f)
	return b, ttl, err
}

func equalHash(a, b string) bool {
	return b != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// RevokeFamily revokes the family id and returns it, with the access tokens
// it issued. Revoking an absent family leaves a revoked placeholder, so a
// family that an in-flight code redemption is about to create can no longer
// be started. Revoking twice keeps the first reason.
func (s *Store) RevokeFamily(ctx context.Context, id, reason string) (*Family, error) {
	if len(id) != familyIDLen {
		return nil, ErrNotFound
	}
	var out *Family
	key := familyPrefix + id
	err := s.kv.Update(ctx, key, func(old []byte) ([]byte, time.Duration, error) {
		now := s.opts.Now()
		f := &Family{ID: id}
		if old != nil {
			var err error
			if f, err = decodeFamily(key, id, old); err != nil {
				return nil, 0, err
			}
		}
		f.revoke(reason, now)
		out = f
		return encodeWithTTL(f, s.opts.RefreshTTL)
	})
	if err != nil {
		return nil, fmt.Errorf("grants: revoke family: %w", err)
	}
	return out, nil
}

// TokenStatus says what a refresh token is to its family.
type TokenStatus int

// Token statuses, from Inspect.
const (
	// StatusHead is the family's current token.
	StatusHead TokenStatus = iota + 1
	// StatusGrace is the previous head, still inside the grace window.
	StatusGrace
	// StatusRotated is a former head; presenting it to Rotate is reuse.
	StatusRotated
)

// Inspect finds the family of token without changing anything, for
// introspection and revocation. A revoked family is returned with its
// Revoked flag set. Unknown, forged and expired tokens are ErrNotFound.
func (s *Store) Inspect(ctx context.Context, token string) (*Family, TokenStatus, error) {
	id, ok := ParseRefreshToken(token)
	if !ok {
		return nil, 0, ErrNotFound
	}
	f, err := getJSON[Family](ctx, s.kv, familyPrefix+id)
	if err != nil {
		return nil, 0, err
	}
	f.ID = id // the key names the family, as in decodeFamily
	now := s.opts.Now()
	presented := hashOf(token)
	switch {
	case !f.Revoked && !now.Before(f.Expires):
		return nil, 0, ErrNotFound
	case equalHash(presented, f.Current):
		return f, StatusHead, nil
	case equalHash(presented, f.Previous) && s.opts.RefreshGrace > 0 && now.Sub(f.RotatedAt) <= s.opts.RefreshGrace:
		return f, StatusGrace, nil
	case equalHash(presented, f.Previous):
		return f, StatusRotated, nil
	}
	owner, err := s.kv.Get(ctx, spentPrefix+presented)
	switch {
	case errors.Is(err, store.ErrNotFound) || (err == nil && string(owner) != id):
		return nil, 0, ErrNotFound
	case err != nil:
		return nil, 0, fmt.Errorf("grants: read spent index: %w", err)
	}
	return f, StatusRotated, nil
}
