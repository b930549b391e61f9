package orchestrator

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"

	"github.com/iprs/iprs/internal/store"
)

// rowSpool is a temporary file holding the rows of an upload, checked and
// canonical, in upload order. The upload is read and checked in full into
// it before the store is touched, so that no transaction, connection or
// lock waits on a client that sends slowly or stalls; the rows are then
// written from the file, at the speed of the disk. It holds about as many
// bytes as the upload's positions in canonical form.
//
// Each row is: uvarint length + bytes for position_id, instrument_id,
// product_type and the canonical attributes; one byte 1 or 0 for a given
// quantity or none, followed by its 8 IEEE 754 bytes when given; the 8
// bytes of the position hash. Integers are little-endian.
type rowSpool struct {
	f    *os.File
	path string
	w    *bufio.Writer
	rows int64
	err  error // the first write failure
	buf  []byte
}

// spoolBufferSize is the buffer of the spool's reads and writes.
const spoolBufferSize = 1 << 20

func newRowSpool(dir string) (*rowSpool, error) {
	f, err := os.CreateTemp(dir, "iprs-positions-*.rows")
	if err != nil {
		return nil, fmt.Errorf("create upload spool: %w", err)
	}
	return &rowSpool{f: f, path: f.Name(), w: bufio.NewWriterSize(f, spoolBufferSize)}, nil
}

// add appends one row; a failure is kept for flush to report.
func (sp *rowSpool) add(positionID, instrumentID, productType string, qty *float64, attrs []byte, hash int64) {
	if sp.err != nil {
		return
	}
	b := sp.buf[:0]
	b = binary.AppendUvarint(b, uint64(len(positionID)))
	b = append(b, positionID...)
	b = binary.AppendUvarint(b, uint64(len(instrumentID)))
	b = append(b, instrumentID...)
	b = binary.AppendUvarint(b, uint64(len(productType)))
	b = append(b, productType...)
	b = binary.AppendUvarint(b, uint64(len(attrs)))
	b = append(b, attrs...)
	if qty != nil {
		b = append(b, 1)
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(*qty))
	} else {
		b = append(b, 0)
	}
	b = binary.LittleEndian.AppendUint64(b, uint64(hash))
	sp.buf = b
	if _, err := sp.w.Write(b); err != nil {
		sp.err = fmt.Errorf("write upload spool: %w", err)
		return
	}
	sp.rows++
}

// reader flushes what was written and returns a reader of the rows from
// the first.
func (sp *rowSpool) reader() (*rowReader, error) {
	if sp.err != nil {
		return nil, sp.err
	}
	if err := sp.w.Flush(); err != nil {
		return nil, fmt.Errorf("flush upload spool: %w", err)
	}
	if _, err := sp.f.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("rewind upload spool: %w", err)
	}
	return &rowReader{r: bufio.NewReaderSize(sp.f, spoolBufferSize), left: sp.rows, types: map[string]string{}}, nil
}

// remove deletes the file.
func (sp *rowSpool) remove() {
	_ = sp.f.Close()
	_ = os.Remove(sp.path)
}

// rowReader reads a spool's rows back in batches.
type rowReader struct {
	r       *bufio.Reader
	left    int64
	seq     int64
	types   map[string]string // product types, each allocated once
	scratch []byte
}

var errSpoolCorrupt = errors.New("upload spool is corrupt")

// next reads up to n rows as store rows of snapshotID; none at the end.
func (rr *rowReader) next(n int, snapshotID string) ([]*store.Position, error) {
	out := make([]*store.Position, 0, min(int64(n), rr.left))
	rows := make([]store.Position, cap(out))
	for len(out) < n && rr.left > 0 {
		p := &rows[len(out)]
		f, err := rr.field(false)
		if err != nil {
			return nil, err
		}
		p.PositionID = string(f)
		if f, err = rr.field(false); err != nil {
			return nil, err
		}
		p.InstrumentID = string(f)
		if f, err = rr.field(false); err != nil {
			return nil, err
		}
		typ, ok := rr.types[string(f)]
		if !ok {
			typ = string(f)
			rr.types[typ] = typ
		}
		p.ProductType = typ
		if p.Attributes, err = rr.field(true); err != nil {
			return nil, err
		}
		flag, err := rr.r.ReadByte()
		if err != nil {
			return nil, fmt.Errorf("%w: %w", errSpoolCorrupt, err)
		}
		var tail [8]byte
		if flag == 1 {
			if _, err := io.ReadFull(rr.r, tail[:]); err != nil {
				return nil, fmt.Errorf("%w: %w", errSpoolCorrupt, err)
			}
			q := math.Float64frombits(binary.LittleEndian.Uint64(tail[:]))
			p.Quantity = &q
		}
		if _, err := io.ReadFull(rr.r, tail[:]); err != nil {
			return nil, fmt.Errorf("%w: %w", errSpoolCorrupt, err)
		}
		p.SnapshotID = snapshotID
		p.Seq = rr.seq
		p.Hash = int64(binary.LittleEndian.Uint64(tail[:]))
		out = append(out, p)
		rr.seq++
		rr.left--
	}
	return out, nil
}

// field reads one length-prefixed field: into a slice of its own with
// own, else into a buffer reused by the next call.
func (rr *rowReader) field(own bool) ([]byte, error) {
	n, err := binary.ReadUvarint(rr.r)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errSpoolCorrupt, err)
	}
	if n > 1<<31 {
		return nil, fmt.Errorf("%w: a field of %d bytes", errSpoolCorrupt, n)
	}
	var b []byte
	if own {
		b = make([]byte, n)
	} else {
		if uint64(cap(rr.scratch)) < n {
			rr.scratch = make([]byte, n)
		}
		b = rr.scratch[:n]
	}
	if _, err := io.ReadFull(rr.r, b); err != nil {
		return nil, fmt.Errorf("%w: %w", errSpoolCorrupt, err)
	}
	return b, nil
}
