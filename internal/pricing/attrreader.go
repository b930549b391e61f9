package pricing

import "fmt"

// AttrReader reads the JSON text of named top-level members of position
// attributes, reusing its buffer from one position to the next.
type AttrReader struct {
	buf fields
}

// Read sets out[i] to the JSON text of the member names[i] of the JSON
// object attrs (the last one when repeated), or nil when it has none. out
// must have len(names) elements; they point into attrs.
func (r *AttrReader) Read(attrs []byte, names []string, out [][]byte) error {
	f, ok, err := scanMembers(attrs, r.buf)
	if err != nil {
		return fmt.Errorf("attributes: %w", err)
	}
	if !ok {
		return fmt.Errorf("attributes: not a JSON object")
	}
	r.buf = f[:0]
	for i, name := range names {
		out[i] = f.get(name)
	}
	return nil
}
