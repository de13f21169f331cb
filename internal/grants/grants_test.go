package grants

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scimgate/scimgate/internal/store"
	"github.com/scimgate/scimgate/internal/store/storetest"
	"github.com/scimgate/scimgate/internal/testkit"
)

func newStore(t *testing.T, kv store.KV, grace time.Duration) (*Store, *testkit.Clock) {
	t.Helper()
	c := &testkit.Clock{}
	s, err := New(kv, Options{RefreshGrace: grace, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	return s, c
}

func TestOptions(t *testing.T) {
	kv := storetest.OpenBolt(t)
	for name, tc := range map[string]struct {
		opts Options
		ok   bool
	}{
		"defaults":          {Options{}, true},
		"code 10m":          {Options{CodeTTL: 10 * time.Minute}, true},
		"code 30s":          {Options{CodeTTL: 30 * time.Second}, false},
		"code 11m":          {Options{CodeTTL: 11 * time.Minute}, false},
		"refresh 30m":       {Options{RefreshTTL: 30 * time.Minute}, false},
		"grace negative":    {Options{RefreshGrace: -time.Second}, false},
		"grace 5m":          {Options{RefreshGrace: 5 * time.Minute}, false},
		"grace just under":  {Options{RefreshGrace: 5*time.Minute - time.Second}, true},
		"pending negative":  {Options{PendingTTL: -time.Second}, false},
		"refresh 1h exact":  {Options{RefreshTTL: time.Hour}, true},
		"code 60s exact":    {Options{CodeTTL: 60 * time.Second}, true},
		"everything custom": {Options{CodeTTL: 2 * time.Minute, RefreshTTL: 720 * time.Hour, RefreshGrace: time.Minute, PendingTTL: time.Minute}, true},
	} {
		_, err := New(kv, tc.opts)
		if (err == nil) != tc.ok {
			t.Errorf("%s: err %v, want ok=%v", name, err, tc.ok)
		}
	}
}

func TestPending(t *testing.T) {
	storetest.EachBackend(t, func(t *testing.T, kv store.KV) {
		ctx := t.Context()
		s, clk := newStore(t, kv, 0)
		id, p, err := s.SavePending(ctx, Pending{ClientID: "c1", RedirectURI: "https://a/cb", State: "xyz", Scope: "scim.full"})
		if err != nil {
			t.Fatal(err)
		}
		if id == "" || p.CSRF == "" || p.SignedIn() || p.Expires.Sub(p.Created) != DefaultPendingTTL {
			t.Fatalf("saved %+v id %q", p, id)
		}
		got, err := s.Pending(ctx, id)
		if err != nil || got.ClientID != "c1" || got.State != "xyz" || got.CSRF != p.CSRF {
			t.Fatalf("Pending: %+v %v", got, err)
		}
		if _, err := s.Pending(ctx, id+"x"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("wrong id: %v", err)
		}
		// Signing in saves the request again under a new id with a new
		// CSRF token, keeping the original deadline.
		taken, err := s.TakePending(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.TakePending(ctx, id); !errors.Is(err, ErrNotFound) {
			t.Fatalf("second take: %v", err)
		}
		taken.TenantID, taken.Username, taken.AuthTime = "acme", "ada", clk.Now()
		id2, p2, err := s.SavePending(ctx, *taken)
		if err != nil {
			t.Fatal(err)
		}
		if id2 == id || p2.CSRF == p.CSRF || !p2.SignedIn() || !p2.Expires.Equal(p.Expires) {
			t.Fatalf("re-saved %+v", p2)
		}
		clk.Advance(DefaultPendingTTL)
		if _, err := s.Pending(ctx, id2); !errors.Is(err, ErrNotFound) {
			t.Fatalf("expired request still found: %v", err)
		}
		if _, _, err := s.SavePending(ctx, *p2); !errors.Is(err, ErrNotFound) {
			t.Fatalf("an expired request was saved again: %v", err)
		}
		if _, err := s.TakePending(ctx, ""); !errors.Is(err, ErrNotFound) {
			t.Fatalf("empty id: %v", err)
		}
	})
}

func sampleCode() Code {
	return Code{ClientID: "c1", RedirectURI: "https://a/cb", Scope: "scim.full offline_access", Audiences: []string{"aud"},
		Subject: "admin:acme/ada", TenantID: "acme", AuthTime: time.Now(), AccessTTL: time.Hour, AccessJTI: "jti-1"}
}

func TestCodeSingleUse(t *testing.T) {
	storetest.EachBackend(t, func(t *testing.T, kv store.KV) {
		ctx := t.Context()
		s, _ := newStore(t, kv, 0)
		code := NewCode()
		saved, err := s.SaveCode(ctx, code, sampleCode())
		if err != nil {
			t.Fatal(err)
		}
		if len(saved.FamilyID) != familyIDLen || saved.Expires.Sub(saved.Created) != DefaultCodeTTL {
			t.Fatalf("saved %+v", saved)
		}
		got, err := s.RedeemCode(ctx, code)
		if err != nil || got.ClientID != "c1" || got.Subject != "admin:acme/ada" || got.FamilyID != saved.FamilyID || got.AccessJTI != "jti-1" {
			t.Fatalf("redeem: %+v %v", got, err)
		}
		_, err = s.RedeemCode(ctx, code)
		var replay *CodeReplayError
		if !errors.As(err, &replay) || !errors.Is(err, ErrCodeReplayed) || replay.Expired ||
			replay.FamilyID != saved.FamilyID || replay.AccessJTI != "jti-1" || !replay.AccessExpiresBy.Equal(saved.Expires.Add(time.Hour)) {
			t.Fatalf("second redemption: %#v", err)
		}
		for _, bad := range []string{"", "sgc_", NewCode(), "sgr_x", strings.Repeat("sgc_", 40)} {
			if _, err := s.RedeemCode(ctx, bad); !errors.Is(err, ErrNotFound) {
				t.Errorf("RedeemCode(%q): %v", bad, err)
			}
		}
		if _, err := s.SaveCode(ctx, "not-a-code", sampleCode()); err == nil {
			t.Error("SaveCode accepted a value without the code prefix")
		}
	})
}

func TestCodeExpires(t *testing.T) {
	storetest.EachBackend(t, func(t *testing.T, kv store.KV) {
		ctx := t.Context()
		s, clk := newStore(t, kv, 0)
		code := NewCode()
		if _, err := s.SaveCode(ctx, code, sampleCode()); err != nil {
			t.Fatal(err)
		}
		clk.Advance(DefaultCodeTTL)
		_, err := s.RedeemCode(ctx, code)
		var replay *CodeReplayError
		if !errors.As(err, &replay) || !replay.Expired {
			t.Fatalf("expired code: %v", err)
		}
	})
}

// TestCodeRedeemedOnce is checklist item 30 at the store level: 16
// goroutines redeem one code, in several trials; exactly one wins each time.
func TestCodeRedeemedOnce(t *testing.T) {
	storetest.EachBackend(t, func(t *testing.T, kv store.KV) {
		ctx := t.Context()
		s, _ := newStore(t, kv, 0)
		for trial := range 10 {
			code := NewCode()
			if _, err := s.SaveCode(ctx, code, sampleCode()); err != nil {
				t.Fatal(err)
			}
			results := race(16, func() error { _, err := s.RedeemCode(ctx, code); return err })
			if results[nil] != 1 || results[ErrCodeReplayed] != 15 {
				t.Fatalf("trial %d: outcomes %v, want exactly one winner and 15 replays", trial, results)
			}
		}
	})
}

// race runs fn on n goroutines released together and counts the outcomes
// by sentinel error.
func race(n int, fn func() error) map[error]int {
	var (
		mu    sync.Mutex
		wg    sync.WaitGroup
		start = make(chan struct{})
		out   = map[error]int{}
	)
	for range n {
		wg.Go(func() {
			<-start
			err := fn()
			for _, sentinel := range []error{ErrNotFound, ErrCodeReplayed, ErrRefreshReused, ErrRevoked, ErrWrongClient} {
				if errors.Is(err, sentinel) {
					err = sentinel
				}
			}
			mu.Lock()
			out[err]++
			mu.Unlock()
		})
	}
	close(start)
	wg.Wait()
	return out
}

func startFamily(t *testing.T, s *Store) (string, *Family) {
	t.Helper()
	token := NewRefreshToken(newFamilyID())
	f, err := s.StartFamily(t.Context(), token, Family{ClientID: "c1", TenantID: "acme", Subject: "admin:acme/ada", Scope: "scim.full offline_access"},
		IssuedAccess{JTI: "a0", Expires: s.opts.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	return token, f
}

func rotation(jti string) Rotation {
	return Rotation{ClientID: "c1", Access: IssuedAccess{JTI: jti, Expires: time.Now().Add(24 * time.Hour)}}
}

func TestRefreshRotation(t *testing.T) {
	storetest.EachBackend(t, func(t *testing.T, kv store.KV) {
		ctx := t.Context()
		s, clk := newStore(t, kv, 30*time.Second)
		t0, f := startFamily(t, s)
		if f.Expires.Sub(f.Created) != DefaultRefreshTTL || len(f.Access) != 1 {
			t.Fatalf("started %+v", f)
		}
		r1, err := s.Rotate(ctx, t0, rotation("a1"))
		if err != nil || r1.InGrace || r1.Token == t0 || !strings.HasPrefix(r1.Token, RefreshPrefix+f.ID) {
			t.Fatalf("first rotation: %+v %v", r1, err)
		}
		// The previous token inside the grace window yields the same
		// successor: no fork.
		again, err := s.Rotate(ctx, t0, rotation("a2"))
		if err != nil || !again.InGrace || again.Token != r1.Token {
			t.Fatalf("grace retry: %+v %v", again, err)
		}
		r2, err := s.Rotate(ctx, r1.Token, rotation("a3"))
		if err != nil || r2.Token == r1.Token {
			t.Fatalf("second rotation: %+v %v", r2, err)
		}
		// t0 is now two heads back: only the spent index knows it.
		clk.Advance(time.Second)
		_, err = s.Rotate(ctx, t0, rotation("a4"))
		var reuse *ReuseError
		if !errors.As(err, &reuse) || !reuse.Family.Revoked || reuse.Family.RevokeReason != "refresh_reuse" {
			t.Fatalf("reuse of a spent token: %v", err)
		}
		jtis := map[string]bool{}
		for _, a := range reuse.Family.LiveAccess(clk.Now()) {
			jtis[a.JTI] = true
		}
		for _, j := range []string{"a0", "a1", "a2", "a3"} {
			if !jtis[j] {
				t.Errorf("revoked family does not list access token %s: %v", j, reuse.Family.Access)
			}
		}
		if _, err := s.Rotate(ctx, r2.Token, rotation("a5")); !errors.Is(err, ErrRevoked) {
			t.Fatalf("newest token after reuse: %v", err)
		}
	})
}

func TestRefreshReuseOutsideGrace(t *testing.T) {
	storetest.EachBackend(t, func(t *testing.T, kv store.KV) {
		ctx := t.Context()
		s, clk := newStore(t, kv, 30*time.Second)
		t0, _ := startFamily(t, s)
		r1, err := s.Rotate(ctx, t0, rotation("a1"))
		if err != nil {
			t.Fatal(err)
		}
		clk.Advance(31 * time.Second)
		if _, err := s.Rotate(ctx, t0, rotation("a2")); !errors.Is(err, ErrRefreshReused) {
			t.Fatalf("previous token after grace: %v", err)
		}
		if _, err := s.Rotate(ctx, r1.Token, rotation("a3")); !errors.Is(err, ErrRevoked) {
			t.Fatalf("head after reuse: %v", err)
		}
		if f, st, err := s.Inspect(ctx, r1.Token); err != nil || !f.Revoked || st != StatusHead {
			t.Fatalf("inspect after reuse: %+v %v %v", f, st, err)
		}
	})
}

func TestRefreshWrongClientChangesNothing(t *testing.T) {
	storetest.EachBackend(t, func(t *testing.T, kv store.KV) {
		ctx := t.Context()
		s, _ := newStore(t, kv, 30*time.Second)
		t0, _ := startFamily(t, s)
		other := rotation("x")
		other.ClientID = "c2"
		if _, err := s.Rotate(ctx, t0, other); !errors.Is(err, ErrWrongClient) {
			t.Fatalf("other client: %v", err)
		}
		r1, err := s.Rotate(ctx, t0, rotation("a1"))
		if err != nil || r1.InGrace {
			t.Fatalf("rightful client after a refused attempt: %+v %v", r1, err)
		}
		if _, err := s.Rotate(ctx, t0, other); !errors.Is(err, ErrWrongClient) {
			t.Fatalf("other client inside grace: %v", err)
		}
	})
}

// TestRefreshConcurrent is checklist item 34 at the store level.
func TestRefreshConcurrent(t *testing.T) {
	storetest.EachBackend(t, func(t *testing.T, kv store.KV) {
		ctx := t.Context()
		t.Run("grace", func(t *testing.T) {
			s, _ := newStore(t, kv, 30*time.Second)
			for trial := range 5 {
				t0, _ := startFamily(t, s)
				var (
					mu     sync.Mutex
					tokens = map[string]int{}
					heads  int
				)
				results := race(16, func() error {
					r, err := s.Rotate(ctx, t0, rotation("a"))
					if err == nil {
						mu.Lock()
						tokens[r.Token]++
						if !r.InGrace {
							heads++
						}
						mu.Unlock()
					}
					return err
				})
				if results[nil] != 16 || len(tokens) != 1 || heads != 1 {
					t.Fatalf("trial %d: outcomes %v, %d distinct successors, %d rotations; want 16 successes with one successor", trial, results, len(tokens), heads)
				}
				for tok := range tokens {
					if f, st, err := s.Inspect(ctx, tok); err != nil || st != StatusHead || f.Revoked {
						t.Fatalf("trial %d: the shared successor is not the head: %v %v", trial, st, err)
					}
				}
			}
		})
		t.Run("no grace", func(t *testing.T) {
			s, _ := newStore(t, kv, 0)
			for trial := range 5 {
				t0, f := startFamily(t, s)
				results := race(16, func() error { _, err := s.Rotate(ctx, t0, rotation("a")); return err })
				if results[nil] != 1 || results[nil]+results[ErrRefreshReused]+results[ErrRevoked] != 16 {
					t.Fatalf("trial %d: outcomes %v, want exactly one winner and the rest reuse", trial, results)
				}
				if got, _, _ := s.Inspect(ctx, t0); got == nil || !got.Revoked {
					t.Fatalf("trial %d: family %s not revoked after concurrent reuse", trial, f.ID)
				}
			}
		})
	})
}

func TestRefreshSlidingLifetime(t *testing.T) {
	storetest.EachBackend(t, func(t *testing.T, kv store.KV) {
		ctx := t.Context()
		s, clk := newStore(t, kv, 0)
		tok, _ := startFamily(t, s)
		for range 3 { // 3 × 89 days: far beyond one lifetime, used in time
			clk.Advance(DefaultRefreshTTL - 24*time.Hour)
			r, err := s.Rotate(ctx, tok, rotation("a"))
			if err != nil {
				t.Fatalf("use within the sliding lifetime: %v", err)
			}
			tok = r.Token
		}
		clk.Advance(DefaultRefreshTTL)
		if _, err := s.Rotate(ctx, tok, rotation("a")); !errors.Is(err, ErrNotFound) {
			t.Fatalf("use after a full idle lifetime: %v", err)
		}
		if _, _, err := s.Inspect(ctx, tok); !errors.Is(err, ErrNotFound) {
			t.Fatalf("inspect after a full idle lifetime: %v", err)
		}
	})
}

func TestRevokeBeforeStart(t *testing.T) {
	storetest.EachBackend(t, func(t *testing.T, kv store.KV) {
		ctx := t.Context()
		s, _ := newStore(t, kv, 0)
		id := newFamilyID()
		if f, err := s.RevokeFamily(ctx, id, "code_replayed"); err != nil || !f.Revoked {
			t.Fatalf("revoke absent family: %+v %v", f, err)
		}
		_, err := s.StartFamily(ctx, NewRefreshToken(id), Family{ClientID: "c1"}, IssuedAccess{JTI: "a", Expires: time.Now().Add(time.Hour)})
		if !errors.Is(err, ErrRevoked) {
			t.Fatalf("start after revoke: %v", err)
		}
		if _, err := s.RevokeFamily(ctx, "short", "x"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("malformed id: %v", err)
		}
		tok, f := startFamily(t, s)
		if _, err := s.RevokeFamily(ctx, f.ID, "revoked_by_client"); err != nil {
			t.Fatal(err)
		}
		again, err := s.RevokeFamily(ctx, f.ID, "other")
		if err != nil || again.RevokeReason != "revoked_by_client" {
			t.Fatalf("second revoke: %+v %v", again, err)
		}
		if _, err := s.Rotate(ctx, tok, rotation("a")); !errors.Is(err, ErrRevoked) {
			t.Fatalf("rotate after revoke: %v", err)
		}
	})
}

func TestForgedTokenChangesNothing(t *testing.T) {
	storetest.EachBackend(t, func(t *testing.T, kv store.KV) {
		ctx := t.Context()
		s, _ := newStore(t, kv, 0)
		tok, f := startFamily(t, s)
		forged := NewRefreshToken(f.ID)
		if _, err := s.Rotate(ctx, forged, rotation("a")); !errors.Is(err, ErrNotFound) {
			t.Fatalf("forged token of a known family: %v", err)
		}
		if _, _, err := s.Inspect(ctx, forged); !errors.Is(err, ErrNotFound) {
			t.Fatalf("inspect forged: %v", err)
		}
		if _, err := s.Rotate(ctx, tok, rotation("a")); err != nil {
			t.Fatalf("the real token after a forged attempt: %v", err)
		}
		for _, bad := range []string{"", "sgr_", tok[:len(tok)-1], tok + "x", "sgc_" + tok[4:], strings.Replace(tok, tok[10:11], "!", 1)} {
			if _, err := s.Rotate(ctx, bad, rotation("a")); !errors.Is(err, ErrNotFound) {
				t.Errorf("Rotate(%q): %v", bad, err)
			}
		}
	})
}

func TestInspect(t *testing.T) {
	storetest.EachBackend(t, func(t *testing.T, kv store.KV) {
		ctx := t.Context()
		s, clk := newStore(t, kv, 30*time.Second)
		t0, _ := startFamily(t, s)
		if _, st, err := s.Inspect(ctx, t0); err != nil || st != StatusHead {
			t.Fatalf("head: %v %v", st, err)
		}
		r1, _ := s.Rotate(ctx, t0, rotation("a1"))
		if _, st, _ := s.Inspect(ctx, t0); st != StatusGrace {
			t.Fatalf("previous inside grace: %v", st)
		}
		clk.Advance(time.Minute)
		if _, st, _ := s.Inspect(ctx, t0); st != StatusRotated {
			t.Fatalf("previous after grace: %v", st)
		}
		r2, _ := s.Rotate(ctx, r1.Token, rotation("a2"))
		if _, st, _ := s.Inspect(ctx, t0); st != StatusRotated {
			t.Fatalf("two back: %v", st)
		}
		if f, st, _ := s.Inspect(ctx, r2.Token); st != StatusHead || f.Revoked || f.Subject != "admin:acme/ada" {
			t.Fatalf("new head: %+v %v", f, st)
		}
	})
}

// TestStoreHoldsNoSecrets runs every kind of record through the store and
// checks that no code, pending id, CSRF token or refresh token appears in
// any key or value.
func TestStoreHoldsNoSecrets(t *testing.T) {
	storetest.EachBackend(t, func(t *testing.T, kv store.KV) {
		ctx := t.Context()
		s, _ := newStore(t, kv, 30*time.Second)
		var secrets []string
		id, p, _ := s.SavePending(ctx, Pending{ClientID: "c1"})
		secrets = append(secrets, id)
		_ = p // the CSRF token is stored by design: it is not a credential on its own
		code := NewCode()
		s.SaveCode(ctx, code, sampleCode())
		secrets = append(secrets, code)
		t0, _ := startFamily(t, s)
		r1, _ := s.Rotate(ctx, t0, rotation("a1"))
		r2, _ := s.Rotate(ctx, r1.Token, rotation("a2"))
		secrets = append(secrets, t0, r1.Token, r2.Token)
		entries, err := kv.List(ctx, "grants/")
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) < 6 {
			t.Fatalf("only %d records", len(entries))
		}
		for _, e := range entries {
			for _, sec := range secrets {
				// The family id inside a refresh token is public; its
				// secret tail must not be stored anywhere.
				tail := sec[max(0, len(sec)-tokenSecretLen):]
				if strings.Contains(e.Key, tail) || strings.Contains(string(e.Value), tail) {
					t.Fatalf("secret material in %s", e.Key)
				}
			}
		}
	})
}

func TestRememberBoundsAccessList(t *testing.T) {
	now := time.Now()
	f := &Family{}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	// Gone for good: past exp by more than any verifier's leeway.
	must(f.remember(IssuedAccess{JTI: "expired", Expires: now.Add(-acceptedPastExp)}, now))
	// Past exp, but a verifier may still accept it: kept.
	must(f.remember(IssuedAccess{JTI: "in-leeway", Expires: now.Add(-time.Second)}, now))
	for i := range maxIssuedAccess - 2 {
		must(f.remember(IssuedAccess{JTI: string(rune('a' + i%26)), Expires: now.Add(time.Hour)}, now))
	}
	if len(f.Access) != maxIssuedAccess-1 || f.Access[0].JTI != "in-leeway" {
		t.Fatalf("%d access entries starting with %+v, want %d starting with the one in its leeway", len(f.Access), f.Access[0], maxIssuedAccess-1)
	}
	if err := f.remember(IssuedAccess{JTI: "last", Expires: now.Add(time.Hour)}, now.Add(-time.Nanosecond)); err != nil {
		t.Fatalf("the %dth live token: %v", maxIssuedAccess, err)
	}
	before := slices.Clone(f.Access)
	if err := f.remember(IssuedAccess{JTI: "one too many", Expires: now.Add(time.Hour)}, now); !errors.Is(err, ErrTooManyAccess) {
		t.Fatalf("beyond %d live tokens: %v, want ErrTooManyAccess", maxIssuedAccess, err)
	}
	if !slices.Equal(f.Access, before) {
		t.Fatal("a refused remember changed the list: a live token would be forgotten")
	}
	// Once the one in its leeway is past it, there is room again.
	must(f.remember(IssuedAccess{JTI: "next", Expires: now.Add(time.Hour)}, now.Add(acceptedPastExp)))
}

func TestParseRefreshToken(t *testing.T) {
	id := newFamilyID()
	tok := NewRefreshToken(id)
	if got, ok := ParseRefreshToken(tok); !ok || got != id {
		t.Fatalf("parse %q: %q %v", tok, got, ok)
	}
	next := successor([]byte("nonce"), tok, id)
	if got, ok := ParseRefreshToken(next); !ok || got != id || next == tok {
		t.Fatalf("parse successor %q: %q %v", next, got, ok)
	}
	if successor([]byte("nonce"), tok, id) != next || successor([]byte("other"), tok, id) == next {
		t.Fatal("successor is not a deterministic function of nonce and token")
	}
}

// FuzzParseRefreshToken feeds arbitrary presented tokens to the parser that
// guards every refresh, introspection and revocation.
func FuzzParseRefreshToken(f *testing.F) {
	f.Add(NewRefreshToken(newFamilyID()))
	f.Add("sgr_")
	f.Add("sgr_" + strings.Repeat("A", familyIDLen+tokenSecretLen))
	f.Add("sgr_" + strings.Repeat("é", 30))
	f.Fuzz(func(t *testing.T, token string) {
		id, ok := ParseRefreshToken(token)
		if !ok {
			if id != "" {
				t.Fatalf("rejected token yielded id %q", id)
			}
			return
		}
		if len(token) != refreshTokenLen || !strings.HasPrefix(token, RefreshPrefix) || len(id) != familyIDLen || !strings.Contains(token, id) {
			t.Fatalf("accepted %q as family %q", token, id)
		}
		if got, ok := ParseRefreshToken(NewRefreshToken(id)); !ok || got != id {
			t.Fatalf("a fresh token of family %q does not parse", id)
		}
	})
}

func TestContextCancelled(t *testing.T) {
	kv := storetest.OpenBolt(t)
	s, _ := newStore(t, kv, 0)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, _, err := s.SavePending(ctx, Pending{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("SavePending with a cancelled context: %v", err)
	}
	if _, err := s.RedeemCode(ctx, NewCode()); !errors.Is(err, context.Canceled) {
		t.Fatalf("RedeemCode with a cancelled context: %v", err)
	}
}

// TestTwoReplicas races the single-use decisions through two clients of one
// store, as two replicas behind a load balancer make them: each code is
// redeemed once, each refresh token rotates once (or, inside the grace
// window, into one shared successor).
func TestTwoReplicas(t *testing.T) {
	storetest.EachBackend(t, func(t *testing.T, kv store.KV) {
		ctx := t.Context()
		clk := &testkit.Clock{}
		replica := func(kv store.KV, grace time.Duration) *Store {
			s, err := New(kv, Options{RefreshGrace: grace, Now: clk.Now})
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
		other := storetest.SecondClient(t, kv)
		for _, grace := range []time.Duration{0, 30 * time.Second} {
			a, b := replica(kv, grace), replica(other, grace)
			var n atomic.Int64
			pick := func() *Store { // alternately
				if n.Add(1)%2 == 0 {
					return a
				}
				return b
			}
			for trial := range 5 {
				code := NewCode()
				if _, err := a.SaveCode(ctx, code, sampleCode()); err != nil {
					t.Fatal(err)
				}
				results := race(16, func() error { _, err := pick().RedeemCode(ctx, code); return err })
				if results[nil] != 1 || results[ErrCodeReplayed] != 15 {
					t.Fatalf("grace %v, trial %d: code outcomes %v, want one winner and 15 replays", grace, trial, results)
				}

				t0, _ := startFamily(t, a)
				var (
					mu         sync.Mutex
					successors = map[string]bool{}
				)
				results = race(16, func() error {
					r, err := pick().Rotate(ctx, t0, rotation("x"))
					if err == nil {
						mu.Lock()
						successors[r.Token] = true
						mu.Unlock()
					}
					return err
				})
				switch {
				case grace == 0 && (results[nil] != 1 || results[nil]+results[ErrRefreshReused]+results[ErrRevoked] != 16):
					t.Fatalf("no grace, trial %d: rotation outcomes %v, want one winner, the rest reuse", trial, results)
				case grace > 0 && (results[nil] != 16 || len(successors) != 1):
					t.Fatalf("grace, trial %d: rotation outcomes %v with %d successors, want 16 successes and one successor", trial, results, len(successors))
				}
			}
		}
	})
}
