package boltkv_test

import (
	"bytes"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
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

// MustExist opens an existing store and creates nothing without one.
func TestMustExist(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if _, err := boltkv.Open(dir, boltkv.Options{MustExist: true}); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("no store: %v", err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the directory was created: %v", err)
	}
	kv, err := boltkv.Open(dir, boltkv.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := kv.Close(); err != nil {
		t.Fatal(err)
	}
	kv, err = boltkv.Open(dir, boltkv.Options{MustExist: true})
	if err != nil {
		t.Fatalf("existing store: %v", err)
	}
	_ = kv.Close()
}

// A file that is not a bbolt database is ErrUnreadable, which the command
// line turns into "restore from a backup", and is left as it was.
func TestOpenUnreadableFile(t *testing.T) {
	for name, content := range map[string][]byte{
		"text":      []byte("not a database\n"),
		"page size": make([]byte, 8192),
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, boltkv.FileName)
			if err := os.WriteFile(path, content, 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := boltkv.Open(dir, boltkv.Options{}); !errors.Is(err, boltkv.ErrUnreadable) {
				t.Fatalf("err = %v, want ErrUnreadable", err)
			}
			if after, _ := os.ReadFile(path); string(after) != string(content) {
				t.Fatal("the file was changed")
			}
		})
	}
}

// A data directory others can read is logged with its mode in octal and
// the chmod that fixes it, in JSON as in text.
func TestWarnsAboutExposedDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	kv, err := boltkv.Open(dir, boltkv.Options{Logger: slog.New(slog.NewJSONHandler(&buf, nil))})
	if err != nil {
		t.Fatal(err)
	}
	_ = kv.Close()
	for _, want := range []string{`"mode":"0755"`, `chmod 700 ` + dir} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("log lacks %s:\n%s", want, buf.String())
		}
	}
}
