// Package tlsreload serves a TLS certificate from files and picks up a
// renewed certificate without a restart.
package tlsreload

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// Reloader holds the current certificate. On a handshake, at most once per
// CheckInterval, it looks at the files' modification times and sizes and
// reloads when they changed. A renewal that fails to load (say, the key was
// written before the certificate) keeps the old certificate in service and
// is logged; the next check tries again.
type Reloader struct {
	certFile, keyFile string
	interval          time.Duration
	log               *slog.Logger
	now               func() time.Time

	mu        sync.Mutex
	cert      *tls.Certificate
	stamp     string
	lastCheck time.Time
}

// New loads the pair once; an error here is fatal for startup.
func New(certFile, keyFile string, interval time.Duration, log *slog.Logger) (*Reloader, error) {
	if interval <= 0 {
		interval = 5 * time.Second
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Reloader{certFile: certFile, keyFile: keyFile, interval: interval, log: log, now: time.Now}
	stamp, err := r.stampFiles()
	if err != nil {
		return nil, err
	}
	if err := r.load(stamp); err != nil {
		return nil, err
	}
	r.lastCheck = r.now()
	return r, nil
}

// GetCertificate is for tls.Config.GetCertificate.
func (r *Reloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if now := r.now(); now.Sub(r.lastCheck) >= r.interval {
		r.lastCheck = now
		if stamp, err := r.stampFiles(); err != nil {
			r.log.Warn("tls: cannot stat certificate files; keeping the current certificate", "err", err)
		} else if stamp != r.stamp {
			if err := r.load(stamp); err != nil {
				r.log.Warn("tls: renewed certificate does not load; keeping the current one", "err", err)
			} else {
				r.log.Info("tls: certificate reloaded", "cert_file", r.certFile)
			}
		}
	}
	return r.cert, nil
}

// load must be called with mu held (or before the Reloader is shared).
func (r *Reloader) load(stamp string) error {
	c, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		return fmt.Errorf("tls: load %s and %s: %w", r.certFile, r.keyFile, err)
	}
	r.cert, r.stamp = &c, stamp
	return nil
}

func (r *Reloader) stampFiles() (string, error) {
	var s string
	for _, f := range []string{r.certFile, r.keyFile} {
		fi, err := os.Stat(f)
		if err != nil {
			return "", err
		}
		s += fmt.Sprintf("%d/%d;", fi.ModTime().UnixNano(), fi.Size())
	}
	return s, nil
}
