package credentials

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/scimgate/scimgate/internal/secret"
	"github.com/scimgate/scimgate/internal/store/boltkv"
	"github.com/scimgate/scimgate/internal/store/storetest"
)

// apiKeyCounts are the store sizes BenchmarkAuthenticateAPIKey runs at.
// A million takes about a minute to prepare:
//
//	go test -run '^$' -bench AuthenticateAPIKey -benchmem ./internal/credentials -apikeys 1000,10000,100000,1000000
var apiKeyCounts = flag.String("apikeys", "1000,100000", "comma-separated numbers of stored API keys for BenchmarkAuthenticateAPIKey")

// BenchmarkAuthenticateClient is the token endpoint's client authentication
// on the embedded store: the client and tenant read, the HMAC check.
func BenchmarkAuthenticateClient(b *testing.B) {
	ctx := context.Background()
	s := benchService(b, storetest.OpenBolt(b))
	c, plain, err := s.CreateClient(ctx, ClientSpec{TenantID: "acme", Name: "Entra", Kind: KindEntra, Audiences: []string{aud}})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.AuthenticateClient(ctx, c.ID, plain); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAuthenticateAPIKey looks up API keys, each a different one, in
// stores of growing size: the time should not grow with the count. It
// reports the store's bytes per 100,000 keys and how much of the store file
// the lookups brought into the process's resident memory: keys are read
// from the memory-mapped file when presented, never loaded as a whole.
func BenchmarkAuthenticateAPIKey(b *testing.B) {
	for _, f := range strings.Split(*apiKeyCounts, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			b.Fatalf("-apikeys: %q is not a count", f)
		}
		b.Run(fmt.Sprintf("keys=%d", n), func(b *testing.B) { benchmarkAPIKeys(b, n) })
	}
}

// probeKeys is how many real keys each store holds; the rest are copies of
// their records under other ids, which look up the same way.
const probeKeys = 1000

func benchmarkAPIKeys(b *testing.B, n int) {
	ctx := context.Background()
	dir := b.TempDir()
	kv, err := boltkv.Open(dir, boltkv.Options{SweepInterval: -1})
	if err != nil {
		b.Fatal(err)
	}
	s := benchService(b, kv)
	probes, records := makeAPIKeys(b, s, min(n, probeKeys), n)
	if err := kv.Close(); err != nil {
		b.Fatal(err)
	}
	used := bulkLoad(b, filepath.Join(dir, boltkv.FileName), records)
	records = nil
	if kv, err = boltkv.Open(dir, boltkv.Options{SweepInterval: -1}); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { kv.Close() })
	s = New(kv, s.hasher, Options{Now: s.now})
	mappedBefore := residentFileBytes()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := s.AuthenticateAPIKey(ctx, probes[i%len(probes)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.StopTimer()
	b.ReportMetric(float64(used)/float64(n)*100_000/(1<<20), "store-MiB/100k-keys")
	b.ReportMetric(float64(residentFileBytes()-mappedBefore)/(1<<20), "resident-file-MiB")
}

func benchService(b *testing.B, kv *boltkv.Store) *Service {
	h, err := secret.NewHasher(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		b.Fatal(err)
	}
	clk := &clock{t: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)}
	s := New(kv, h, Options{Now: clk.now, PasswordParams: secret.PasswordParams{MemoryKiB: 64, Time: 1, Threads: 1}})
	if _, err := s.CreateTenant(context.Background(), "acme", "Acme Corp"); err != nil {
		b.Fatal(err)
	}
	return s
}

// makeAPIKeys returns real keys and the store records of total keys: the
// real ones, hashed as CreateAPIKey would, and copies under random ids.
func makeAPIKeys(b *testing.B, s *Service, real, total int) (probes []string, records map[string][]byte) {
	records = make(map[string][]byte, total)
	template := APIKey{TenantID: "acme", Name: "OneLogin", Scopes: []string{ScopeFull}, Audiences: []string{aud}, Created: s.now().UTC()}
	for len(probes) < real {
		plain, id := secret.NewAPIKey()
		k := template
		k.ID, k.Hash = id, s.hasher.Hash(plain)
		records[apiKeyPrefix+id] = mustJSON(b, &k)
		probes = append(probes, plain)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	k := template
	k.Hash = s.hasher.Hash(secret.New())
	id := make([]byte, 16)
	for len(records) < total {
		for j := range id {
			id[j] = "0123456789abcdefghijklmnopqrstuvwxyz"[rng.IntN(36)]
		}
		k.ID = string(id)
		records[apiKeyPrefix+k.ID] = mustJSON(b, &k)
	}
	rng.Shuffle(len(probes), func(i, j int) { probes[i], probes[j] = probes[j], probes[i] })
	return probes, records
}

func mustJSON(b *testing.B, v any) []byte {
	out, err := json.Marshal(v)
	if err != nil {
		b.Fatal(err)
	}
	return out
}

// bulkLoad writes records into the embedded store's file in large sorted
// batches, as boltkv lays them out (an 8-byte expiry header, 0 for never,
// before the value, in bucket "kv"): one CreateAPIKey per key would be one
// fsync each. It returns the bytes of the file in use (bbolt grows the file
// ahead of its use).
func bulkLoad(b *testing.B, file string, records map[string][]byte) (used int64) {
	db, err := bolt.Open(file, 0o600, &bolt.Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	keys := make([]string, 0, len(records))
	for k := range records {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for start := 0; start < len(keys); start += 100_000 {
		err := db.Update(func(tx *bolt.Tx) error {
			bucket := tx.Bucket([]byte("kv"))
			bucket.FillPercent = 0.9
			for _, k := range keys[start:min(start+100_000, len(keys))] {
				rec := binary.BigEndian.AppendUint64(nil, 0)
				if err := bucket.Put([]byte(k), append(rec, records[k]...)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	if err := db.Sync(); err != nil {
		b.Fatal(err)
	}
	_ = db.View(func(tx *bolt.Tx) error { used = tx.Size(); return nil })
	return used
}

// residentFileBytes is the file-backed part of the process's resident set
// (Linux), or 0: here, the pages of the store file it has touched.
func residentFileBytes() int64 {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(status)) {
		if v, ok := strings.CutPrefix(line, "RssFile:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}
