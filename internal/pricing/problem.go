package pricing

import (
	"fmt"
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
type PositionIDs struct {
	first map[string]int
}

// NewPositionIDs returns an empty tracker.
func NewPositionIDs() *PositionIDs { return &PositionIDs{first: make(map[string]int)} }

// Add records that the position at index (its place in the snapshot's
// positions list) has the given id. For an id already seen it returns a
// Problem at "/position_id" naming the index of the first occurrence, and
// true. Empty ids are ignored: ParsePosition reports them.
func (s *PositionIDs) Add(index int, id string) (Problem, bool) {
	if id == "" {
		return Problem{}, false
	}
	if first, dup := s.first[id]; dup {
		return Problem{
			PositionID: id,
			Pointer:    "/position_id",
			Detail:     "position_id " + strconv.Quote(id) + " is repeated; it is first used by the position at index " + strconv.Itoa(first),
		}, true
	}
	s.first[id] = index
	return Problem{}, false
}

// Len returns the number of distinct ids recorded.
func (s *PositionIDs) Len() int { return len(s.first) }

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
