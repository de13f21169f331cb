package credentials

import (
	"context"
	"testing"
	"time"

	"github.com/scimgate/scimgate/internal/store"
)

// A change another replica makes to a client or tenant counts on the next
// authentication here, although decoded records are reused.
func TestDecodedRecordsFollowTheStore(t *testing.T) {
	forEachBackend(t, func(t *testing.T, kv store.KV) {
		ctx := context.Background()
		here, _ := newService(t, kv)
		there := New(kv, here.hasher, Options{Now: here.now})
		c, plain, err := here.CreateClient(ctx, ClientSpec{TenantID: "acme", Name: "Entra", Kind: KindEntra, Audiences: []string{aud}})
		if err != nil {
			t.Fatal(err)
		}
		steps := []struct {
			name   string
			change func() error
			want   string
		}{
			{"first use", func() error { return nil }, ""},
			{"unchanged", func() error { return nil }, ""},
			{"client disabled there", func() error { _, err := there.SetClientDisabled(ctx, c.ID, true); return err }, ReasonDisabled},
			{"client enabled there", func() error { _, err := there.SetClientDisabled(ctx, c.ID, false); return err }, ""},
			{"tenant disabled there", func() error { _, err := there.SetTenantDisabled(ctx, "acme", true); return err }, ReasonTenantDisabled},
			{"tenant enabled there", func() error { _, err := there.SetTenantDisabled(ctx, "acme", false); return err }, ""},
			{"client deleted there", func() error { return there.DeleteClient(ctx, c.ID) }, ReasonUnknown},
		}
		for _, step := range steps {
			if err := step.change(); err != nil {
				t.Fatalf("%s: %v", step.name, err)
			}
			got, err := here.AuthenticateClient(ctx, c.ID, plain)
			if reason(err) != step.want {
				t.Fatalf("%s: reason %q, want %q", step.name, reason(err), step.want)
			}
			if err == nil {
				// The caller's copy is its own.
				got.Disabled, got.TenantID = true, "other"
			}
		}
	})
}

func TestDecodedRecordsStayBounded(t *testing.T) {
	forEachBackend(t, func(t *testing.T, kv store.KV) {
		ctx := context.Background()
		c := newDecodedRecords[Tenant]()
		c.limit = 2
		for _, id := range []string{"a", "b", "c"} {
			if err := kv.Set(ctx, tenantPrefix+id, []byte(`{"id":"`+id+`"}`), time.Hour); err != nil {
				t.Fatal(err)
			}
			got, err := c.get(ctx, kv, tenantPrefix+id)
			if err != nil || got.ID != id {
				t.Fatalf("get %s: %+v %v", id, got, err)
			}
		}
		if len(c.entries) != 2 {
			t.Fatalf("%d entries, want 2", len(c.entries))
		}
		if _, err := c.get(ctx, kv, tenantPrefix+"missing"); err != ErrNotFound {
			t.Fatalf("missing record: %v", err)
		}
	})
}
