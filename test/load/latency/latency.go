// Package latency records request latencies in a log-linear histogram, in
// the manner of HdrHistogram: constant memory, no allocation per sample and
// percentiles within 1% of the exact value, so a load generator can record
// every request instead of an average.
package latency

import (
	"math/bits"
	"time"
)

// subBits sets the precision: each power of two is split into 2^subBits
// buckets, so a bucket is at most 1/128 (0.8%) of its values wide.
const (
	subBits    = 7
	subBuckets = 1 << subBits
	// exactBelow are recorded in buckets one nanosecond wide.
	exactBelow = 2 * subBuckets
	// bucketCount covers every int64 nanosecond count.
	bucketCount = (64 - subBits) * subBuckets
)

// Histogram counts durations. The zero value is ready to use; it is not safe
// for concurrent use: give each goroutine its own and Merge them.
type Histogram struct {
	counts [bucketCount]uint64
	total  uint64
	max    time.Duration
}

func bucketOf(ns uint64) int {
	if ns < exactBelow {
		return int(ns)
	}
	shift := bits.Len64(ns) - (subBits + 1)
	return (shift+1)*subBuckets + int(ns>>shift) - subBuckets
}

// highest is the largest duration that falls into bucket i.
func highest(i int) time.Duration {
	if i < exactBelow {
		return time.Duration(i)
	}
	shift := i/subBuckets - 1
	mantissa := uint64(i%subBuckets + subBuckets)
	return time.Duration((mantissa+1)<<shift - 1)
}

// Record adds one duration; negative ones count as zero.
func (h *Histogram) Record(d time.Duration) {
	if d < 0 {
		d = 0
	}
	h.counts[bucketOf(uint64(d))]++
	h.total++
	h.max = max(h.max, d)
}

// Merge adds every sample of o to h.
func (h *Histogram) Merge(o *Histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.total += o.total
	h.max = max(h.max, o.max)
}

// Count is the number of samples.
func (h *Histogram) Count() uint64 { return h.total }

// Max is the largest sample.
func (h *Histogram) Max() time.Duration { return h.max }

// Quantile returns the duration below or at which the fraction q (0 to 1)
// of the samples lie, rounded up to its bucket's upper end (never above
// Max); 0 when there are no samples.
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.total == 0 {
		return 0
	}
	rank := uint64(q*float64(h.total) + 0.5)
	rank = min(max(rank, 1), h.total)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return min(highest(i), h.max)
		}
	}
	return h.max
}
