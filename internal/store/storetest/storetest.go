// Package storetest is the one conformance suite every store.KV backend must
// pass, plus helpers that let other packages run their own tests on every
// backend.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/scimgate/scimgate/internal/store"
)

// Short TTLs keep the suite fast; tests poll for expiry instead of sleeping.
const (
	shortTTL     = 100 * time.Millisecond
	pollInterval = 5 * time.Millisecond
	expiryWait   = 5 * time.Second
)

// Run checks the backend returned by open against every guarantee of
// store.KV. open must return a fresh, empty store on each call and register
// its own cleanup with t.
func Run(t *testing.T, open func(t *testing.T) store.KV) {
	tests := []struct {
		name string
		run  func(t *testing.T, kv store.KV)
	}{
		{"get missing", testGetMissing},
		{"set get overwrite", testSetGetOverwrite},
		{"ttl expires", testTTLExpires},
		{"set without ttl clears ttl", testSetClearsTTL},
		{"later ttl replaces earlier", testTTLReplaced},
		{"negative ttl rejected", testNegativeTTL},
		{"create", testCreate},
		{"create over expired", testCreateOverExpired},
		{"delete", testDelete},
		{"take", testTake},
		{"take expired", testTakeExpired},
		{"update", testUpdate},
		{"update fn error writes nothing", testUpdateFnError},
		{"update expired sees nil", testUpdateExpired},
		{"update ttl", testUpdateTTL},
		{"list", testList},
		{"list excludes expired", testListExpired},
		{"values are copies", testValuesAreCopies},
		{"canceled context", testCanceledContext},
		{"ping", testPing},
		{"concurrent update appends", testConcurrentAppends},
		{"concurrent create update delete", testConcurrentMix},
		{"concurrent take one winner", testConcurrentTake},
		{"concurrent create one winner", testConcurrentCreate},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.run(t, open(t))
		})
	}
}

func testGetMissing(t *testing.T, kv store.KV) {
	wantNotFound(t, kv, "missing")
}

func testSetGetOverwrite(t *testing.T, kv store.KV) {
	steps := []struct {
		key, value string
	}{
		{"k", "first"},
		{"k", "second"},
		{"other", "x"},
		{"k", "third value, longer than before"},
		{"k", "4"},
	}
	want := map[string]string{}
	for _, s := range steps {
		mustSet(t, kv, s.key, s.value, 0)
		want[s.key] = s.value
		for k, v := range want {
			wantValue(t, kv, k, v)
		}
	}
}

func testTTLExpires(t *testing.T, kv store.KV) {
	start := time.Now()
	mustSet(t, kv, "k", "v", shortTTL)
	_, err := kv.Get(t.Context(), "k")
	switch {
	case err == nil:
	case errors.Is(err, store.ErrNotFound) && time.Since(start) < shortTTL:
		t.Fatalf("Get right after Set with ttl %v: key already gone", shortTTL)
	case !errors.Is(err, store.ErrNotFound):
		t.Fatalf("Get: %v", err)
	}
	waitExpired(t, kv, "k")
}

// testSetClearsTTL uses a probe key written after the others with the same
// ttl: once the probe is gone, the earlier deadlines have passed too.
func testSetClearsTTL(t *testing.T, kv store.KV) {
	ctx := t.Context()
	mustSet(t, kv, "set", "old", shortTTL)
	mustSet(t, kv, "set", "new", 0)
	mustSet(t, kv, "update", "old", shortTTL)
	if err := kv.Update(ctx, "update", func([]byte) ([]byte, time.Duration, error) {
		return []byte("new"), 0, nil
	}); err != nil {
		t.Fatalf("Update: %v", err)
	}
	mustSet(t, kv, "probe", "p", shortTTL)
	waitExpired(t, kv, "probe")
	wantValue(t, kv, "set", "new")
	wantValue(t, kv, "update", "new")
}

// testTTLReplaced checks that each write sets the ttl afresh in both
// directions, and that a refused Create leaves the existing key's value and
// ttl alone: a probe written last with the short ttl bounds when the short
// deadlines have passed.
func testTTLReplaced(t *testing.T, kv store.KV) {
	ctx := t.Context()
	mustSet(t, kv, "longer", "v", shortTTL)
	mustSet(t, kv, "longer", "v2", time.Hour)
	mustSet(t, kv, "shorter", "v", time.Hour)
	if err := kv.Update(ctx, "shorter", func(old []byte) ([]byte, time.Duration, error) {
		return append(old, '2'), shortTTL, nil
	}); err != nil {
		t.Fatalf("Update: %v", err)
	}
	mustSet(t, kv, "kept", "v", 0)
	if err := kv.Create(ctx, "kept", []byte("other"), shortTTL); !errors.Is(err, store.ErrExists) {
		t.Fatalf("Create over a live key: err = %v, want ErrExists", err)
	}
	mustSet(t, kv, "probe", "p", shortTTL)
	waitExpired(t, kv, "probe")
	waitExpired(t, kv, "shorter")
	wantValue(t, kv, "longer", "v2")
	wantValue(t, kv, "kept", "v")
}

func testNegativeTTL(t *testing.T, kv store.KV) {
	ctx := t.Context()
	writes := []struct {
		name  string
		write func() error
	}{
		{"Set", func() error { return kv.Set(ctx, "k", []byte("v"), -time.Second) }},
		{"Create", func() error { return kv.Create(ctx, "k", []byte("v"), -time.Second) }},
		{"Update", func() error {
			return kv.Update(ctx, "k", func([]byte) ([]byte, time.Duration, error) {
				return []byte("v"), -time.Second, nil
			})
		}},
	}
	for _, w := range writes {
		if err := w.write(); err == nil || errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrExists) {
			t.Errorf("%s with negative ttl: err = %v, want a validation error", w.name, err)
		}
		wantNotFound(t, kv, "k")
	}
}

func testCreate(t *testing.T, kv store.KV) {
	ctx := t.Context()
	if err := kv.Create(ctx, "k", []byte("first"), 0); err != nil {
		t.Fatalf("first Create: %v", err)
	}
	if err := kv.Create(ctx, "k", []byte("second"), 0); !errors.Is(err, store.ErrExists) {
		t.Fatalf("second Create: err = %v, want ErrExists", err)
	}
	wantValue(t, kv, "k", "first")

	if err := kv.Create(ctx, "short", []byte("v"), shortTTL); err != nil {
		t.Fatalf("Create with ttl: %v", err)
	}
	waitExpired(t, kv, "short")
}

func testCreateOverExpired(t *testing.T, kv store.KV) {
	mustSet(t, kv, "k", "old", shortTTL)
	waitExpired(t, kv, "k")
	if err := kv.Create(t.Context(), "k", []byte("new"), 0); err != nil {
		t.Fatalf("Create over expired key: %v", err)
	}
	wantValue(t, kv, "k", "new")
}

func testDelete(t *testing.T, kv store.KV) {
	ctx := t.Context()
	if err := kv.Delete(ctx, "missing"); err != nil {
		t.Fatalf("Delete missing key: %v", err)
	}
	mustSet(t, kv, "k", "v", 0)
	mustSet(t, kv, "keep", "v", 0)
	if err := kv.Delete(ctx, "k"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	wantNotFound(t, kv, "k")
	wantValue(t, kv, "keep", "v")
	if err := kv.Delete(ctx, "k"); err != nil {
		t.Fatalf("second Delete: %v", err)
	}
	if err := kv.Create(ctx, "k", []byte("again"), 0); err != nil {
		t.Fatalf("Create after Delete: %v", err)
	}
}

func testTake(t *testing.T, kv store.KV) {
	ctx := t.Context()
	if _, err := kv.Take(ctx, "missing"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Take missing: err = %v, want ErrNotFound", err)
	}
	mustSet(t, kv, "k", "v", 0)
	got, err := kv.Take(ctx, "k")
	if err != nil || string(got) != "v" {
		t.Fatalf("Take = %q, %v; want %q", got, err, "v")
	}
	if _, err := kv.Take(ctx, "k"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second Take: err = %v, want ErrNotFound", err)
	}
	wantNotFound(t, kv, "k")
}

func testTakeExpired(t *testing.T, kv store.KV) {
	mustSet(t, kv, "k", "v", shortTTL)
	waitExpired(t, kv, "k")
	if got, err := kv.Take(t.Context(), "k"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Take expired = %q, %v; want ErrNotFound", got, err)
	}
}

func testUpdate(t *testing.T, kv store.KV) {
	steps := []struct {
		name    string
		wantOld string // "" means nil
		next    []byte // nil deletes
		want    string // "" means absent afterwards
	}{
		{"absent key gets nil and is created", "", []byte("v1"), "v1"},
		{"present key gets old value", "v1", []byte("v2"), "v2"},
		{"nil result deletes", "v2", nil, ""},
		{"nil result on absent key is a no-op", "", nil, ""},
		{"recreate", "", []byte("v3"), "v3"},
	}
	for _, s := range steps {
		calls := 0
		err := kv.Update(t.Context(), "k", func(old []byte) ([]byte, time.Duration, error) {
			calls++
			if s.wantOld == "" && old != nil {
				t.Errorf("%s: old = %q, want nil", s.name, old)
			}
			if s.wantOld != "" && string(old) != s.wantOld {
				t.Errorf("%s: old = %q, want %q", s.name, old, s.wantOld)
			}
			return s.next, 0, nil
		})
		if err != nil {
			t.Fatalf("%s: Update: %v", s.name, err)
		}
		if calls == 0 {
			t.Fatalf("%s: fn was never called", s.name)
		}
		if s.want == "" {
			wantNotFound(t, kv, "k")
		} else {
			wantValue(t, kv, "k", s.want)
		}
	}
}

var errSentinel = errors.New("storetest: sentinel from update fn")

func testUpdateFnError(t *testing.T, kv store.KV) {
	mustSet(t, kv, "present", "v", 0)
	for _, key := range []string{"present", "absent"} {
		err := kv.Update(t.Context(), key, func([]byte) ([]byte, time.Duration, error) {
			return []byte("must not be written"), 0, errSentinel
		})
		if err != errSentinel { // the contract promises the error itself, not a wrapper
			t.Errorf("Update(%s) err = %v, want the sentinel itself", key, err)
		}
	}
	wantValue(t, kv, "present", "v")
	wantNotFound(t, kv, "absent")
}

func testUpdateExpired(t *testing.T, kv store.KV) {
	mustSet(t, kv, "k", "old", shortTTL)
	waitExpired(t, kv, "k")
	err := kv.Update(t.Context(), "k", func(old []byte) ([]byte, time.Duration, error) {
		if old != nil {
			t.Errorf("old = %q, want nil for an expired key", old)
		}
		return []byte("new"), 0, nil
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	wantValue(t, kv, "k", "new")
}

func testUpdateTTL(t *testing.T, kv store.KV) {
	mustSet(t, kv, "k", "v", 0)
	err := kv.Update(t.Context(), "k", func(old []byte) ([]byte, time.Duration, error) {
		return append(old, '2'), shortTTL, nil
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	waitExpired(t, kv, "k")
}

// listKeys mixes separators and Redis glob metacharacters, so a backend that
// forgets to escape a prefix matches too much or too little.
var listKeys = []string{
	"a:1", "a:10", "a:2", "ab:1", "b:1",
	"a*x", "a*y", "a?z", "a[b]", "a[c", "a]", "a\\d", "a^e", "a-f",
	"*", "?", "[", "]x", "\\",
}

func testList(t *testing.T, kv store.KV) {
	for _, k := range listKeys {
		mustSet(t, kv, k, "v-"+k, 0)
	}
	tests := []struct {
		prefix string
		want   []string
	}{
		{"a:", []string{"a:1", "a:10", "a:2"}},
		{"a:1", []string{"a:1", "a:10"}},
		{"a*", []string{"a*x", "a*y"}},
		{"a?", []string{"a?z"}},
		{"a[", []string{"a[b]", "a[c"}},
		{"a[b", []string{"a[b]"}},
		{"a]", []string{"a]"}},
		{"a\\", []string{"a\\d"}},
		{"a^", []string{"a^e"}},
		{"*", []string{"*"}},
		{"?", []string{"?"}},
		{"[", []string{"["}},
		{"\\", []string{"\\"}},
		{"a", []string{"a*x", "a*y", "a-f", "a:1", "a:10", "a:2", "a?z", "a[b]", "a[c", "a\\d", "a]", "a^e", "ab:1"}},
		{"", []string{"*", "?", "[", "\\", "]x", "a*x", "a*y", "a-f", "a:1", "a:10", "a:2", "a?z", "a[b]", "a[c", "a\\d", "a]", "a^e", "ab:1", "b:1"}},
		{"zz", nil},
		{"a:1:", nil},
	}
	for _, tc := range tests {
		entries, err := kv.List(t.Context(), tc.prefix)
		if err != nil {
			t.Fatalf("List(%q): %v", tc.prefix, err)
		}
		var got []string
		for _, e := range entries {
			got = append(got, e.Key)
			if string(e.Value) != "v-"+e.Key {
				t.Errorf("List(%q): %q has value %q", tc.prefix, e.Key, e.Value)
			}
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("List(%q) keys = %q, want %q", tc.prefix, got, tc.want)
		}
	}
}

func testListExpired(t *testing.T, kv store.KV) {
	mustSet(t, kv, "p:live", "v-p:live", 0)
	mustSet(t, kv, "p:short", "v-p:short", shortTTL)
	mustSet(t, kv, "q:short", "v", shortTTL)
	waitExpired(t, kv, "p:short")
	waitExpired(t, kv, "q:short")
	entries, err := kv.List(t.Context(), "p:")
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if len(entries) != 1 || entries[0].Key != "p:live" || string(entries[0].Value) != "v-p:live" {
		t.Fatalf("List = %+v, want only p:live", entries)
	}
}

func testValuesAreCopies(t *testing.T, kv store.KV) {
	ctx := t.Context()
	mutations := []struct {
		name   string
		mutate func(t *testing.T)
	}{
		{"Set input", func(t *testing.T) {
			in := []byte("v")
			mustSetBytes(t, kv, "k", in)
			in[0] = 'X'
		}},
		{"Create input", func(t *testing.T) {
			if err := kv.Delete(ctx, "k"); err != nil {
				t.Fatal(err)
			}
			in := []byte("v")
			if err := kv.Create(ctx, "k", in, 0); err != nil {
				t.Fatal(err)
			}
			in[0] = 'X'
		}},
		{"Update result", func(t *testing.T) {
			out := []byte("v")
			if err := kv.Update(ctx, "k", func([]byte) ([]byte, time.Duration, error) { return out, 0, nil }); err != nil {
				t.Fatal(err)
			}
			out[0] = 'X'
		}},
		{"Get result", func(t *testing.T) {
			got, err := kv.Get(ctx, "k")
			if err != nil {
				t.Fatal(err)
			}
			got[0] = 'X'
		}},
		{"List result", func(t *testing.T) {
			entries, err := kv.List(ctx, "k")
			if err != nil || len(entries) != 1 {
				t.Fatalf("List = %v, %v", entries, err)
			}
			entries[0].Value[0] = 'X'
		}},
		{"Update old", func(t *testing.T) {
			err := kv.Update(ctx, "k", func(old []byte) ([]byte, time.Duration, error) {
				old[0] = 'X'
				return nil, 0, errSentinel
			})
			if !errors.Is(err, errSentinel) {
				t.Fatal(err)
			}
		}},
	}
	for _, m := range mutations {
		m.mutate(t)
		if got, err := kv.Get(ctx, "k"); err != nil || string(got) != "v" {
			t.Errorf("after mutating the %s: Get = %q, %v; want %q", m.name, got, err, "v")
			mustSet(t, kv, "k", "v", 0)
		}
	}
}

func testCanceledContext(t *testing.T, kv store.KV) {
	mustSet(t, kv, "present", "v", 0)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	fnCalled := false
	calls := []struct {
		name string
		call func() error
	}{
		{"Get", func() error { _, err := kv.Get(ctx, "present"); return err }},
		{"Set", func() error { return kv.Set(ctx, "k", []byte("v"), 0) }},
		{"Create", func() error { return kv.Create(ctx, "k", []byte("v"), 0) }},
		{"Delete", func() error { return kv.Delete(ctx, "present") }},
		{"Take", func() error { _, err := kv.Take(ctx, "present"); return err }},
		{"Update", func() error {
			return kv.Update(ctx, "present", func([]byte) ([]byte, time.Duration, error) {
				fnCalled = true
				return nil, 0, nil
			})
		}},
		{"List", func() error { _, err := kv.List(ctx, ""); return err }},
		{"Ping", func() error { return kv.Ping(ctx) }},
	}
	for _, c := range calls {
		if err := c.call(); !errors.Is(err, context.Canceled) {
			t.Errorf("%s with canceled context: err = %v, want context.Canceled", c.name, err)
		}
	}
	if fnCalled {
		t.Error("Update called fn despite the canceled context")
	}
	wantNotFound(t, kv, "k")
	wantValue(t, kv, "present", "v")
}

func testPing(t *testing.T, kv store.KV) {
	if err := kv.Ping(t.Context()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}

func mustSet(t *testing.T, kv store.KV, key, value string, ttl time.Duration) {
	t.Helper()
	if err := kv.Set(t.Context(), key, []byte(value), ttl); err != nil {
		t.Fatalf("Set(%q): %v", key, err)
	}
}

func mustSetBytes(t *testing.T, kv store.KV, key string, value []byte) {
	t.Helper()
	if err := kv.Set(t.Context(), key, value, 0); err != nil {
		t.Fatalf("Set(%q): %v", key, err)
	}
}

func wantValue(t *testing.T, kv store.KV, key, want string) {
	t.Helper()
	got, err := kv.Get(t.Context(), key)
	if err != nil || !bytes.Equal(got, []byte(want)) {
		t.Fatalf("Get(%q) = %q, %v; want %q", key, got, err, want)
	}
}

func wantNotFound(t *testing.T, kv store.KV, key string) {
	t.Helper()
	if got, err := kv.Get(t.Context(), key); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get(%q) = %q, %v; want ErrNotFound", key, got, err)
	}
}

// waitExpired polls until key has expired; the generous bound only catches
// keys that never expire.
func waitExpired(t *testing.T, kv store.KV, key string) {
	t.Helper()
	deadline := time.Now().Add(expiryWait)
	for {
		_, err := kv.Get(t.Context(), key)
		if errors.Is(err, store.ErrNotFound) {
			return
		}
		if err != nil {
			t.Fatalf("Get(%q) while waiting for expiry: %v", key, err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("key %q still present %v after its ttl", key, expiryWait)
		}
		time.Sleep(pollInterval)
	}
}
