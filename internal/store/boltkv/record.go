package boltkv

import (
	"encoding/binary"
	"errors"
	"math"
	"time"
)

// headerSize is the length of the expiry header that precedes every stored
// value: a big-endian uint64 holding the expiry in Unix nanoseconds, where 0
// means "never".
const headerSize = 8

var errShortRecord = errors.New("boltkv: stored record shorter than its header")

// encodeRecord lays out value behind its expiry header. A ttl of zero means no
// expiry; a ttl so large that the deadline overflows is clamped to "the end of
// time" rather than wrapping into the past.
func encodeRecord(value []byte, ttl time.Duration, now int64) []byte {
	var expiresAt uint64
	if ttl > 0 {
		deadline := now + int64(ttl)
		if deadline < now {
			deadline = math.MaxInt64
		}
		expiresAt = uint64(deadline)
	}
	rec := make([]byte, headerSize+len(value))
	binary.BigEndian.PutUint64(rec, expiresAt)
	copy(rec[headerSize:], value)
	return rec
}

// decodeRecord splits a stored record into its expiry (Unix nanoseconds, 0 for
// none) and value. The value aliases rec; callers copy it before rec's
// transaction ends.
func decodeRecord(rec []byte) (expiresAt int64, value []byte, err error) {
	if len(rec) < headerSize {
		return 0, nil, errShortRecord
	}
	raw := binary.BigEndian.Uint64(rec)
	if raw > math.MaxInt64 {
		raw = math.MaxInt64
	}
	return int64(raw), rec[headerSize:], nil
}

// liveValue returns the value of rec if it has not expired at now. Corrupt
// records are reported, not silently treated as absent.
func liveValue(rec []byte, now int64) (value []byte, live bool, err error) {
	if rec == nil {
		return nil, false, nil
	}
	expiresAt, value, err := decodeRecord(rec)
	if err != nil {
		return nil, false, err
	}
	if expiresAt != 0 && now >= expiresAt {
		return nil, false, nil
	}
	return value, true, nil
}
