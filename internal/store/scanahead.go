package store

import "context"

// ScanAhead drives a keyset scan of position results in chunks for the
// drivers' ResultScan: fetch reads the chunk after the cursor (the
// snapshot id and position id of the previous chunk's last row, empty for
// the first) into buf and returns it, whole, having released whatever it
// held; fn is called with each row. ScanAhead fetches the next chunk while
// fn handles the rows of the last one, so that the database's work and the
// caller's overlap; at most one fetch runs at a time, and a slow caller
// holds nothing but the chunk it is reading and the one read ahead. A chunk
// shorter than size ends the scan. A row is valid until fn returns.
func ScanAhead(ctx context.Context, size int,
	fetch func(ctx context.Context, afterSnap, afterPos string, buf []PositionResult) ([]PositionResult, error),
	fn func(r *PositionResult) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type chunk struct {
		rows []PositionResult
		err  error
	}
	chunks := make(chan chunk) // unbuffered: the fetch of chunk k+2 waits until fn is done with chunk k
	go func() {
		defer close(chunks)
		var bufs [2][]PositionResult
		snap, pos := "", ""
		for i := 0; ctx.Err() == nil; i++ {
			rows, err := fetch(ctx, snap, pos, bufs[i%2][:0])
			bufs[i%2] = rows
			select {
			case chunks <- chunk{rows, err}:
			case <-ctx.Done():
				return
			}
			if err != nil || len(rows) < size {
				return
			}
			last := &rows[len(rows)-1]
			snap, pos = last.PositionSnapshotID, last.PositionID
		}
	}()
	defer func() {
		cancel()
		for range chunks { // wait for the fetching goroutine
		}
	}()
	for c := range chunks {
		if c.err != nil {
			return c.err
		}
		for i := range c.rows {
			if err := fn(&c.rows[i]); err != nil {
				return err
			}
		}
	}
	return nil
}
