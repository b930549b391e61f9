package canon

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
)

// SHA256Hex returns the lower-case hex SHA-256 of canonical bytes.
func SHA256Hex(canonical []byte) string {
	sum := sha256.Sum256(canonical)
	return hex.EncodeToString(sum[:])
}

// Hash canonicalizes raw and returns the canonical bytes and their
// SHA256Hex.
func Hash(raw []byte) (canonical []byte, sum string, err error) {
	canonical, err = Canonicalize(raw)
	if err != nil {
		return nil, "", err
	}
	return canonical, SHA256Hex(canonical), nil
}

// Marshal encodes v with encoding/json and returns the canonical form.
func Marshal(v any) ([]byte, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("canonical JSON: marshal %T: %w", v, err)
	}
	return Canonicalize(raw)
}

// Hasher computes the SHA-256 of a canonical document written in pieces,
// so a document too large to hold can be hashed as it streams by. The
// caller writes the structure itself ("{", member names with AppendString,
// ":", ",", "]" …) in canonical order (names sorted with CompareUTF16) and
// each value with WriteCanonical; Sum then equals SHA256Hex of the whole
// canonical document. A Hasher is not safe for concurrent use.
type Hasher struct {
	h   hash.Hash
	buf []byte
	p   parser
}

// NewHasher returns an empty Hasher.
func NewHasher() *Hasher { return &Hasher{h: sha256.New()} }

// Write adds bytes that are already canonical. It never fails.
func (h *Hasher) Write(p []byte) (int, error) { return h.h.Write(p) }

// WriteString adds a string that is already canonical JSON text.
func (h *Hasher) WriteString(s string) (int, error) {
	h.buf = append(h.buf[:0], s...)
	return h.h.Write(h.buf)
}

// WriteName adds a member name as a canonical JSON string followed by ':'.
func (h *Hasher) WriteName(name string) {
	h.buf = AppendString(h.buf[:0], name)
	h.buf = append(h.buf, ':')
	h.h.Write(h.buf)
}

// WriteCanonical canonicalizes the JSON value raw and adds it. On error
// nothing is added.
func (h *Hasher) WriteCanonical(raw []byte) error {
	var err error
	h.buf, err = h.p.run(h.buf[:0], raw)
	if err != nil {
		return err
	}
	h.h.Write(h.buf)
	return nil
}

// Sum returns the lower-case hex SHA-256 of everything written. It does not
// change the Hasher's state.
func (h *Hasher) Sum() string {
	var b [sha256.Size]byte
	return hex.EncodeToString(h.h.Sum(b[:0]))
}
