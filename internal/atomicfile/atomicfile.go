// Package atomicfile creates files that other processes see whole or not at
// all and that survive a crash once created: the small secrets scimgate
// generates on first start, such as a master key or an admin token.
package atomicfile

import (
	"fmt"
	"os"
	"path/filepath"
)

// CreateExclusive writes data to a new file at path, readable by its owner
// only (mode 0600), unless path exists: then the error matches fs.ErrExist
// and the existing file is left as it was.
//
// The data goes to a temporary file in the same directory that is then
// hard-linked into place: a link, unlike a rename, never replaces a file,
// so of two concurrent creators exactly one wins, and a concurrent reader
// sees no file or the whole one, never a torn one. The directory is synced
// afterwards so the new name survives a crash.
func CreateExclusive(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".tmp-"+filepath.Base(path)+"-*") // mode 0600
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Sync()
	}
	if closeErr := tmp.Close(); err == nil {
		err = closeErr
	}
	if err == nil {
		err = os.Link(tmp.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	return SyncDir(dir)
}

// SyncDir makes the names created in dir durable: syncing a file does not
// sync its entry in the directory, and a power loss could lose the file.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}
