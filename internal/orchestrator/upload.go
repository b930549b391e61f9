package orchestrator

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/iprs/iprs/internal/apperr"
	"github.com/iprs/iprs/internal/canon"
	"github.com/iprs/iprs/internal/pricing"
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

// upload is one position snapshot upload in progress. The body is read
// with json.Decoder tokens; each position is decoded on its own, checked,
// hashed and added to the store in batches, so memory holds one batch and
// the set of position ids, never the document.
type upload struct {
	s     *Service
	ctx   context.Context
	probs *problems
	src   *sourceReader
	dec   *json.Decoder

	seen map[string]bool

	clientID    string // position_snapshot_id as given ("" when absent)
	idAfterRows bool   // the id came after the positions array
	asOf        time.Time
	nodeID      string

	// pass is the reading of the positions array.
	pass *positionsPass
	// existing is the stored snapshot with the client's id, found before
	// the rows were read (then nothing is written, only hashed).
	existing *store.PositionSnapshot
	// provisional is the server-made id the rows were written under while
	// the client's id was not yet known.
	provisional string
	spool       *spool
}

// positionsPass reads one positions array: it checks each position,
// tracks repeated ids, hashes the canonical positions and writes rows.
type positionsPass struct {
	snapshotID string
	writer     store.PositionSnapshotWriter // nil: check and hash only
	adder      *batchAdder                  // adds batches to writer
	count      int64
	ids        *pricing.PositionIDs
	types      map[string]struct{}
	hasher     *canon.Hasher
	batch      []*store.Position
	buf        []byte
}

func (s *Service) newPass(ctx context.Context, snapshotID string, w store.PositionSnapshotWriter) *positionsPass {
	h := canon.NewHasher()
	_, _ = h.WriteString("[")
	var adder *batchAdder
	if w != nil {
		adder = startBatchAdder(ctx, snapshotID, w)
	}
	return &positionsPass{
		snapshotID: snapshotID,
		writer:     w,
		adder:      adder,
		ids:        pricing.NewPositionIDs(),
		types:      make(map[string]struct{}),
		hasher:     h,
		batch:      make([]*store.Position, 0, s.opts.BatchSize),
	}
}

// uploadSnapshot reads a position snapshot upload from body and stores it.
// It returns the stored snapshot and whether it was created now (false: an
// identical snapshot was stored before).
func (s *Service) uploadSnapshot(ctx context.Context, body io.Reader) (snap *store.PositionSnapshot, created bool, err error) {
	u := &upload{
		s:     s,
		ctx:   ctx,
		probs: newProblems(s.opts.MaxProblems),
		src:   &sourceReader{r: body},
		seen:  make(map[string]bool, 4),
	}
	u.dec = newBodyDecoder(u.src)
	defer func() {
		if u.pass != nil && u.pass.writer != nil {
			u.pass.adder.wait()
			if rerr := u.pass.writer.Rollback(context.WithoutCancel(ctx)); rerr != nil && err == nil {
				err = fmt.Errorf("roll back position snapshot: %w", rerr)
			}
		}
		if u.spool != nil {
			u.spool.remove()
		}
	}()
	if err := u.readDocument(); err != nil {
		return nil, false, err
	}
	if u.probs.count() > 0 {
		return nil, false, u.probs.err(apperr.Invalid, "the position snapshot was refused")
	}
	if u.idAfterRows && u.provisional != "" {
		if err := u.replayUnderClientID(); err != nil {
			return nil, false, err
		}
	}
	return u.finish()
}

// readDocument reads the whole body, recording problems. It returns an
// error only when reading cannot go on (malformed JSON, a body over its
// limit, a store failure).
func (u *upload) readDocument() error {
	tok, err := u.dec.Token()
	if err != nil {
		return u.fatal(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		u.probs.add("", "the body must be a JSON object {position_snapshot_id?, as_of_time, portfolio_node_id, positions}")
		return nil
	}
	for u.dec.More() {
		tok, err := u.dec.Token()
		if err != nil {
			return u.fatal(err)
		}
		key, _ := tok.(string)
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
				t, perr := time.Parse(time.RFC3339Nano, s)
				if perr != nil {
					u.probs.addf(ptr, "as_of_time %q is not an RFC 3339 time such as 2026-01-23T00:00:00Z", s)
				} else {
					u.asOf = t.UTC().Truncate(time.Microsecond)
				}
			}
		case fieldNodeID:
			s, ok, err := u.readString(ptr, key)
			if err != nil {
				return err
			}
			if ok {
				if s == "" {
					u.probs.add(ptr, "portfolio_node_id must not be empty")
				} else if msg := nameProblem(key, s); msg != "" {
					u.probs.add(ptr, msg)
				}
				u.nodeID = s
			}
		case fieldPositions:
			if err := u.readPositionsMember(); err != nil {
				return err
			}
		default:
			u.probs.addf(ptr, "unknown member %q (a position snapshot has position_snapshot_id, as_of_time, portfolio_node_id, positions)", key)
			if err := u.skipValue(); err != nil {
				return err
			}
		}
	}
	if _, err := u.dec.Token(); err != nil { // the closing brace
		return u.fatal(err)
	}
	if _, err := u.dec.Token(); err != io.EOF {
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

func (u *upload) readSnapshotID(ptr string) error {
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
	if u.seen[fieldPositions] {
		u.idAfterRows = true
	}
	return nil
}

// readString reads a string member; a value of another type, or a string
// that is not valid Unicode text, is a problem (ok false).
func (u *upload) readString(ptr, name string) (string, bool, error) {
	raw, err := u.readRaw()
	if err != nil {
		return "", false, err
	}
	s, ok := u.rawString(ptr, name, raw)
	return s, ok, nil
}

// readRaw reads the next value of the document as it was sent.
func (u *upload) readRaw() (json.RawMessage, error) {
	var raw json.RawMessage
	if err := u.dec.Decode(&raw); err != nil {
		return nil, u.fatal(err)
	}
	return raw, nil
}

// rawString decodes the member name's value raw as a string, recording a
// problem at ptr when it is not one or holds text a store cannot keep as
// sent (NUL, invalid UTF-8, an unpaired surrogate).
func (u *upload) rawString(ptr, name string, raw json.RawMessage) (string, bool) {
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

// readPositionsMember starts the positions array: it picks the id the rows
// are written under and reads the array.
// maxNameLen bounds portfolio_node_id, position_id and instrument_id in
// bytes: they are index keys in PostgreSQL, whose index rows hold about
// 2.7 kB (a result row's key is run id, snapshot id, position id and
// scenario).
const maxNameLen = 1024

// nameProblem refuses a stored name that a store could not hold: U+0000,
// which PostgreSQL text cannot hold, and a name over maxNameLen. Both are
// refused on every store alike (as web's strict decoding refuses NUL, and
// position refuses it in attributes).
func nameProblem(name, s string) string {
	switch {
	case strings.IndexByte(s, 0) >= 0:
		return name + " must not contain the NUL character (U+0000)"
	case len(s) > maxNameLen:
		return fmt.Sprintf("%s is %d bytes long; at most %d are allowed", name, len(s), maxNameLen)
	}
	return ""
}

func (u *upload) readPositionsMember() error {
	var (
		id string
		w  store.PositionSnapshotWriter
	)
	switch {
	case u.clientID != "":
		id = u.clientID
		existing, err := u.s.store.PositionSnapshotGet(u.ctx, id)
		switch {
		case err == nil:
			u.existing = existing
		case errors.Is(err, apperr.ErrNotFound):
			w, err = u.s.store.PositionSnapshotBegin(u.ctx, id)
			if err != nil {
				return fmt.Errorf("begin position snapshot %s: %w", id, err)
			}
		default:
			return fmt.Errorf("look up position snapshot %s: %w", id, err)
		}
	case u.probs.count() == 0:
		// No usable client id so far: the rows go under a server-made id.
		id = newID("PS-", u.s.now())
		if !u.seen[fieldSnapshotID] {
			// The client's id may still follow the positions: keep a copy
			// of the rest of the body, so that the rows can be written
			// again under it.
			u.provisional = id
			sp, err := u.s.newSpool(u.dec)
			if err != nil {
				return err
			}
			u.spool = sp
			u.src.tee = sp.w
		}
		var err error
		w, err = u.s.store.PositionSnapshotBegin(u.ctx, id)
		if err != nil {
			return fmt.Errorf("begin position snapshot %s: %w", id, err)
		}
	}
	u.pass = u.s.newPass(u.ctx, id, w)
	if err := u.readPositions(u.dec, u.pass); err != nil {
		return err
	}
	if u.spool != nil {
		u.src.tee = nil
	}
	return nil
}

// readPositions reads a positions array with dec into pass.
func (u *upload) readPositions(dec *json.Decoder, pass *positionsPass) error {
	tok, err := dec.Token()
	if err != nil {
		return u.fatal(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		u.probs.add("/positions", "positions must be a list of position objects")
		return u.skipRestWith(dec, tok)
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
	q := newPrepQueue()
	for i := 0; dec.More(); i++ {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			// The positions before this one come first.
			if derr := q.drain(take); derr != nil {
				return derr
			}
			return u.fatal(err)
		}
		if err := q.add(raw, take); err != nil {
			return err
		}
	}
	if err := q.drain(take); err != nil {
		return err
	}
	if _, err := dec.Token(); err != nil { // the closing bracket
		return u.fatal(err)
	}
	if err := u.flush(pass); err != nil {
		return err
	}
	if pass.adder != nil {
		return pass.adder.wait()
	}
	return nil
}

// position checks one position and, while the upload has no problem,
// hashes it and queues its row.
// bad flags the members whose text was refused already: their decoded
// value (with U+FFFD for what was not text) is not checked further.
func (u *upload) position(pass *positionsPass, i int, prep *preparedPosition, bad badText) error {
	pass.count++
	in := prep.in
	base := func() string { return web.Pointer("positions", strconv.Itoa(i)) }
	before := u.probs.count()
	for _, p := range prep.parse {
		if bad != 0 && bad.has(strings.TrimPrefix(p.Pointer, "/")) {
			continue
		}
		u.probs.add(base()+p.Pointer, p.Detail)
	}
	if !bad.has("position_id") { // else its decoded form is not the id sent
		if p, dup := pass.ids.Add(i, in.PositionID); dup {
			u.probs.add(base()+p.Pointer, p.Detail)
		}
	}
	if msg := nameProblem("position_id", in.PositionID); msg != "" && !bad.has("position_id") {
		u.probs.add(base()+"/position_id", msg)
	}
	if msg := nameProblem("instrument_id", in.InstrumentID); msg != "" && !bad.has("instrument_id") {
		u.probs.add(base()+"/instrument_id", msg)
	}
	// The attributes' own problems, unless the position's checks found
	// some already (a missing or malformed attributes member is theirs):
	// every position's are reported, whatever the positions before had.
	attrs, err := prep.attrs, prep.canonErr
	if u.probs.count() == before {
		if err != nil {
			var ce *canon.Error
			if !errors.As(err, &ce) {
				return fmt.Errorf("canonicalize attributes of position %d: %w", i, err)
			}
			u.probs.add(base()+"/attributes"+ce.Pointer, ce.Detail)
		}
		// PostgreSQL reads no attribute holding NUL back as text (a cube
		// by attr:NAME), so attributes are refused with it on every
		// store alike.
		for _, p := range web.NULProblems(attrs, base()+"/attributes") {
			u.probs.add(p.Pointer, p.Detail)
		}
	}
	if u.probs.count() > 0 {
		return nil // the upload is refused: no need to hash or write
	}
	pass.types[in.ProductType] = struct{}{}
	b, err := appendCanonicalPosition(pass.buf[:0], &in, attrs)
	if err != nil {
		return fmt.Errorf("hash position %d: %w", i, err)
	}
	pass.buf = b
	if i > 0 {
		_, _ = pass.hasher.WriteString(",")
	}
	_, _ = pass.hasher.Write(b)
	if pass.writer == nil {
		return nil
	}
	var qty *float64
	if in.Quantity != nil {
		q := *in.Quantity
		qty = &q
	}
	pass.batch = append(pass.batch, &store.Position{
		SnapshotID:   pass.snapshotID,
		Seq:          int64(i),
		PositionID:   in.PositionID,
		InstrumentID: in.InstrumentID,
		ProductType:  in.ProductType,
		Quantity:     qty,
		Attributes:   attrs,
		Hash:         PositionHash(in.PositionID),
	})
	if len(pass.batch) >= u.s.opts.BatchSize {
		return u.flush(pass)
	}
	return nil
}

// flush adds the queued rows to the store.
func (u *upload) flush(pass *positionsPass) error {
	if pass.writer == nil || len(pass.batch) == 0 || u.probs.count() > 0 {
		pass.batch = pass.batch[:0]
		return nil
	}
	if err := pass.adder.add(pass.batch); err != nil {
		return err
	}
	pass.batch = make([]*store.Position, 0, u.s.opts.BatchSize)
	return nil
}

// batchAdder adds batches of rows to a snapshot writer on a goroutine of
// its own, so that the store writes one batch while the next is decoded
// and checked. Batches are added one at a time, in order; the writer is
// used by no one else until wait returns.
type batchAdder struct {
	batches chan []*store.Position
	errc    chan error // the first failure, once
	done    chan struct{}
	err     error // the failure, as seen by the sending goroutine
	closed  bool
}

func startBatchAdder(ctx context.Context, snapshotID string, w store.PositionSnapshotWriter) *batchAdder {
	a := &batchAdder{
		batches: make(chan []*store.Position, 1),
		errc:    make(chan error, 1),
		done:    make(chan struct{}),
	}
	go func() {
		defer close(a.done)
		failed := false
		for rows := range a.batches {
			if failed {
				continue // drain: the upload fails anyway
			}
			if err := w.Add(ctx, rows); err != nil {
				failed = true
				a.errc <- fmt.Errorf("add %d positions to snapshot %s: %w", len(rows), snapshotID, err)
			}
		}
	}()
	return a
}

// add queues a batch; it reports an earlier batch's failure.
func (a *batchAdder) add(rows []*store.Position) error {
	if a.err == nil {
		select {
		case a.err = <-a.errc:
		default:
		}
	}
	if a.err != nil {
		return a.err
	}
	a.batches <- rows
	return nil
}

// wait lets the queued batches be added and stops the goroutine; it
// reports the first failure. It may be called more than once.
func (a *batchAdder) wait() error {
	if a == nil {
		return nil
	}
	if !a.closed {
		a.closed = true
		close(a.batches)
		<-a.done
		if a.err == nil {
			select {
			case a.err = <-a.errc:
			default:
			}
		}
	}
	return a.err
}

// appendCanonicalPosition appends the RFC 8785 form of a position as
// stored: {"attributes":…,"instrument_id":…,"position_id":…,
// "product_type":…,"quantity":…} with quantity only when given. attrs is
// already canonical.
func appendCanonicalPosition(b []byte, in *pricing.PositionInput, attrs []byte) ([]byte, error) {
	b = append(b, `{"attributes":`...)
	b = append(b, attrs...)
	b = append(b, `,"instrument_id":`...)
	b = canon.AppendString(b, in.InstrumentID)
	b = append(b, `,"position_id":`...)
	b = canon.AppendString(b, in.PositionID)
	b = append(b, `,"product_type":`...)
	b = canon.AppendString(b, in.ProductType)
	if in.Quantity != nil {
		b = append(b, `,"quantity":`...)
		var err error
		if b, err = canon.AppendFloat(b, *in.Quantity); err != nil {
			return nil, err
		}
	}
	return append(b, '}'), nil
}

// replayUnderClientID handles a client id that came after the positions:
// the rows written under the provisional id are rolled back and the
// positions are read again from the spooled body, under the client's id.
func (u *upload) replayUnderClientID() error {
	w := u.pass.writer
	if err := u.pass.adder.wait(); err != nil {
		return err
	}
	u.pass = nil
	if err := w.Rollback(u.ctx); err != nil {
		return fmt.Errorf("roll back provisional snapshot %s: %w", u.provisional, err)
	}
	w = nil
	existing, err := u.s.store.PositionSnapshotGet(u.ctx, u.clientID)
	switch {
	case err == nil:
		u.existing = existing
	case errors.Is(err, apperr.ErrNotFound):
		if w, err = u.s.store.PositionSnapshotBegin(u.ctx, u.clientID); err != nil {
			return fmt.Errorf("begin position snapshot %s: %w", u.clientID, err)
		}
	default:
		return fmt.Errorf("look up position snapshot %s: %w", u.clientID, err)
	}
	u.pass = u.s.newPass(u.ctx, u.clientID, w)
	dec, err := u.spool.replay()
	if err != nil {
		return err
	}
	if err := u.readPositions(dec, u.pass); err != nil {
		return fmt.Errorf("replay spooled positions: %w", err)
	}
	if u.probs.count() > 0 {
		return fmt.Errorf("replay of spooled positions found problems the first reading did not: %w",
			u.probs.err(apperr.Invalid, "position snapshot"))
	}
	return nil
}

// finish computes the payload hash and commits, or compares with the
// snapshot already stored under the client's id.
func (u *upload) finish() (*store.PositionSnapshot, bool, error) {
	pass := u.pass
	_, _ = pass.hasher.WriteString("]")
	hash, err := payloadHash(u.asOf, u.nodeID, pass.count, pass.hasher.Sum())
	if err != nil {
		return nil, false, err
	}
	if u.existing != nil {
		if u.existing.PayloadHash != hash {
			return nil, false, apperr.Errorf(apperr.Conflict,
				"position snapshot %s already exists with other content (payload_hash %s, this upload %s); snapshots are immutable",
				u.existing.ID, u.existing.PayloadHash, hash)
		}
		return u.existing, false, nil
	}
	types := make([]string, 0, len(pass.types))
	for t := range pass.types {
		types = append(types, t)
	}
	sort.Strings(types)
	hdr := &store.PositionSnapshot{
		ID:              pass.snapshotID,
		AsOfTime:        u.asOf,
		PortfolioNodeID: u.nodeID,
		PayloadHash:     hash,
		PositionCount:   pass.count,
		ProductTypes:    types,
		CreatedAt:       u.s.now(),
	}
	stored, created, err := pass.writer.Commit(u.ctx, hdr, u.clientID == "")
	if err != nil {
		if apperr.CodeOf(err) == apperr.Conflict {
			return nil, false, err
		}
		return nil, false, fmt.Errorf("commit position snapshot %s: %w", hdr.ID, err)
	}
	pass.writer = nil // committed: nothing to roll back
	return stored, created, nil
}

// payloadHash is the content hash of a position snapshot: the hex SHA-256
// of the RFC 8785 canonical JSON of
//
//	{"as_of_time": "<RFC 3339 UTC>", "portfolio_node_id": "…",
//	 "position_count": n, "positions_sha256": "<hex>"}
//
// where positions_sha256 is the hex SHA-256 of the canonical JSON of the
// positions array as stored (see appendCanonicalPosition).
func payloadHash(asOf time.Time, nodeID string, count int64, positionsSum string) (string, error) {
	doc := struct {
		AsOfTime        string `json:"as_of_time"`
		PortfolioNodeID string `json:"portfolio_node_id"`
		PositionCount   int64  `json:"position_count"`
		PositionsSHA256 string `json:"positions_sha256"`
	}{asOf.UTC().Format(time.RFC3339Nano), nodeID, count, positionsSum}
	b, err := canon.Marshal(doc)
	if err != nil {
		return "", fmt.Errorf("canonicalize snapshot header: %w", err)
	}
	return canon.SHA256Hex(b), nil
}

// skipValue skips the next value of the document.
func (u *upload) skipValue() error {
	tok, err := u.dec.Token()
	if err != nil {
		return u.fatal(err)
	}
	return u.skipRest(tok)
}

// skipRest skips the rest of a value whose first token is tok.
func (u *upload) skipRest(tok json.Token) error { return u.skipRestWith(u.dec, tok) }

func (u *upload) skipRestWith(dec *json.Decoder, tok json.Token) error {
	d, ok := tok.(json.Delim)
	if !ok || (d != '{' && d != '[') {
		return nil
	}
	for depth := 1; depth > 0; {
		tok, err := dec.Token()
		if err != nil {
			return u.fatal(err)
		}
		if d, ok := tok.(json.Delim); ok {
			switch d {
			case '{', '[':
				depth++
			default:
				depth--
			}
		}
	}
	return nil
}

// fatal turns an error of the decoder into the error to answer. Reading
// cannot go on after any of them, so it never returns nil: an error it does
// not recognize refuses the upload rather than being taken for a value.
func (u *upload) fatal(err error) error {
	if u.src.err != nil {
		return web.BodyReadError(u.src.err)
	}
	if u.spool != nil && u.spool.err() != nil {
		return fmt.Errorf("spool position snapshot upload: %w", u.spool.err())
	}
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		u.probs.addf("", "malformed JSON at byte %d: %s", se.Offset, se.Error())
		return u.probs.err(apperr.Invalid, "the position snapshot is not valid JSON")
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		u.probs.addf("", "the body ends at byte %d before the JSON document does", u.dec.InputOffset())
		return u.probs.err(apperr.Invalid, "the position snapshot is not valid JSON")
	}
	u.probs.addf("", "the body cannot be read as JSON at byte %d: %s", u.dec.InputOffset(), strings.TrimPrefix(err.Error(), "json: "))
	return u.probs.err(apperr.Invalid, "the position snapshot is not valid JSON")
}

// sourceReader reads the request body, remembering a read failure (which
// the decoder reports as its own) and copying what it reads to tee when
// set.
type sourceReader struct {
	r   io.Reader
	tee io.Writer
	err error
}

func (s *sourceReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if n > 0 && s.tee != nil {
		if _, werr := s.tee.Write(p[:n]); werr != nil {
			s.tee = nil // recorded by the spool; reported by fatal or replay
		}
	}
	if err != nil && err != io.EOF {
		s.err = err
	}
	return n, err
}

// spool is a temporary file holding the body from the start of the
// positions array on, for the rare upload whose position_snapshot_id
// follows its positions.
type spool struct {
	f    *os.File
	w    *spoolWriter
	path string
}

type spoolWriter struct {
	bw  *bufio.Writer
	err error
}

func (w *spoolWriter) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	n, err := w.bw.Write(p)
	if err != nil {
		w.err = err
	}
	return n, err
}

// newSpool creates the spool file and copies into it what the decoder has
// buffered but not yet consumed.
func (s *Service) newSpool(dec *json.Decoder) (*spool, error) {
	f, err := os.CreateTemp(s.opts.SpoolDir, "iprs-positions-*.json")
	if err != nil {
		return nil, fmt.Errorf("create upload spool: %w", err)
	}
	sp := &spool{f: f, path: f.Name(), w: &spoolWriter{bw: bufio.NewWriterSize(f, 1<<20)}}
	if _, err := io.Copy(sp.w, dec.Buffered()); err != nil {
		sp.remove()
		return nil, fmt.Errorf("write upload spool: %w", err)
	}
	return sp, nil
}

func (sp *spool) err() error { return sp.w.err }

// replay returns a decoder positioned at the positions array.
func (sp *spool) replay() (*json.Decoder, error) {
	if sp.w.err != nil {
		return nil, fmt.Errorf("write upload spool: %w", sp.w.err)
	}
	if err := sp.w.bw.Flush(); err != nil {
		return nil, fmt.Errorf("flush upload spool: %w", err)
	}
	if _, err := sp.f.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("rewind upload spool: %w", err)
	}
	br := bufio.NewReaderSize(sp.f, 1<<20)
	// The spool starts right after the member name "positions": skip the
	// white space and the colon before the array.
	for {
		c, err := br.ReadByte()
		if err != nil {
			return nil, fmt.Errorf("read upload spool: %w", err)
		}
		if c == ':' {
			break
		}
		if c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			return nil, fmt.Errorf("upload spool starts with %q, not the colon before the positions", c)
		}
	}
	return newBodyDecoder(br), nil
}

// newBodyDecoder returns the token decoder of an upload. Numbers are kept
// as their literals (json.Number): encoding/json would otherwise fail on a
// literal beyond the range of a double (1e400) while producing the token,
// and the member it stood for would be left unread instead of refused.
func newBodyDecoder(r io.Reader) *json.Decoder {
	dec := json.NewDecoder(r)
	dec.UseNumber()
	return dec
}

func (sp *spool) remove() {
	_ = sp.f.Close()
	_ = os.Remove(sp.path)
}
