package latency

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestBucketsAreContiguousAndTight(t *testing.T) {
	prev := -1
	for _, ns := range []uint64{0, 1, 255, 256, 257, 511, 512, 1000, 1 << 20, 1<<20 + 1, 1e9, 6e10, 1<<63 - 1} {
		i := bucketOf(ns)
		if i < prev {
			t.Fatalf("bucketOf(%d) = %d, below the bucket of a smaller value (%d)", ns, i, prev)
		}
		prev = i
		if hi := uint64(highest(i)); hi < ns {
			t.Fatalf("highest(bucketOf(%d)) = %d, below the value", ns, hi)
		}
		if i > 0 {
			if lo := uint64(highest(i-1)) + 1; lo > ns {
				t.Fatalf("value %d lies below its bucket, which starts at %d", ns, lo)
			}
		}
		if i >= bucketCount {
			t.Fatalf("bucketOf(%d) = %d, beyond %d buckets", ns, i, bucketCount)
		}
	}
}

func TestQuantileWithinOnePercent(t *testing.T) {
	tests := []struct {
		name string
		gen  func(r *rand.Rand) time.Duration
	}{
		{"uniform 50us-2ms", func(r *rand.Rand) time.Duration {
			return 50*time.Microsecond + time.Duration(r.Int64N(int64(2*time.Millisecond)))
		}},
		{"exponential mean 300us", func(r *rand.Rand) time.Duration { return time.Duration(r.ExpFloat64() * 300e3) }},
		{"tiny", func(r *rand.Rand) time.Duration { return time.Duration(r.IntN(300)) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, 2))
			var h Histogram
			samples := make([]time.Duration, 100_000)
			for i := range samples {
				samples[i] = tt.gen(r)
				h.Record(samples[i])
			}
			slices.Sort(samples)
			for _, q := range []float64{0.5, 0.9, 0.99, 0.999, 1} {
				exact := samples[min(len(samples)-1, int(q*float64(len(samples))+0.5)-1)]
				got := h.Quantile(q)
				if got < exact || float64(got-exact) > 0.01*float64(exact)+1 {
					t.Errorf("q%.3f = %v, exact %v", q, got, exact)
				}
			}
			if h.Max() != samples[len(samples)-1] || h.Count() != uint64(len(samples)) {
				t.Errorf("max %v count %d, want %v %d", h.Max(), h.Count(), samples[len(samples)-1], len(samples))
			}
		})
	}
}

func TestMergeAndEmpty(t *testing.T) {
	var a, b, empty Histogram
	if empty.Quantile(0.5) != 0 {
		t.Fatal("empty histogram has a median")
	}
	a.Record(time.Millisecond)
	b.Record(3 * time.Millisecond)
	b.Record(-time.Second)
	a.Merge(&b)
	if a.Count() != 3 || a.Max() != 3*time.Millisecond || a.Quantile(0) != 0 {
		t.Fatalf("merged: count %d max %v q0 %v", a.Count(), a.Max(), a.Quantile(0))
	}
}

func BenchmarkRecord(b *testing.B) {
	var h Histogram
	for i := range b.N {
		h.Record(time.Duration(i&0xfffff) * 100)
	}
}
