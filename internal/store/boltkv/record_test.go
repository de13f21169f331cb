package boltkv

import (
	"bytes"
	"errors"
	"math"
	"testing"
	"time"
)

func TestRecord(t *testing.T) {
	const now = int64(1_700_000_000_000_000_000)
	tests := []struct {
		name        string
		value       []byte
		ttl         time.Duration
		wantExpires int64
		liveAt      int64
		wantLive    bool
	}{
		{"no ttl", []byte("v"), 0, 0, math.MaxInt64, true},
		{"empty value", []byte{}, 0, 0, now, true},
		{"before deadline", []byte("v"), time.Second, now + int64(time.Second), now + int64(time.Second) - 1, true},
		{"at deadline", []byte("v"), time.Second, now + int64(time.Second), now + int64(time.Second), false},
		{"overflowing ttl clamps", []byte("v"), math.MaxInt64, math.MaxInt64, math.MaxInt64 - 1, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := encodeRecord(tc.value, tc.ttl, now)
			expires, value, err := decodeRecord(rec)
			if err != nil || expires != tc.wantExpires || !bytes.Equal(value, tc.value) {
				t.Fatalf("decode = %d, %q, %v; want %d, %q", expires, value, err, tc.wantExpires, tc.value)
			}
			if _, live, err := liveValue(rec, tc.liveAt); err != nil || live != tc.wantLive {
				t.Fatalf("live at %d = %v, %v; want %v", tc.liveAt, live, err, tc.wantLive)
			}
		})
	}
}

func TestDecodeRecordRejectsShortInput(t *testing.T) {
	for n := range headerSize {
		if _, _, err := decodeRecord(make([]byte, n)); !errors.Is(err, errShortRecord) {
			t.Errorf("%d bytes: err = %v, want errShortRecord", n, err)
		}
	}
	if _, live, err := liveValue(nil, 0); live || err != nil {
		t.Errorf("liveValue(nil) = %v, %v; want absent", live, err)
	}
}

// FuzzDecodeRecord feeds arbitrary stored bytes, as a damaged or foreign file
// would, to the decoder: it must never panic and must agree with liveValue.
func FuzzDecodeRecord(f *testing.F) {
	f.Add([]byte{}, int64(0))
	f.Add(encodeRecord([]byte("v"), time.Second, 1), int64(2))
	f.Add(bytes.Repeat([]byte{0xff}, 12), int64(math.MaxInt64))
	f.Fuzz(func(t *testing.T, rec []byte, now int64) {
		expires, value, err := decodeRecord(rec)
		if err != nil {
			if len(rec) >= headerSize {
				t.Fatalf("error %v on %d bytes", err, len(rec))
			}
			return
		}
		if expires < 0 || len(value) != len(rec)-headerSize {
			t.Fatalf("decode(%x) = %d, %x", rec, expires, value)
		}
		_, live, err := liveValue(rec, now)
		if err != nil || live != (expires == 0 || now < expires) {
			t.Fatalf("liveValue(%x, %d) = %v, %v", rec, now, live, err)
		}
	})
}

// FuzzRecordRoundTrip checks that every value and ttl survives encoding.
func FuzzRecordRoundTrip(f *testing.F) {
	f.Add([]byte("value"), int64(time.Minute), int64(1_700_000_000_000_000_000))
	f.Add([]byte{}, int64(0), int64(0))
	f.Add([]byte{0}, int64(math.MaxInt64), int64(math.MaxInt64))
	f.Fuzz(func(t *testing.T, value []byte, ttl, now int64) {
		if ttl < 0 || now < 0 {
			return
		}
		expires, got, err := decodeRecord(encodeRecord(value, time.Duration(ttl), now))
		if err != nil || !bytes.Equal(got, value) {
			t.Fatalf("round trip of %x = %x, %v", value, got, err)
		}
		switch {
		case ttl == 0 && expires != 0:
			t.Fatalf("no ttl but expiry %d", expires)
		case ttl > 0 && expires < now:
			t.Fatalf("ttl %d at %d expires in the past (%d)", ttl, now, expires)
		}
	})
}
