package boltkv_test

import (
	"testing"
	"time"

	"github.com/scimgate/scimgate/internal/store"
	"github.com/scimgate/scimgate/internal/store/boltkv"
	"github.com/scimgate/scimgate/internal/store/storetest"
)

// TestConformance runs the shared suite with an aggressive sweeper, so that
// sweeping races every operation the suite performs.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.KV {
		kv, err := boltkv.Open(t.TempDir(), boltkv.Options{SweepInterval: 10 * time.Millisecond})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		t.Cleanup(func() {
			if err := kv.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		return kv
	})
}

func BenchmarkStore(b *testing.B) {
	storetest.Bench(b, storetest.OpenBolt(b))
}
