package orchestrator

import (
	"fmt"

	"github.com/iprs/iprs/internal/apperr"
)

// DefaultMaxProblems caps the problems listed in one answer; the rest are
// counted and summarized in a final entry.
const DefaultMaxProblems = 1000

// problems collects the field problems of one request, listing at most max
// of them and counting the others.
type problems struct {
	max     int
	list    []apperr.FieldError
	omitted int
}

func newProblems(max int) *problems {
	if max <= 0 {
		max = DefaultMaxProblems
	}
	return &problems{max: max}
}

func (p *problems) add(pointer, detail string) {
	if len(p.list) >= p.max {
		p.omitted++
		return
	}
	p.list = append(p.list, apperr.FieldError{Pointer: pointer, Detail: detail})
}

// addParam records a problem with a query parameter.
func (p *problems) addParam(name, detail string) {
	if len(p.list) >= p.max {
		p.omitted++
		return
	}
	p.list = append(p.list, apperr.FieldError{Parameter: name, Detail: detail})
}

func (p *problems) addf(pointer, format string, args ...any) {
	if len(p.list) >= p.max {
		p.omitted++
		return
	}
	p.add(pointer, fmt.Sprintf(format, args...))
}

// count returns the number of problems found, listed or not.
func (p *problems) count() int { return len(p.list) + p.omitted }

// fields returns the listed problems, followed, when some were left out, by
// an entry at the document root saying how many.
func (p *problems) fields() []apperr.FieldError {
	out := append([]apperr.FieldError(nil), p.list...)
	if p.omitted > 0 {
		out = append(out, apperr.FieldError{
			Pointer: "",
			Detail:  fmt.Sprintf("%d more problems are not listed (at most %d are)", p.omitted, p.max),
		})
	}
	return out
}

// err returns the problems as an error of the given code, or nil when
// there are none.
func (p *problems) err(code apperr.Code, message string) error {
	if p.count() == 0 {
		return nil
	}
	return apperr.WithFields(code, fmt.Sprintf("%s (%d problems)", message, p.count()), p.fields())
}
