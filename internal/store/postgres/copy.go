package postgres

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/jackc/pgx/v5"
)

// The bulk paths write PostgreSQL's binary COPY format themselves: the
// tables and their column types are fixed, so each value is appended with
// no per-value type lookup or boxing, and the stream is produced while the
// server consumes it (see copyReader).

// copyBuf appends values in binary COPY format.
type copyBuf struct{ b []byte }

var copySignature = []byte("PGCOPY\n\xff\r\n\x00")

func (c *copyBuf) header() {
	c.b = append(c.b, copySignature...)
	c.b = binary.BigEndian.AppendUint32(c.b, 0) // flags
	c.b = binary.BigEndian.AppendUint32(c.b, 0) // header extension length
}

func (c *copyBuf) trailer()    { c.b = binary.BigEndian.AppendUint16(c.b, 0xffff) }
func (c *copyBuf) tuple(n int) { c.b = binary.BigEndian.AppendUint16(c.b, uint16(n)) }
func (c *copyBuf) null()       { c.b = binary.BigEndian.AppendUint32(c.b, 0xffffffff) }
func (c *copyBuf) text(s string) {
	c.b = binary.BigEndian.AppendUint32(c.b, uint32(len(s)))
	c.b = append(c.b, s...)
}

// raw appends bytes as they are: the binary form of text and json.
func (c *copyBuf) raw(p []byte) {
	c.b = binary.BigEndian.AppendUint32(c.b, uint32(len(p)))
	c.b = append(c.b, p...)
}

func (c *copyBuf) int8(v int64) {
	c.b = binary.BigEndian.AppendUint32(c.b, 8)
	c.b = binary.BigEndian.AppendUint64(c.b, uint64(v))
}

// float8 appends the IEEE 754 bits, so every float64 (-0, subnormals)
// arrives exactly.
func (c *copyBuf) float8(v float64) {
	c.b = binary.BigEndian.AppendUint32(c.b, 8)
	c.b = binary.BigEndian.AppendUint64(c.b, math.Float64bits(v))
}

// copyChunk is how much a copyReader encodes ahead of the server.
const copyChunk = 256 << 10

// copyReader is an io.Reader over a binary COPY stream whose rows are
// encoded on demand by row(i) for i in [0, n).
type copyReader struct {
	buf  copyBuf
	off  int
	i, n int
	row  func(c *copyBuf, i int) error
	done bool
}

func newCopyReader(n int, row func(c *copyBuf, i int) error) *copyReader {
	r := &copyReader{n: n, row: row}
	r.buf.b = make([]byte, 0, copyChunk+4096)
	r.buf.header()
	return r
}

func (r *copyReader) Read(p []byte) (int, error) {
	for r.off == len(r.buf.b) {
		if r.done {
			return 0, io.EOF
		}
		r.buf.b, r.off = r.buf.b[:0], 0
		for len(r.buf.b) < copyChunk {
			if r.i == r.n {
				r.buf.trailer()
				r.done = true
				break
			}
			if err := r.row(&r.buf, r.i); err != nil {
				return 0, err
			}
			r.i++
		}
	}
	n := copy(p, r.buf.b[r.off:])
	r.off += n
	return n, nil
}

// copyIn runs COPY table (columns) FROM STDIN in binary format on the
// transaction's connection, streaming n rows encoded by row.
func copyIn(ctx context.Context, tx pgx.Tx, table string, columns []string, n int, row func(c *copyBuf, i int) error) (int64, error) {
	cols := make([]string, len(columns))
	for i, c := range columns {
		cols[i] = pgx.Identifier{c}.Sanitize()
	}
	sql := fmt.Sprintf("COPY %s (%s) FROM STDIN WITH (FORMAT binary)", pgx.Identifier{table}.Sanitize(), strings.Join(cols, ", "))
	tag, err := tx.Conn().PgConn().CopyFrom(ctx, newCopyReader(n, row), sql)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}
