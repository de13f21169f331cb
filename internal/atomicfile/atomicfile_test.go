package atomicfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
)

func TestCreateExclusive(t *testing.T) {
	tests := []struct {
		name     string
		existing string // "" for none
		wantErr  error
		want     string
	}{
		{name: "new file", want: "secret\n"},
		{name: "existing file", existing: "first\n", wantErr: fs.ErrExist, want: "first\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "token")
			if tc.existing != "" {
				if err := os.WriteFile(path, []byte(tc.existing), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			err := CreateExclusive(path, []byte("secret\n"))
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if got, _ := os.ReadFile(path); string(got) != tc.want {
				t.Fatalf("file holds %q, want %q", got, tc.want)
			}
			info, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if tc.existing == "" && info.Mode().Perm() != 0o600 {
				t.Fatalf("mode = %04o, want 0600", info.Mode().Perm())
			}
			entries, _ := os.ReadDir(dir)
			if len(entries) != 1 {
				t.Fatalf("directory holds %d entries, want the file alone (temporary files left behind?)", len(entries))
			}
		})
	}
	t.Run("missing directory", func(t *testing.T) {
		if err := CreateExclusive(filepath.Join(t.TempDir(), "no", "token"), []byte("x")); err == nil {
			t.Fatal("want an error")
		}
	})
}

func TestCreateExclusiveConcurrently(t *testing.T) {
	path := filepath.Join(t.TempDir(), "token")
	const creators = 8
	var (
		wg   sync.WaitGroup
		errs [creators]error
	)
	for i := range creators {
		wg.Go(func() { errs[i] = CreateExclusive(path, []byte(strconv.Itoa(i))) })
	}
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Fatalf("creators %d and %d both succeeded", winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, fs.ErrExist):
			t.Fatalf("creator %d: %v", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no creator succeeded")
	}
	if got, _ := os.ReadFile(path); string(got) != strconv.Itoa(winner) {
		t.Fatalf("file holds %q, written by creator %d", got, winner)
	}
}

func TestSyncDirMissing(t *testing.T) {
	if err := SyncDir(filepath.Join(t.TempDir(), "no")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("err = %v, want fs.ErrNotExist", err)
	}
}
