package pricing

import (
	"fmt"
	"hash/maphash"
	"strconv"
)

// Problem is one thing wrong with a position: which position, where in the
// position object (a JSON Pointer relative to the position, such as
// "/attributes/cashflows/2/pay_date", or "" for the position as a whole),
// and what is wrong. The services turn problems found by ParsePosition into
// 400 responses and problems found by (*Engine).Check into 422 responses,
// prefixing the pointer with the position's place in the request.
type Problem struct {
	PositionID string `json:"position_id"`
	Pointer    string `json:"pointer"`
	Detail     string `json:"detail"`
	// Missing names the curve id or FX pair the market lacks, for the
	// problems of that kind (Engine.Check); empty for every other problem.
	// Callers use it to report a missing curve once rather than once per
	// position that needs it.
	Missing string `json:"missing,omitempty"`
}

// Error renders the problem as one line.
func (p Problem) Error() string {
	id := p.PositionID
	if id == "" {
		id = "(no position_id)"
	}
	if p.Pointer == "" {
		return "position " + id + ": " + p.Detail
	}
	return "position " + id + " " + p.Pointer + ": " + p.Detail
}

// PositionIDs finds repeated position ids across one snapshot, which
// ParsePosition cannot see on its own. Use one per snapshot; it is not safe
// for concurrent use.
//
// It holds no pointer per id: the ids are kept back to back in one byte
// slice and found by a 64-bit hash of their text, so a snapshot of a
// million positions adds a few pointer-free blocks to the heap rather than
// a million strings the garbage collector marks on every cycle of the
// upload. Two different ids with the same hash are told apart by their
// text (the second and later go to a small map of their own), so a repeat
// is reported exactly when the text repeats.
type PositionIDs struct {
	hash    func(string) uint64
	text    []byte         // every distinct id but the colliding ones, back to back
	entries []idEntry      // one per id in text, in the order first seen
	byHash  map[uint64]int // hash of an id → its entry
	others  map[string]int // ids whose hash an earlier, different id has → first index
}

type idEntry struct {
	end   int // the id is text[previous entry's end:end]
	first int // the index of the position that first used it
}

// NewPositionIDs returns an empty tracker.
func NewPositionIDs() *PositionIDs {
	seed := maphash.MakeSeed()
	return newPositionIDs(func(s string) uint64 { return maphash.String(seed, s) })
}

func newPositionIDs(hash func(string) uint64) *PositionIDs {
	return &PositionIDs{hash: hash, byHash: make(map[uint64]int)}
}

// Add records that the position at index (its place in the snapshot's
// positions list) has the given id. For an id already seen it returns a
// Problem at "/position_id" naming the index of the first occurrence, and
// true. Empty ids are ignored: ParsePosition reports them.
func (s *PositionIDs) Add(index int, id string) (Problem, bool) {
	if id == "" {
		return Problem{}, false
	}
	h := s.hash(id)
	e, seen := s.byHash[h]
	switch {
	case !seen:
		s.text = append(s.text, id...)
		s.byHash[h] = len(s.entries)
		s.entries = append(s.entries, idEntry{end: len(s.text), first: index})
		return Problem{}, false
	case string(s.idOf(e)) == id: // compared without a copy
		return repeated(id, s.entries[e].first), true
	}
	if first, dup := s.others[id]; dup {
		return repeated(id, first), true
	}
	if s.others == nil {
		s.others = make(map[string]int)
	}
	s.others[id] = index
	return Problem{}, false
}

// idOf returns the text of entry e (valid until the next Add).
func (s *PositionIDs) idOf(e int) []byte {
	start := 0
	if e > 0 {
		start = s.entries[e-1].end
	}
	return s.text[start:s.entries[e].end]
}

func repeated(id string, first int) Problem {
	return Problem{
		PositionID: id,
		Pointer:    "/position_id",
		Detail:     "position_id " + strconv.Quote(id) + " is repeated; it is first used by the position at index " + strconv.Itoa(first),
	}
}

// Len returns the number of distinct ids recorded.
func (s *PositionIDs) Len() int { return len(s.entries) + len(s.others) }

// problemList collects problems for one position.
type problemList struct {
	positionID string
	list       []Problem
}

func (l *problemList) addf(pointer, format string, args ...any) {
	l.list = append(l.list, Problem{PositionID: l.positionID, Pointer: pointer, Detail: fmt.Sprintf(format, args...)})
}

// addMissing records that the market lacks the curve or FX pair id.
func (l *problemList) addMissing(pointer, id, format string, args ...any) {
	l.list = append(l.list, Problem{PositionID: l.positionID, Pointer: pointer, Detail: fmt.Sprintf(format, args...), Missing: id})
}
