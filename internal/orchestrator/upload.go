package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/iprs/iprs/internal/apperr"
	"github.com/iprs/iprs/internal/canon"
	"github.com/iprs/iprs/internal/pricing"
	"github.com/iprs/iprs/internal/store"
	"github.com/iprs/iprs/internal/web"
)

// upload is one position snapshot upload in progress, in two phases. The
// read phase reads the whole body (JSON, upload_json.go; CSV,
// upload_csv.go), checks every position, hashes them and appends the rows
// to a spool file; nothing of the store is used while the client sends.
// The write phase (commit) then looks the snapshot id up and, unless an
// identical snapshot is stored, writes the spooled rows in batches in one
// store transaction. Memory holds the positions in flight and the set of
// position ids, never the document.
type upload struct {
	s     *Service
	ctx   context.Context
	probs *problems

	clientID string // position_snapshot_id as given ("" when absent)
	serverID string // the id the server makes when the client gives none
	asOf     time.Time
	nodeID   string

	pass *positionsPass

	body     *bodyClock // when the body last gave bytes
	began    time.Time  // when reading began
	readDone time.Time  // when the body was read (commit began)
}

func (s *Service) newUpload(ctx context.Context) *upload {
	return &upload{s: s, ctx: ctx, probs: newProblems(s.opts.MaxProblems), body: newBodyClock(), began: time.Now()}
}

// close stops an early write and removes the spool.
func (u *upload) close() {
	if u.pass != nil {
		u.pass.close()
	}
}

// snapshotID is the id the rows are written under: the client's, else
// one the server makes (once per upload).
func (u *upload) snapshotID() string {
	if u.clientID != "" {
		return u.clientID
	}
	if u.serverID == "" {
		u.serverID = newID("PS-", u.s.now())
	}
	return u.serverID
}

// positionsPass takes the positions of an upload in order: it checks what
// depends on the positions before (repeated ids), hashes the canonical
// positions and spools the rows, as long as the upload has no problem.
type positionsPass struct {
	count  int64
	ids    *pricing.PositionIDs
	types  map[string]struct{}
	hasher *canon.Hasher
	rows   *rowSpool
	buf    []byte
	// summary gathers the snapshot's check summary.
	summary *summaryBuilder
	// early writes the rows to the store as they come
	// (Options.WriteWhileReading), batch by batch; nil before it begins
	// or when it was stopped, with earlyOff then set.
	early    *earlyWrite
	earlyOff bool
	// wroteEarly: the early write added every row.
	wroteEarly bool
	batch      []*store.Position
	spooled    int64
	// pointer is the JSON Pointer of a position's member: sub is
	// "/position_id", "/attributes/fico", … ("" for the position).
	pointer func(i int, sub string) string
}

func (u *upload) newPass(pointer func(i int, sub string) string) (*positionsPass, error) {
	rows, err := newRowSpool(u.s.opts.SpoolDir)
	if err != nil {
		return nil, err
	}
	h := canon.NewHasher()
	_, _ = h.WriteString("[")
	return &positionsPass{
		ids:     pricing.NewPositionIDs(),
		types:   make(map[string]struct{}),
		hasher:  h,
		rows:    rows,
		summary: newSummaryBuilder(),
		pointer: pointer,
	}, nil
}

func (p *positionsPass) close() {
	p.stopEarly()
	if p.rows != nil {
		p.rows.remove()
		p.rows = nil
	}
}

// position checks one prepared position and, while the upload has no
// problem, hashes it and spools its row. bad flags the members whose text
// was refused already: their decoded value (with U+FFFD for what was not
// text) is not checked further.
func (u *upload) position(pass *positionsPass, i int, prep *preparedPosition, bad badText) error {
	pass.count++
	in := prep.in
	before := u.probs.count()
	for _, p := range prep.pre {
		u.probs.add(pass.pointer(i, p.Pointer), p.Detail)
	}
	for _, p := range prep.parse {
		if bad != 0 && bad.has(strings.TrimPrefix(p.Pointer, "/")) {
			continue
		}
		u.probs.add(pass.pointer(i, p.Pointer), p.Detail)
	}
	if !bad.has("position_id") { // else its decoded form is not the id sent
		if p, dup := pass.ids.Add(i, in.PositionID); dup {
			u.probs.add(pass.pointer(i, p.Pointer), p.Detail)
		}
		if msg := nameProblem("position_id", in.PositionID); msg != "" {
			u.probs.add(pass.pointer(i, "/position_id"), msg)
		}
	}
	if msg := nameProblem("instrument_id", in.InstrumentID); msg != "" && !bad.has("instrument_id") {
		u.probs.add(pass.pointer(i, "/instrument_id"), msg)
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
			u.probs.add(pass.pointer(i, "/attributes"+ce.Pointer), ce.Detail)
		}
		// PostgreSQL reads no attribute holding NUL back as text (a cube
		// by attr:NAME), so attributes are refused with it on every
		// store alike.
		for _, p := range web.NULProblems(attrs, "/attributes") {
			u.probs.add(pass.pointer(i, p.Pointer), p.Detail)
		}
	}
	if u.probs.count() > 0 {
		pass.stopEarly()
		return nil // the upload is refused: no need to hash or spool
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
	pass.rows.add(in.PositionID, in.InstrumentID, in.ProductType, in.Quantity, attrs, prep.hash)
	pass.summary.add(&prep.facts)
	u.writeEarly(pass, &in, attrs, prep.hash)
	return nil
}

// writeEarly hands a spooled row to the early write, beginning it once a
// batch of rows is spooled without a problem, when the service writes
// while reading. A client that stalls before its first full batch never
// reaches the store before its body is read.
func (u *upload) writeEarly(pass *positionsPass, in *pricing.PositionInput, attrs []byte, hash int64) {
	seq := pass.spooled
	pass.spooled++
	if !u.s.opts.WriteWhileReading || pass.earlyOff {
		return
	}
	if pass.batch == nil {
		pass.batch = make([]*store.Position, 0, u.s.opts.BatchSize)
	}
	id := u.snapshotID()
	if pass.early != nil {
		id = pass.early.id
	}
	pass.batch = append(pass.batch, &store.Position{
		SnapshotID:   id,
		Seq:          seq,
		PositionID:   in.PositionID,
		InstrumentID: in.InstrumentID,
		ProductType:  in.ProductType,
		Quantity:     in.Quantity,
		Attributes:   attrs,
		Hash:         hash,
	})
	if len(pass.batch) < u.s.opts.BatchSize {
		return
	}
	if pass.early == nil {
		if seq+1 != int64(len(pass.batch)) {
			pass.stopEarly() // rows before were not batched
			return
		}
		select {
		case u.s.earlySlots <- struct{}{}:
		default:
			pass.stopEarly() // as many uploads write early as may
			return
		}
		pass.early = startEarlyWrite(u.ctx, u.s.store, id, u.body, u.s.opts.WriteWaitLimit)
		go func(done <-chan struct{}) {
			<-done
			<-u.s.earlySlots
		}(pass.early.done)
	}
	if !pass.early.send(pass.batch) {
		u.logEarlyEnd(pass.early)
		pass.stopEarly()
		return
	}
	pass.batch = nil
}

// logEarlyEnd logs why an early write ended before the end of the body.
func (u *upload) logEarlyEnd(e *earlyWrite) {
	<-e.done
	u.s.log(u.ctx).InfoContext(u.ctx, "position snapshot: the write begun while reading stopped; writing after the read",
		"position_snapshot_id", e.id, "reason", e.err.Error())
}

// stopEarly ends the early write, if any, rolling it back; the write phase
// writes from the spool.
func (p *positionsPass) stopEarly() {
	p.earlyOff = true
	p.batch = nil
	if p.early != nil {
		p.early.abandon()
		p.early = nil
	}
}

// finishEarly returns the early write's writer with every row added, or
// nil when there is none or it ended before (then rolled back).
func (u *upload) finishEarly(id string) store.PositionSnapshotWriter {
	pass := u.pass
	e := pass.early
	if e == nil || pass.earlyOff {
		return nil
	}
	if e.id != id {
		pass.stopEarly() // the client's id came after the rows
		return nil
	}
	w, err := e.finish(pass.batch)
	pass.early, pass.batch, pass.earlyOff = nil, nil, true
	if err != nil {
		u.logEarlyEnd(e)
		return nil
	}
	pass.wroteEarly = true
	return w
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

// commit is the write phase: it computes the payload hash, compares with
// the snapshot stored under the client's id if there is one, and
// otherwise writes the spooled rows and the header in one store
// transaction. The body was read in full before, so the transaction (and
// on SQLite the single writer, on PostgreSQL a pooled connection and the
// snapshot id's advisory lock) waits on the disk only, never on the
// client. When an early write added every row already (see earlyWrite),
// only the header is left to store.
func (u *upload) commit() (*store.PositionSnapshot, bool, error) {
	u.readDone = time.Now()
	pass := u.pass
	_, _ = pass.hasher.WriteString("]")
	hash, err := payloadHash(u.asOf, u.nodeID, pass.count, pass.hasher.Sum())
	if err != nil {
		return nil, false, err
	}
	id := u.clientID
	if id != "" {
		existing, err := u.s.store.PositionSnapshotGet(u.ctx, id)
		switch {
		case err == nil:
			if existing.PayloadHash != hash {
				return nil, false, apperr.Errorf(apperr.Conflict,
					"position snapshot %s already exists with other content (payload_hash %s, this upload %s); snapshots are immutable",
					existing.ID, existing.PayloadHash, hash)
			}
			return existing, false, nil
		case !errors.Is(err, apperr.ErrNotFound):
			return nil, false, fmt.Errorf("look up position snapshot %s: %w", id, err)
		}
	} else {
		id = u.snapshotID()
	}
	if w := u.finishEarly(id); w != nil {
		return u.commitHeader(w, id, hash)
	}
	rows, err := pass.rows.reader()
	if err != nil {
		return nil, false, err
	}
	w, err := u.s.store.PositionSnapshotBegin(u.ctx, id)
	if err != nil {
		return nil, false, fmt.Errorf("begin position snapshot %s: %w", id, err)
	}
	if err := u.writeSpool(w, rows, id); err != nil {
		_ = w.Rollback(context.WithoutCancel(u.ctx))
		return nil, false, err
	}
	return u.commitHeader(w, id, hash)
}

// writeSpool adds the spooled rows to w in batches, one batch being added
// while the next is read from the spool.
func (u *upload) writeSpool(w store.PositionSnapshotWriter, rows *rowReader, id string) error {
	adder := startBatchAdder(u.ctx, id, w)
	for {
		batch, err := rows.next(u.s.opts.BatchSize, id)
		if err != nil {
			_ = adder.wait()
			return err
		}
		if len(batch) == 0 {
			break
		}
		if err := adder.add(batch); err != nil {
			_ = adder.wait()
			return err
		}
	}
	return adder.wait()
}

// commitHeader stores the header through w, every row added, and commits;
// w is rolled back when that fails.
func (u *upload) commitHeader(w store.PositionSnapshotWriter, id, hash string) (*store.PositionSnapshot, bool, error) {
	pass := u.pass
	committed := false
	defer func() {
		if !committed {
			_ = w.Rollback(context.WithoutCancel(u.ctx))
		}
	}()
	types := make([]string, 0, len(pass.types))
	for t := range pass.types {
		types = append(types, t)
	}
	sort.Strings(types)
	summary, err := pass.summary.json(u.s.opts.EngineVersion)
	if err != nil {
		return nil, false, err
	}
	hdr := &store.PositionSnapshot{
		CheckSummary:    summary,
		ID:              id,
		AsOfTime:        u.asOf,
		PortfolioNodeID: u.nodeID,
		PayloadHash:     hash,
		PositionCount:   pass.count,
		ProductTypes:    types,
		CreatedAt:       u.s.now(),
	}
	stored, created, err := w.Commit(u.ctx, hdr, u.clientID == "")
	committed = err == nil
	u.s.log(u.ctx).DebugContext(u.ctx, "position snapshot written", "position_snapshot_id", id,
		"read_seconds", u.readDone.Sub(u.began).Seconds(), "write_after_read_seconds", time.Since(u.readDone).Seconds(),
		"written_while_reading", pass.wroteEarly)
	if err != nil {
		if apperr.CodeOf(err) == apperr.Conflict {
			return nil, false, err
		}
		return nil, false, fmt.Errorf("commit position snapshot %s: %w", hdr.ID, err)
	}
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

// batchAdder adds batches of rows to a snapshot writer on a goroutine of
// its own, so that the store writes one batch while the next is read from
// the spool. Batches are added one at a time, in order; the writer is
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
