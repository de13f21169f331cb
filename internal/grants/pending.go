package grants

import (
	"context"
	"fmt"
	"time"

	"github.com/scimgate/scimgate/internal/secret"
)

// Pending is an authorization request between GET /authorize and the
// admin's consent. Its id lives only in the admin's browser cookie; the
// store knows it by hash.
type Pending struct {
	ClientID            string   `json:"client_id"`
	RedirectURI         string   `json:"redirect_uri"`
	State               string   `json:"state,omitempty"`
	Scope               string   `json:"scope"`
	Audiences           []string `json:"audiences"`
	CodeChallenge       string   `json:"code_challenge,omitempty"`
	CodeChallengeMethod string   `json:"code_challenge_method,omitempty"`
	// CSRF is the synchronizer token every form of this request must echo.
	// A new one is drawn each time the request is saved.
	CSRF string `json:"csrf"`
	// TenantID, Username and AuthTime are set once an admin has signed in.
	TenantID string    `json:"tenant_id,omitempty"`
	Username string    `json:"username,omitempty"`
	AuthTime time.Time `json:"auth_time,omitzero"`
	Created  time.Time `json:"created"`
	// Expires bounds the whole sign-in and consent step; it does not move
	// when the request is saved again after sign-in.
	Expires time.Time `json:"expires"`
}

// SignedIn reports whether an admin has signed in for this request.
func (p *Pending) SignedIn() bool { return p.Username != "" }

// SavePending stores p under a fresh id with a fresh CSRF token and returns
// the id (for the cookie) and the stored request. A p without Expires gets
// the pending lifetime from now.
func (s *Store) SavePending(ctx context.Context, p Pending) (string, *Pending, error) {
	now := s.opts.Now()
	if p.Created.IsZero() {
		p.Created = now
	}
	if p.Expires.IsZero() {
		p.Expires = now.Add(s.opts.PendingTTL)
	}
	if !now.Before(p.Expires) {
		return "", nil, ErrNotFound
	}
	p.CSRF = secret.New()
	b, err := encode(&p)
	if err != nil {
		return "", nil, err
	}
	id := secret.New()
	if err := s.kv.Create(ctx, hashKey(pendingPrefix, id), b, ttlUntil(p.Expires, now)); err != nil {
		return "", nil, fmt.Errorf("grants: save pending request: %w", err)
	}
	return id, &p, nil
}

// Pending returns the live request under id, or ErrNotFound.
func (s *Store) Pending(ctx context.Context, id string) (*Pending, error) {
	if id == "" {
		return nil, ErrNotFound
	}
	p, err := getJSON[Pending](ctx, s.kv, hashKey(pendingPrefix, id))
	if err != nil {
		return nil, err
	}
	if !s.opts.Now().Before(p.Expires) {
		return nil, ErrNotFound
	}
	return p, nil
}

// TakePending removes the request under id and returns it: of concurrent
// callers exactly one gets it, so one consent yields at most one code.
func (s *Store) TakePending(ctx context.Context, id string) (*Pending, error) {
	if id == "" {
		return nil, ErrNotFound
	}
	p, err := takeJSON[Pending](ctx, s.kv, hashKey(pendingPrefix, id))
	if err != nil {
		return nil, err
	}
	if !s.opts.Now().Before(p.Expires) {
		return nil, ErrNotFound
	}
	return p, nil
}
