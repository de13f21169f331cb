package audit

import (
	"io"
	"sync"
	"time"
)

// Limits of a batchWriter.
const (
	// maxPending is how many bytes of events wait at most; a writer that
	// would go beyond blocks until the batch before is taken.
	maxPending = 1 << 20
	// batchDelay is how long the first event of a batch waits for others.
	batchDelay = 2 * time.Millisecond
	// maxSpare bounds the buffer kept for the next batch.
	maxSpare = 64 << 10
)

// batchWriter hands what is written to w from one background goroutine, in
// batches: the request that records an event copies it and goes on, and w
// sees one write per batch instead of one per event. Events keep their
// order, none is dropped (writers wait when maxPending bytes wait), and
// each reaches w within about batchDelay plus the time w takes.
type batchWriter struct {
	w     io.Writer
	wake  chan struct{} // holds a token while events wait
	stop  chan struct{} // closed by Close
	done  chan struct{} // closed when the last batch is written
	mu    sync.Mutex
	space sync.Cond // broadcast when the waiting events are taken, and at Close
	// Guarded by mu:
	pending []byte
	spare   []byte
	closed  bool
	// Written by the flusher, read after done:
	err error
}

func newBatchWriter(w io.Writer) *batchWriter {
	b := &batchWriter{w: w, wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	b.space.L = &b.mu
	go b.run()
	return b
}

// Write queues a copy of p. After Close it writes p to w itself, once the
// last batch is out.
func (b *batchWriter) Write(p []byte) (int, error) {
	b.mu.Lock()
	for len(b.pending) > 0 && len(b.pending)+len(p) > maxPending && !b.closed {
		b.space.Wait()
	}
	if b.closed {
		b.mu.Unlock()
		<-b.done
		return b.w.Write(p)
	}
	first := len(b.pending) == 0
	b.pending = append(b.pending, p...)
	b.mu.Unlock()
	if first {
		select {
		case b.wake <- struct{}{}:
		default:
		}
	}
	return len(p), nil
}

// Close writes what waits and stops the background goroutine. It returns
// the first error w returned.
func (b *batchWriter) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		<-b.done
		return nil
	}
	b.closed = true
	b.space.Broadcast()
	b.mu.Unlock()
	close(b.stop)
	<-b.done
	return b.err
}

func (b *batchWriter) run() {
	defer close(b.done)
	delay := time.NewTimer(batchDelay)
	delay.Stop()
	for {
		select {
		case <-b.wake:
			delay.Reset(batchDelay)
			select {
			case <-delay.C:
			case <-b.stop:
			}
		case <-b.stop:
		}
		if !b.flush() {
			return
		}
	}
}

// flush writes the waiting events. It reports false once Close was called
// and nothing waits any more.
func (b *batchWriter) flush() bool {
	b.mu.Lock()
	batch := b.pending
	b.pending = b.spare[:0]
	b.spare = nil
	closed := b.closed
	b.space.Broadcast()
	b.mu.Unlock()
	if len(batch) > 0 {
		if _, err := b.w.Write(batch); err != nil && b.err == nil {
			b.err = err
		}
	}
	b.mu.Lock()
	if cap(batch) <= maxSpare {
		b.spare = batch[:0]
	}
	more := len(b.pending) > 0
	b.mu.Unlock()
	return !closed || more
}
