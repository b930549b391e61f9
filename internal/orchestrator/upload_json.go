package orchestrator

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/iprs/iprs/internal/apperr"
	"github.com/iprs/iprs/internal/store"
	"github.com/iprs/iprs/internal/web"
)

// Top-level members of a position snapshot upload.
const (
	fieldSnapshotID = "position_snapshot_id"
	fieldAsOfTime   = "as_of_time"
	fieldNodeID     = "portfolio_node_id"
	fieldPositions  = "positions"
)

// jsonUpload reads a JSON upload with jsontext.Decoder tokens, its
// members in any order; each position is read whole as its JSON text and
// decoded on its own.
type jsonUpload struct {
	*upload
	src  *sourceReader
	dec  *jsontext.Decoder
	seen map[string]bool
}

// uploadSnapshot reads a JSON position snapshot upload from body and
// stores it. It returns the stored snapshot and whether it was created now
// (false: an identical snapshot was stored before).
func (s *Service) uploadSnapshot(ctx context.Context, body io.Reader) (*store.PositionSnapshot, bool, error) {
	up := s.newUpload(ctx)
	u := &jsonUpload{upload: up, src: &sourceReader{r: body, clock: up.body}, seen: make(map[string]bool, 4)}
	defer u.close()
	u.dec = newBodyDecoder(u.src)
	if err := u.readDocument(); err != nil {
		return nil, false, err
	}
	if u.probs.count() > 0 {
		return nil, false, u.probs.err(apperr.Invalid, "the position snapshot was refused")
	}
	return u.commit()
}

// readDocument reads the whole body, recording problems. It returns an
// error only when reading cannot go on (malformed JSON, a body over its
// limit, a stalled client, a spool failure).
func (u *jsonUpload) readDocument() error {
	tok, err := u.dec.ReadToken()
	if err != nil {
		return u.fatal(err)
	}
	if tok.Kind() != '{' {
		u.probs.add("", "the body must be a JSON object {position_snapshot_id?, as_of_time, portfolio_node_id, positions}")
		return nil
	}
	for {
		more, err := u.more('}')
		if err != nil {
			return err
		}
		if !more {
			break
		}
		tok, err := u.dec.ReadToken()
		if err != nil {
			return u.fatal(err)
		}
		key := tok.String()
		ptr := web.Pointer(key)
		if u.seen[key] {
			u.probs.addf(ptr, "member %s appears more than once", key)
			if err := u.skipValue(); err != nil {
				return err
			}
			continue
		}
		u.seen[key] = true
		switch key {
		case fieldSnapshotID:
			if err := u.readSnapshotID(ptr); err != nil {
				return err
			}
		case fieldAsOfTime:
			s, ok, err := u.readString(ptr, key)
			if err != nil {
				return err
			}
			if ok {
				u.setAsOf(ptr, s)
			}
		case fieldNodeID:
			s, ok, err := u.readString(ptr, key)
			if err != nil {
				return err
			}
			if ok {
				u.setNodeID(ptr, s)
			}
		case fieldPositions:
			if err := u.readPositions(); err != nil {
				return err
			}
		default:
			u.probs.addf(ptr, "unknown member %q (a position snapshot has position_snapshot_id, as_of_time, portfolio_node_id, positions)", key)
			if err := u.skipValue(); err != nil {
				return err
			}
		}
	}
	if _, err := u.dec.ReadToken(); err != nil { // the closing brace
		return u.fatal(err)
	}
	if _, err := u.dec.ReadToken(); err != io.EOF {
		if err != nil && !errors.Is(err, io.EOF) {
			return u.fatal(err)
		}
		u.probs.addf("", "unexpected data after the JSON document at byte %d", u.dec.InputOffset())
		return nil
	}
	for _, f := range []string{fieldAsOfTime, fieldNodeID, fieldPositions} {
		if !u.seen[f] {
			u.probs.addf(web.Pointer(f), "%s is required", f)
		}
	}
	return nil
}

func (u *jsonUpload) readSnapshotID(ptr string) error {
	raw, err := u.readRaw()
	if err != nil {
		return err
	}
	if string(raw) == "null" {
		return nil // the server makes the id
	}
	v, ok := u.rawString(ptr, fieldSnapshotID, raw)
	if !ok {
		return nil
	}
	if !validID(v) {
		u.probs.addf(ptr, "position_snapshot_id %q %s", v, idRule)
		return nil
	}
	u.clientID = v
	return nil
}

// readString reads a string member; a value of another type, or a string
// that is not valid Unicode text, is a problem (ok false).
func (u *jsonUpload) readString(ptr, name string) (string, bool, error) {
	raw, err := u.readRaw()
	if err != nil {
		return "", false, err
	}
	s, ok := u.rawString(ptr, name, raw)
	return s, ok, nil
}

// readRaw reads the next value of the document as it was sent.
func (u *jsonUpload) readRaw() (json.RawMessage, error) {
	v, err := u.dec.ReadValue()
	if err != nil {
		return nil, u.fatal(err)
	}
	return bytes.Clone(v), nil // v is the decoder's until its next read
}

// more reports whether the object or array being read has another
// member or element before its closing delimiter end.
func (u *jsonUpload) more(end jsontext.Kind) (bool, error) {
	switch u.dec.PeekKind() {
	case end:
		return false, nil
	case 0: // an error, which the next read returns
		_, err := u.dec.ReadToken()
		return false, u.fatal(err)
	}
	return true, nil
}

// rawString decodes the member name's value raw as a string, recording a
// problem at ptr when it is not one or holds text a store cannot keep as
// sent (NUL, invalid UTF-8, an unpaired surrogate).
func (u *jsonUpload) rawString(ptr, name string, raw json.RawMessage) (string, bool) {
	if len(raw) == 0 || raw[0] != '"' {
		u.probs.addf(ptr, "%s must be a string", name)
		return "", false
	}
	if p := web.StringProblem(raw); p != "" {
		u.probs.add(ptr, name+" "+p)
		return "", false
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		u.probs.addf(ptr, "%s must be a string", name)
		return "", false
	}
	return s, true
}

// setAsOf records as_of_time, or its problem.
func (u *upload) setAsOf(ptr, s string) {
	t, ok := parseAsOf(s)
	if !ok {
		u.probs.addf(ptr, "as_of_time %q is not an RFC 3339 time such as 2026-01-23T00:00:00Z", s)
		return
	}
	u.asOf = t
}

// parseAsOf reads a snapshot's as_of_time: RFC 3339, kept in UTC to the
// microsecond (the stores' precision).
func parseAsOf(s string) (time.Time, bool) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, false
	}
	return t.UTC().Truncate(time.Microsecond), true
}

// setNodeID records portfolio_node_id, or its problem.
func (u *upload) setNodeID(ptr, s string) {
	if s == "" {
		u.probs.add(ptr, "portfolio_node_id must not be empty")
	} else if msg := nameProblem(fieldNodeID, s); msg != "" {
		u.probs.add(ptr, msg)
	}
	u.nodeID = s
}

// readPositions reads the positions array into a new pass.
func (u *jsonUpload) readPositions() error {
	pass, err := u.newPass(func(i int, sub string) string { return "/positions/" + strconv.Itoa(i) + sub })
	if err != nil {
		return err
	}
	u.pass = pass
	if u.dec.PeekKind() != '[' {
		u.probs.add("/positions", "positions must be a list of position objects")
		return u.skipValue()
	}
	if _, err := u.dec.ReadToken(); err != nil {
		return u.fatal(err)
	}
	// Positions are decoded here, prepared (parsed, checked,
	// canonicalized) on every core, and taken in order by take.
	take := func(c *prepChunk) error {
		for k := range c.items {
			p := &c.items[k]
			i := c.first + k
			if p.inErr != nil {
				u.probs.add(web.Pointer("positions", strconv.Itoa(i)), "each position must be a JSON object {position_id, instrument_id, product_type, quantity?, attributes}")
				pass.count++
				continue
			}
			bad := u.checkPositionMembers(i, p.raw)
			if err := u.position(pass, i, p, bad); err != nil {
				return err
			}
		}
		return nil
	}
	q := newPrepQueue((*preparedPosition).prepare)
	for u.dec.PeekKind() != ']' {
		v, err := u.dec.ReadValue()
		if err != nil {
			// The positions before this one come first.
			if derr := q.drain(take); derr != nil {
				return derr
			}
			return u.fatal(err)
		}
		if err := q.add(preparedPosition{raw: bytes.Clone(v)}, take); err != nil {
			return err
		}
	}
	if err := q.drain(take); err != nil {
		return err
	}
	if _, err := u.dec.ReadToken(); err != nil { // the closing bracket
		return u.fatal(err)
	}
	return nil
}

// skipValue skips the next value of the document.
func (u *jsonUpload) skipValue() error {
	if err := u.dec.SkipValue(); err != nil {
		return u.fatal(err)
	}
	return nil
}

// fatal turns an error of the decoder into the error to answer. Reading
// cannot go on after any of them, so it never returns nil: an error it does
// not recognize refuses the upload rather than being taken for a value.
func (u *jsonUpload) fatal(err error) error {
	if u.src.err != nil {
		return web.BodyReadError(u.src.err)
	}
	var se *jsontext.SyntacticError
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		u.probs.addf("", "the body ends at byte %d before the JSON document does", u.dec.InputOffset())
		return u.probs.err(apperr.Invalid, "the position snapshot is not valid JSON")
	case errors.As(err, &se):
		u.probs.addf("", "malformed JSON at byte %d: %s", se.ByteOffset, strings.TrimPrefix(se.Err.Error(), "jsontext: "))
		return u.probs.err(apperr.Invalid, "the position snapshot is not valid JSON")
	}
	u.probs.addf("", "the body cannot be read as JSON at byte %d: %s", u.dec.InputOffset(), strings.TrimPrefix(err.Error(), "jsontext: "))
	return u.probs.err(apperr.Invalid, "the position snapshot is not valid JSON")
}

// sourceReader reads the request body, remembering a read failure (which
// the decoder reports as its own).
type sourceReader struct {
	r     io.Reader
	err   error
	clock *bodyClock
}

func (s *sourceReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	s.clock.saw(n, err)
	if err != nil && err != io.EOF {
		s.err = err
	}
	return n, err
}

// newBodyDecoder returns the token decoder of an upload. It checks the
// document's syntax only: a repeated member name, text that is not valid
// Unicode and a number beyond the range of a double (1e400) reach the
// upload's own checks, which refuse them with a pointer to where they are,
// rather than ending the read. (jsontext reads a value several times
// faster than encoding/json's Decoder, which the one goroutine reading
// the body used before: 5.3 s of CPU for 1,000,000 loans.)
func newBodyDecoder(r io.Reader) *jsontext.Decoder {
	return jsontext.NewDecoder(r, jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true))
}
