package keys

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/scimgate/scimgate/internal/atomicfile"
)

// MasterKeyEnv names the environment variable that holds the master key.
const MasterKeyEnv = "SCIMGATE_MASTER_KEY"

// MasterKeySize is the number of random bytes a generated master key has and
// the least a supplied one must have.
const MasterKeySize = 32

// minDistinctBytes rejects patterned keys: 32 random bytes have about 30
// distinct values, and fewer than 16 happens with negligible probability.
const minDistinctBytes = 16

const generateHint = "generate one with: openssl rand -base64 32"

// ParseMasterKey decodes a master key given as hex, base64 or base64url
// (padded or not) and refuses one that is too short or plainly not random.
// Error messages never contain the key, nor say where it came from: the
// caller names the variable or the file.
func ParseMasterKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, fmt.Errorf("is empty (%s)", generateHint)
	}
	key, ok := decodeKeyText(s)
	if !ok {
		return nil, fmt.Errorf("is neither hex nor base64 (%s)", generateHint)
	}
	if len(key) < MasterKeySize {
		return nil, fmt.Errorf("decodes to %d bytes, need at least %d random bytes (%s)", len(key), MasterKeySize, generateHint)
	}
	if err := checkRandomLooking(key); err != nil {
		return nil, err
	}
	return key, nil
}

// decodeKeyText tries hex first: a hex string is also valid base64, but base64
// of random bytes is almost never made of hex digits only.
func decodeKeyText(s string) ([]byte, bool) {
	if b, err := hex.DecodeString(s); err == nil {
		return b, true
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, true
		}
	}
	return nil, false
}

func checkRandomLooking(key []byte) error {
	var seen [256]bool
	distinct := 0
	printable := true
	for _, c := range key {
		if !seen[c] {
			seen[c] = true
			distinct++
		}
		if (c < 0x20 || c > 0x7e) && c != '\t' && c != '\n' && c != '\r' {
			printable = false
		}
	}
	if distinct < minDistinctBytes {
		return fmt.Errorf("is too repetitive to be random (%d distinct byte values; %s)", distinct, generateHint)
	}
	if printable {
		// Random bytes are all printable with probability below 1e-13: this is
		// an encoded password or phrase, not a key.
		return fmt.Errorf("decodes to plain text, not random bytes (%s)", generateHint)
	}
	return nil
}

// LoadOrCreateMasterKeyFile returns the master key kept in the file at path,
// creating the file with a fresh random key (mode 0600) if it does not exist;
// created reports that it did. The file holds the key in base64, the same text
// MasterKeyEnv accepts, so an operator can move it into the variable. A file
// other users can read or write is refused.
//
// It is meant for the embedded single-node store only: the caller should warn
// loudly when created is true, since losing the file loses every signing key.
func LoadOrCreateMasterKeyFile(path string) (key []byte, created bool, err error) {
	key, err = ReadMasterKeyFile(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return key, false, err
	}
	key = make([]byte, MasterKeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, false, fmt.Errorf("keys: generate master key: %w", err)
	}
	err = atomicfile.CreateExclusive(path, []byte(base64.StdEncoding.EncodeToString(key)+"\n"))
	if errors.Is(err, fs.ErrExist) {
		// Another process created it between our read and our write: use its key.
		key, err = ReadMasterKeyFile(path)
		return key, false, err
	}
	if err != nil {
		return nil, false, fmt.Errorf("keys: master key file: %w", err)
	}
	return key, true, nil
}

// maxMasterKeyFile bounds what is read from the file; a key is far smaller.
const maxMasterKeyFile = 4096

// ReadMasterKeyFile reads the master key file at path, refusing one other
// users can access. A missing file is an error wrapping fs.ErrNotExist.
func ReadMasterKeyFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("master key file: %w", err)
	}
	defer f.Close()
	// Stat the open file, not the path, so the mode checked is the mode read.
	info, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("master key file: %w", err)
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("master key file %s is not a regular file", path)
	}
	if perm := info.Mode().Perm(); perm&0o007 != 0 {
		return nil, fmt.Errorf("master key file %s is accessible to other users (mode %04o); run: chmod 600 %s", path, perm, path)
	}
	text, err := io.ReadAll(io.LimitReader(f, maxMasterKeyFile))
	if err != nil {
		return nil, fmt.Errorf("master key file: %w", err)
	}
	key, err := ParseMasterKey(string(text))
	if err != nil {
		return nil, fmt.Errorf("master key file %s: %w", path, err)
	}
	return key, nil
}
