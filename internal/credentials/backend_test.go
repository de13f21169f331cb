package credentials

import (
	"testing"

	"github.com/scimgate/scimgate/internal/store"
	"github.com/scimgate/scimgate/internal/store/storetest"
)

func forEachBackend(t *testing.T, fn func(t *testing.T, kv store.KV)) { storetest.EachBackend(t, fn) }
