package keys

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// One random 32-byte key in every accepted spelling.
const (
	keyHex       = "cd65dde6e90bb34ca6f69c2babfc83fada0c5b43ebc09e037175539ad1f0d834"
	keyStd       = "zWXd5ukLs0ym9pwrq/yD+toMW0PrwJ4DcXVTmtHw2DQ="
	keyURL       = "zWXd5ukLs0ym9pwrq_yD-toMW0PrwJ4DcXVTmtHw2DQ="
	keyRawStd    = "zWXd5ukLs0ym9pwrq/yD+toMW0PrwJ4DcXVTmtHw2DQ"
	keyRawURL    = "zWXd5ukLs0ym9pwrq_yD-toMW0PrwJ4DcXVTmtHw2DQ"
	key64Std     = "zWXd5ukLs0ym9pwrq/yD+toMW0PrwJ4DcXVTmtHw2DQ7WkHL9G8QZazXI7PhEnkZy5lDs6Wh3NHjFQmY4kHq0Q=="
	textAsBase64 = "Y29ycmVjdCBob3JzZSBiYXR0ZXJ5IHN0YXBsZSBhbmQgbW9yZSB3b3JkcyBoZXJl" // "correct horse battery staple and more words here"
)

func TestParseMasterKey(t *testing.T) {
	want, _ := hex.DecodeString(keyHex)
	tests := []struct {
		name    string
		in      string
		want    []byte
		wantErr string
	}{
		{name: "hex", in: keyHex, want: want},
		{name: "upper-case hex", in: strings.ToUpper(keyHex), want: want},
		{name: "base64", in: keyStd, want: want},
		{name: "base64url", in: keyURL, want: want},
		{name: "unpadded base64", in: keyRawStd, want: want},
		{name: "unpadded base64url", in: keyRawURL, want: want},
		{name: "surrounding whitespace and newline", in: "  " + keyStd + "\n", want: want},
		{name: "longer than 32 bytes", in: key64Std, want: append(want, mustHex(t, "3b5a41cbf46f1065acd723b3e1127919cb9943b3a5a1dcd1e3150998e241ead1")...)},
		{name: "empty", in: "", wantErr: "empty"},
		{name: "blank", in: " \n", wantErr: "empty"},
		{name: "16 bytes", in: keyHex[:32], wantErr: "decodes to 16 bytes, need at least 32"},
		{name: "31 bytes", in: base64.StdEncoding.EncodeToString(want[:31]), wantErr: "decodes to 31 bytes"},
		{name: "passphrase", in: "my secret passphrase!", wantErr: "neither hex nor base64"},
		{name: "zeros", in: strings.Repeat("00", 32), wantErr: "too repetitive"},
		{name: "repeated pattern", in: strings.Repeat("0123456789abcdef", 4), wantErr: "too repetitive"},
		{name: "base64 of zeros", in: strings.Repeat("A", 43) + "=", wantErr: "too repetitive"},
		{name: "encoded text", in: textAsBase64, wantErr: "decodes to plain text"},
		{name: "hex of text", in: hex.EncodeToString([]byte("correct horse battery staple and more")), wantErr: "decodes to plain text"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseMasterKey(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				if s := strings.TrimSpace(tc.in); len(s) >= 16 && strings.Contains(err.Error(), s) {
					t.Fatalf("error %q repeats the key", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tc.want) {
				t.Fatalf("key = %x, want %x", got, tc.want)
			}
		})
	}
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func FuzzParseMasterKey(f *testing.F) {
	for _, s := range []string{keyHex, keyStd, keyURL, keyRawURL, key64Std, textAsBase64, "", "00", "====", "zz", strings.Repeat("A", 44)} {
		f.Add(s)
	}
	// Error messages are fixed text and numbers; an input may match that text
	// without the message quoting it.
	var fixedText strings.Builder
	for _, s := range []string{"", "zz", keyHex[:32], strings.Repeat("00", 32), textAsBase64} {
		_, err := ParseMasterKey(s)
		fixedText.WriteString(err.Error())
	}
	f.Fuzz(func(t *testing.T, s string) {
		key, err := ParseMasterKey(s)
		if err != nil {
			trimmed := strings.TrimSpace(s)
			if len(trimmed) >= 16 && strings.Contains(err.Error(), trimmed) && !strings.Contains(fixedText.String(), trimmed) {
				t.Fatalf("error %q repeats the key", err)
			}
			return
		}
		if len(key) < MasterKeySize {
			t.Fatalf("accepted a %d-byte key", len(key))
		}
		if checkRandomLooking(key) != nil {
			t.Fatalf("accepted a key that fails the randomness check")
		}
		if again, _ := ParseMasterKey(s); !bytes.Equal(again, key) {
			t.Fatalf("parsing is not deterministic")
		}
	})
}

func TestLoadOrCreateMasterKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "master.key")
	key, created, err := LoadOrCreateMasterKeyFile(path)
	if err != nil || !created {
		t.Fatalf("first call: created=%t err=%v", created, err)
	}
	if len(key) != MasterKeySize {
		t.Fatalf("key has %d bytes", len(key))
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := info.Mode().Perm(); perm != 0o600 {
		t.Fatalf("mode = %04o, want 0600", perm)
	}
	text, _ := os.ReadFile(path)
	if fromText, err := ParseMasterKey(string(text)); err != nil || !bytes.Equal(fromText, key) {
		t.Fatalf("file text is not the key in a form %s accepts: %v", MasterKeyEnv, err)
	}

	again, created, err := LoadOrCreateMasterKeyFile(path)
	if err != nil || created || !bytes.Equal(again, key) {
		t.Fatalf("second call: created=%t err=%v same=%t", created, err, bytes.Equal(again, key))
	}
	if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 1 {
		t.Fatalf("directory holds %d entries, want the key file alone (temporary files left behind?)", len(entries))
	}
}

func TestLoadOrCreateMasterKeyFileRefuses(t *testing.T) {
	tests := []struct {
		name    string
		content string
		mode    os.FileMode
		wantErr string
	}{
		{"world-readable", keyStd, 0o644, "accessible to other users"},
		{"world-writable", keyStd, 0o602, "accessible to other users"},
		{"not a key", "hello", 0o600, "neither hex nor base64"},
		{"short key", keyHex[:40], 0o600, "need at least 32"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "master.key")
			if err := os.WriteFile(path, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, tc.mode); err != nil {
				t.Fatal(err)
			}
			_, created, err := LoadOrCreateMasterKeyFile(path)
			if err == nil || created || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("created=%t err=%v, want an error containing %q", created, err, tc.wantErr)
			}
			if strings.Contains(err.Error(), tc.content) && len(tc.content) > 8 {
				t.Fatalf("error %q repeats the file content", err)
			}
			// Printed as is by the CLI: the file once, no package prefix.
			if !strings.HasPrefix(err.Error(), "master key file "+path) || strings.Count(err.Error(), "master key") != 1 {
				t.Fatalf("error %q: want it to name the file once and nothing else", err)
			}
			if now, _ := os.ReadFile(path); string(now) != tc.content {
				t.Fatal("the refused file was changed")
			}
		})
	}
	t.Run("missing directory", func(t *testing.T) {
		if _, _, err := LoadOrCreateMasterKeyFile(filepath.Join(t.TempDir(), "no", "master.key")); err == nil {
			t.Fatal("want an error")
		}
	})
	t.Run("directory", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.Chmod(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if _, _, err := LoadOrCreateMasterKeyFile(dir); err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestLoadOrCreateMasterKeyFileConcurrently(t *testing.T) {
	path := filepath.Join(t.TempDir(), "master.key")
	const callers = 8
	var (
		wg      sync.WaitGroup
		keys    [callers][]byte
		created [callers]bool
		errs    [callers]error
	)
	for i := range callers {
		wg.Go(func() { keys[i], created[i], errs[i] = LoadOrCreateMasterKeyFile(path) })
	}
	wg.Wait()
	creators := 0
	for i := range callers {
		if errs[i] != nil {
			t.Fatalf("caller %d: %v", i, errs[i])
		}
		if !bytes.Equal(keys[i], keys[0]) {
			t.Fatalf("caller %d got another key", i)
		}
		if created[i] {
			creators++
		}
	}
	if creators != 1 {
		t.Fatalf("%d callers report creating the file, want 1", creators)
	}
}
