package boltkv

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/scimgate/scimgate/internal/store"
)

// crashHelperEnv tells a re-executed test binary to act as the writer that
// TestKillNineKeepsAcknowledgedWrites kills.
const crashHelperEnv = "SCIMGATE_BOLTKV_CRASH_DIR"

func crashValue(key string) []byte { return []byte("value-of-" + key) }

// TestHelperProcess is not a test: run by TestKillNineKeepsAcknowledgedWrites
// in a child process, it writes keys until killed and prints each one only
// after Set has acknowledged it.
func TestHelperProcess(t *testing.T) {
	dir := os.Getenv(crashHelperEnv)
	if dir == "" {
		t.Skip("helper process for TestKillNineKeepsAcknowledgedWrites")
	}
	round := os.Getenv(crashHelperEnv + "_ROUND")
	kv, err := Open(dir, Options{LockTimeout: 5 * time.Second})
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		os.Exit(2)
	}
	for i := 0; ; i++ {
		key := fmt.Sprintf("crash:%s:%08d", round, i)
		if err := kv.Set(context.Background(), key, crashValue(key), 0); err != nil {
			fmt.Fprintln(os.Stderr, "set:", err)
			os.Exit(3)
		}
		fmt.Printf("ack %s\n", key)
	}
}

// TestKillNineKeepsAcknowledgedWrites kills a writing process with SIGKILL,
// twice over the same file, and checks that every write it acknowledged
// survived and that the file is consistent.
func TestKillNineKeepsAcknowledgedWrites(t *testing.T) {
	const acksBeforeKill = 300
	dir := t.TempDir()
	var acked []string
	for round := range 2 {
		acked = append(acked, runAndKill(t, dir, round, acksBeforeKill)...)

		s, err := Open(dir, Options{SweepInterval: -1})
		if err != nil {
			t.Fatalf("round %d: reopen after kill -9: %v", round, err)
		}
		for _, key := range acked {
			got, err := s.Get(t.Context(), key)
			if err != nil || !bytes.Equal(got, crashValue(key)) {
				t.Errorf("round %d: acknowledged %s = %q, %v", round, key, got, err)
			}
		}
		checkConsistent(t, s.db)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%d acknowledged writes survived two kill -9", len(acked))
}

func runAndKill(t *testing.T, dir string, round, acksBeforeKill int) []string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashHelperEnv+"="+dir, fmt.Sprintf("%s_ROUND=%d", crashHelperEnv, round))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}

	var acked []string
	killed := false
	lines := bufio.NewScanner(stdout)
	for lines.Scan() {
		key, ok := strings.CutPrefix(lines.Text(), "ack ")
		if !ok {
			continue
		}
		acked = append(acked, key)
		if len(acked) == acksBeforeKill && !killed {
			// Keep reading after the kill: lines already in the pipe were
			// acknowledged too.
			if err := cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			killed = true
		}
	}
	err = cmd.Wait()
	if !killed {
		t.Fatalf("helper exited after %d acks: %v\n%s", len(acked), err, stderr.String())
	}
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) || exitErr.ExitCode() != -1 {
		t.Fatalf("helper did not die from the signal: %v\n%s", err, stderr.String())
	}
	return acked
}

func checkConsistent(t *testing.T, db *bolt.DB) {
	t.Helper()
	err := db.View(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			t.Errorf("consistency check: %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestSecondOpenFailsWithErrLocked(t *testing.T) {
	dir := t.TempDir()
	first, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	second, err := Open(dir, Options{LockTimeout: 100 * time.Millisecond})
	if !errors.Is(err, ErrLocked) {
		if second != nil {
			_ = second.Close()
		}
		t.Fatalf("second Open: err = %v, want ErrLocked", err)
	}
	t.Logf("locked Open failed after %v", time.Since(start))

	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	third, err := Open(dir, Options{})
	if err != nil {
		t.Fatalf("Open after the holder closed: %v", err)
	}
	if err := third.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestOpenCreatesPrivateFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]os.FileMode{dir: 0o700, filepath.Join(dir, FileName): 0o600} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		// The umask may only remove bits, never add group or other access.
		if got := fi.Mode().Perm(); got&^want != 0 || got&0o077 != 0 {
			t.Errorf("%s has mode %v, want at most %v", path, got, want)
		}
	}
}

func TestOpenRejectsOtherFormat(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(metaBucket).Put(formatKey, []byte{formatVersion + 1})
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s, err := Open(dir, Options{}); err == nil {
		_ = s.Close()
		t.Fatal("Open accepted a file of an unknown format")
	}
}

func TestSweeperRemovesExpiredEntries(t *testing.T) {
	s, err := Open(t.TempDir(), Options{SweepInterval: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	ctx := t.Context()
	// More than one sweep chunk, so that resuming a scan is exercised.
	const expiring = sweepChunk + 10
	err = s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(dataBucket)
		past := time.Now().Add(-time.Second).UnixNano()
		for i := range expiring {
			if err := b.Put(fmt.Appendf(nil, "old:%05d", i), encodeRecord([]byte("v"), time.Nanosecond, past)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Set(ctx, "keep", []byte("v"), 0); err != nil {
		t.Fatal(err)
	}
	if err := s.Set(ctx, "later", []byte("v"), time.Hour); err != nil {
		t.Fatal(err)
	}

	deadline := time.Now().Add(10 * time.Second)
	for rawCount(t, s.db) != 2 {
		if time.Now().After(deadline) {
			t.Fatalf("%d raw entries left, want 2", rawCount(t, s.db))
		}
		time.Sleep(5 * time.Millisecond)
	}
	for _, key := range []string{"keep", "later"} {
		if _, err := s.Get(ctx, key); err != nil {
			t.Errorf("Get(%s) after sweeping: %v", key, err)
		}
	}
}

func TestSweepSkipsEntriesRewrittenSinceScan(t *testing.T) {
	s, err := Open(t.TempDir(), Options{SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	ctx := t.Context()
	if err := s.Set(ctx, "k", []byte("v"), time.Nanosecond); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Millisecond)
	expired, _, err := s.scanExpired(ctx, nil)
	if err != nil || len(expired) != 1 {
		t.Fatalf("scanExpired = %q, %v", expired, err)
	}
	if err := s.Set(ctx, "k", []byte("new"), 0); err != nil {
		t.Fatal(err)
	}
	if n, err := s.deleteExpired(ctx, expired); err != nil || n != 0 {
		t.Fatalf("deleteExpired = %d, %v; want 0 removed", n, err)
	}
	if _, err := s.Get(ctx, "k"); errors.Is(err, store.ErrNotFound) {
		t.Fatal("sweep deleted a key rewritten after the scan")
	}
}

func rawCount(t *testing.T, db *bolt.DB) int {
	t.Helper()
	n := 0
	err := db.View(func(tx *bolt.Tx) error {
		n = tx.Bucket(dataBucket).Stats().KeyN
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestCloseIsIdempotentAndStopsUse(t *testing.T) {
	s, err := Open(t.TempDir(), Options{SweepInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := s.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
	}
	if err := s.Ping(t.Context()); err == nil {
		t.Fatal("Ping after Close succeeded")
	}
	if err := s.Set(t.Context(), "k", []byte("v"), 0); err == nil {
		t.Fatal("Set after Close succeeded")
	}
}

// TestWritesAreSynced guards the fsync-per-commit setting: a kill -9 test
// cannot tell it apart from page-cache writes, only a power cut could.
func TestWritesAreSynced(t *testing.T) {
	s, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if s.db.NoSync || s.db.NoGrowSync || s.db.NoFreelistSync {
		t.Fatalf("sync disabled: NoSync=%v NoGrowSync=%v NoFreelistSync=%v", s.db.NoSync, s.db.NoGrowSync, s.db.NoFreelistSync)
	}
}
