package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/iprs/iprs/internal/pricing"
)

// maxReportedModelSetProblems bounds how many problems of a model set file
// an error lists.
const maxReportedModelSetProblems = 50

// readModelSet reads and checks a model set file; the error lists every
// problem with its JSON Pointer.
func readModelSet(path string) (*pricing.ModelSet, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("model set: %w", err)
	}
	ms, probs := pricing.ParseModelSet(b)
	if len(probs) == 0 {
		return ms, nil
	}
	var lines []string
	for i, p := range probs {
		if i == maxReportedModelSetProblems {
			lines = append(lines, fmt.Sprintf("… and %d more", len(probs)-i))
			break
		}
		where := p.Pointer
		if where == "" {
			where = "(document)"
		}
		lines = append(lines, "  "+where+": "+p.Detail)
	}
	return nil, errors.New("model set " + path + " is not valid:\n" + strings.Join(lines, "\n"))
}
