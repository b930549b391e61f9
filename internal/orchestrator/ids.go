package orchestrator

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"time"

	"github.com/iprs/iprs/internal/ident"
)

// PositionHash is the stable bucket hash of a position id: the first 8
// bytes of SHA-256(position_id as UTF-8), read big-endian, with the top bit
// cleared so that the value is a non-negative int64 (63 bits). A position's
// task bucket is PositionHash mod the run's hash_mod. The value is stored
// with the position at upload, so changing this function would move
// positions between buckets of runs over existing snapshots: it is fixed.
func PositionHash(positionID string) int64 {
	sum := sha256.Sum256([]byte(positionID))
	return int64(binary.BigEndian.Uint64(sum[:8]) & (1<<63 - 1))
}

// newID returns a server-made id: prefix, the UTC time to the millisecond
// (so that ids made later sort later), and 48 random bits:
// "PS-20260123T000000.000Z-9f8e7d6c5b4a".
func newID(prefix string, now time.Time) string {
	var b [6]byte
	// crypto/rand.Read never fails (it panics if the kernel source does).
	_, _ = rand.Read(b[:])
	return prefix + now.UTC().Format("20060102T150405.000Z") + "-" + hex.EncodeToString(b[:])
}

// validID and idRule are the id rule shared with the other decoders of
// client-chosen ids (package ident), under the names this package's
// decoders use.
func validID(id string) bool { return ident.Valid(id) }

const idRule = ident.Rule
