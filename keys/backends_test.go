package keys

import (
	"testing"

	"github.com/scimgate/scimgate/internal/store"
	"github.com/scimgate/scimgate/internal/store/rediskv"
	"github.com/scimgate/scimgate/internal/store/storetest"
)

// eachBackend runs fn once per real backend with two clients of one store,
// as two replicas would hold them: the same instance for the embedded bolt
// file, which one process owns, and two connections under one key prefix
// for Redis.
func eachBackend(t *testing.T, fn func(t *testing.T, a, b store.KV)) {
	storetest.EachBackend(t, func(t *testing.T, kv store.KV) {
		fn(t, kv, secondClient(t, kv))
	})
}

func secondClient(t *testing.T, kv store.KV) store.KV {
	r, ok := kv.(*rediskv.Store)
	if !ok {
		return kv
	}
	c, err := rediskv.Open(t.Context(), rediskv.Options{URL: storetest.RedisURL(), Prefix: r.Prefix()})
	if err != nil {
		t.Fatalf("second redis client: %v", err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("close second redis client: %v", err)
		}
	})
	return c
}

// openKV is the store for tests about this package's own logic, where the
// backend makes no difference.
func openKV(tb testing.TB) store.KV { return storetest.OpenBolt(tb) }
