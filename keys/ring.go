package keys

import (
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// ringKey is the one store record that holds every key. Keeping the whole
// ring in one record lets kv.Update decide each rotation atomically.
const ringKey = "keys/ring"

// ringVersion is the record format written; others are refused.
const ringVersion = 1

// retiredRetention is how long retired and revoked keys stay listed, for
// audits, before they are pruned from the record.
const retiredRetention = 7 * 24 * time.Hour

// State is where a key is in its life: next → active → retiring → retired,
// or revoked from any of the first three.
type State string

const (
	// StateNext keys are published but do not sign yet, so verifiers that
	// cache the key set learn them before the first token they sign.
	StateNext State = "next"
	// StateActive is the one key that signs new tokens.
	StateActive State = "active"
	// StateRetiring keys no longer sign but stay published until every token
	// they signed has expired.
	StateRetiring State = "retiring"
	// StateRetired keys are no longer published; their private key is erased.
	StateRetired State = "retired"
	// StateRevoked keys were withdrawn at once by an operator; tokens they
	// signed fail.
	StateRevoked State = "revoked"
)

// published reports whether keys in state s can still verify a live token.
func (s State) published() bool {
	return s == StateNext || s == StateActive || s == StateRetiring
}

// ring is the stored record.
type ring struct {
	V              int         `json:"v"`
	MasterKeyCheck []byte      `json:"master_key_check"`
	Keys           []storedKey `json:"keys"` // in creation order
}

// storedKey is one key as stored. Private is present only while the key may
// sign (next, active) and erased when it stops.
type storedKey struct {
	KID           string     `json:"kid"`
	Alg           Algorithm  `json:"alg"`
	State         State      `json:"state"`
	CreatedAt     time.Time  `json:"created_at"`
	ActivatedAt   time.Time  `json:"activated_at,omitzero"`
	RetiringSince time.Time  `json:"retiring_since,omitzero"`
	RetiredAt     time.Time  `json:"retired_at,omitzero"`
	RevokedAt     time.Time  `json:"revoked_at,omitzero"`
	Public        []byte     `json:"public"` // PKIX DER
	Private       *sealedKey `json:"private,omitempty"`
}

// decodeRing parses and checks a stored record. It trusts nothing in it: a
// corrupted or hostile record yields an error, never a panic.
func decodeRing(raw []byte) (*ring, error) {
	var r ring
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, fmt.Errorf("keys: key ring record is not valid JSON: %w", err)
	}
	switch {
	case r.V > ringVersion:
		return nil, fmt.Errorf("keys: key ring record has format v%d, written by a newer scimgate (this one reads v%d)", r.V, ringVersion)
	case r.V != ringVersion:
		return nil, fmt.Errorf("keys: key ring record has unknown format v%d", r.V)
	case len(r.MasterKeyCheck) == 0:
		return nil, errors.New("keys: key ring record has no master key check value")
	}
	seen := make(map[string]bool, len(r.Keys))
	count := map[State]int{}
	for i := range r.Keys {
		k := &r.Keys[i]
		if err := k.validate(); err != nil {
			return nil, err
		}
		if seen[k.KID] {
			return nil, fmt.Errorf("keys: key ring lists key %s twice", k.KID)
		}
		seen[k.KID] = true
		count[k.State]++
	}
	if count[StateActive] > 1 || count[StateNext] > 1 {
		return nil, fmt.Errorf("keys: key ring has %d active and %d next keys, want at most one of each", count[StateActive], count[StateNext])
	}
	return &r, nil
}

func (k *storedKey) validate() error {
	if k.KID == "" {
		return errors.New("keys: key ring has a key without kid")
	}
	if _, err := ParseAlgorithm(string(k.Alg)); err != nil {
		return fmt.Errorf("key %s: %w", k.KID, err)
	}
	if len(k.Public) == 0 {
		return fmt.Errorf("keys: key %s has no public key", k.KID)
	}
	var since time.Time
	switch k.State {
	case StateNext:
		since = k.CreatedAt
	case StateActive:
		since = k.ActivatedAt
	case StateRetiring:
		since = k.RetiringSince
	case StateRetired:
		since = k.RetiredAt
	case StateRevoked:
		since = k.RevokedAt
	default:
		return fmt.Errorf("keys: key %s has unknown state %q", k.KID, k.State)
	}
	if since.IsZero() {
		return fmt.Errorf("keys: key %s is %s without the time it became so", k.KID, k.State)
	}
	if mayHold := k.State == StateNext || k.State == StateActive; mayHold != (k.Private != nil) {
		return fmt.Errorf("keys: key %s is %s but private key presence is %t", k.KID, k.State, k.Private != nil)
	}
	return nil
}

// policy is the timing the state machine follows.
type policy struct {
	rotateEvery      time.Duration // active key age that triggers rotation
	publishBeforeUse time.Duration // least time next is published before it signs
	retireAfter      time.Duration // retiring → retired: tokens it signed have expired
	retention        time.Duration // retired/revoked → pruned
	// forcedMinAge is how long a next key must have been published before a
	// forced rotation may promote it (see forcedMinAge in manager.go).
	forcedMinAge time.Duration
}

// mint hands out freshly generated keys. kv.Update may run its function more
// than once; rewinding the mint before each run gives every run the same
// keys, so retries neither repeat RSA generation nor differ in outcome.
type mint struct {
	generate func() (storedKey, error)
	made     []storedKey
	used     int
}

func (m *mint) rewind() { m.used = 0 }

func (m *mint) key() (storedKey, error) {
	if m.used == len(m.made) {
		k, err := m.generate()
		if err != nil {
			return storedKey{}, err
		}
		m.made = append(m.made, k)
	}
	m.used++
	return m.made[m.used-1], nil
}

func (r *ring) index(s State) int {
	for i := range r.Keys {
		if r.Keys[i].State == s {
			return i
		}
	}
	return -1
}

// step moves the ring to where the clock says it should be and reports
// whether anything changed. On an empty ring it bootstraps an active and a
// next key at once: nothing can hold a token yet, so nothing must wait.
func (r *ring) step(now time.Time, p policy, m *mint) (bool, error) {
	changed := r.expire(now, p)
	repaired, err := r.ensureActive(now, m)
	if err != nil {
		return false, err
	}
	if !repaired && r.rotationDue(now, p) {
		r.promoteNext(now)
		changed = true
	}
	added, err := r.ensureNext(now, m)
	if err != nil {
		return false, err
	}
	return changed || repaired || added, nil
}

// rotate promotes the next key now unless it is younger than
// p.forcedMinAge: replicas sharing the store re-read the ring when they meet
// an unknown kid, but at most once per MinRefetch, so two forced rotations
// in quick succession could otherwise make another replica refuse tokens
// signed with a key it cannot learn yet.
func (r *ring) rotate(now time.Time, p policy, m *mint) error {
	r.expire(now, p)
	if _, err := r.ensureNext(now, m); err != nil {
		return err
	}
	if i := r.index(StateNext); i >= 0 {
		if age := now.Sub(r.Keys[i].CreatedAt); age < p.forcedMinAge {
			return &RotationTooSoonError{Wait: p.forcedMinAge - age}
		}
	}
	r.promoteNext(now)
	_, err := r.ensureNext(now, m)
	return err
}

// revoke withdraws kid at once; an active key is replaced by the next one.
// It reports false for a key that is already unpublished.
func (r *ring) revoke(kid string, now time.Time, p policy, m *mint) (bool, error) {
	i := -1
	for j := range r.Keys {
		if r.Keys[j].KID == kid {
			i = j
			break
		}
	}
	if i < 0 {
		return false, fmt.Errorf("%w %s", ErrUnknownKey, kid)
	}
	k := &r.Keys[i]
	if !k.State.published() {
		return false, nil
	}
	k.State, k.RevokedAt, k.Private = StateRevoked, now, nil
	_, err := r.step(now, p, m)
	return true, err
}

// expire retires keys whose tokens have all expired and prunes old ones.
func (r *ring) expire(now time.Time, p policy) bool {
	changed := false
	kept := r.Keys[:0]
	for _, k := range r.Keys {
		switch {
		case k.State == StateRetiring && !now.Before(k.RetiringSince.Add(p.retireAfter)):
			k.State, k.RetiredAt = StateRetired, now
			changed = true
		case k.State == StateRetired && !now.Before(k.RetiredAt.Add(p.retention)),
			k.State == StateRevoked && !now.Before(k.RevokedAt.Add(p.retention)):
			changed = true
			continue
		}
		kept = append(kept, k)
	}
	r.Keys = kept
	return changed
}

// ensureActive promotes the next key, or creates one, when no key is active:
// on an empty ring, or after the active key was revoked.
func (r *ring) ensureActive(now time.Time, m *mint) (bool, error) {
	if r.index(StateActive) >= 0 {
		return false, nil
	}
	if r.index(StateNext) >= 0 {
		r.promoteNext(now)
		return true, nil
	}
	k, err := m.key()
	if err != nil {
		return false, err
	}
	k.State, k.CreatedAt, k.ActivatedAt = StateActive, now, now
	r.Keys = append(r.Keys, k)
	return true, nil
}

func (r *ring) ensureNext(now time.Time, m *mint) (bool, error) {
	if r.index(StateNext) >= 0 {
		return false, nil
	}
	k, err := m.key()
	if err != nil {
		return false, err
	}
	k.State, k.CreatedAt = StateNext, now
	r.Keys = append(r.Keys, k)
	return true, nil
}

func (r *ring) rotationDue(now time.Time, p policy) bool {
	a, n := r.index(StateActive), r.index(StateNext)
	return a >= 0 && n >= 0 &&
		!now.Before(r.Keys[n].CreatedAt.Add(p.publishBeforeUse)) &&
		!now.Before(r.Keys[a].ActivatedAt.Add(p.rotateEvery))
}

// promoteNext makes the next key active and the active one retiring. The
// caller guarantees a next key exists.
func (r *ring) promoteNext(now time.Time) {
	if a := r.index(StateActive); a >= 0 {
		k := &r.Keys[a]
		k.State, k.RetiringSince, k.Private = StateRetiring, now, nil
	}
	k := &r.Keys[r.index(StateNext)]
	k.State, k.ActivatedAt = StateActive, now
}

func encodeRing(r *ring) ([]byte, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("keys: encode key ring: %w", err)
	}
	return b, nil
}

// newStoredKey generates a key for alg and seals its private half.
func newStoredKey(alg Algorithm, s *sealer) (storedKey, error) {
	signer, err := alg.generate()
	if err != nil {
		return storedKey{}, fmt.Errorf("keys: generate %s key: %w", alg, err)
	}
	kid, err := thumbprint(signer.Public())
	if err != nil {
		return storedKey{}, err
	}
	public, err := x509.MarshalPKIXPublicKey(signer.Public())
	if err != nil {
		return storedKey{}, fmt.Errorf("keys: encode public key: %w", err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(signer)
	if err != nil {
		return storedKey{}, fmt.Errorf("keys: encode private key: %w", err)
	}
	sealed, err := s.seal(kid, pkcs8)
	if err != nil {
		return storedKey{}, err
	}
	return storedKey{KID: kid, Alg: alg, Public: public, Private: sealed}, nil
}
