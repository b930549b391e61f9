package orchestrator

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/iprs/iprs/internal/apperr"
	"github.com/iprs/iprs/internal/canon"
	"github.com/iprs/iprs/internal/pricing"
	"github.com/iprs/iprs/internal/store"
	"github.com/iprs/iprs/internal/web"
)

// CSVContentType is the media type of a loan tape upload.
const CSVContentType = "text/csv"

// The identity columns of a loan tape; every other column is an attribute.
const (
	colPositionID   = "position_id"
	colInstrumentID = "instrument_id"
	colProductType  = "product_type"
	colQuantity     = "quantity"
)

// csvParams are the query parameters of a loan tape upload.
var csvParams = []string{fieldAsOfTime, fieldNodeID, fieldSnapshotID}

// csvAttr is one attribute column.
type csvAttr struct {
	name  string
	index int    // in the record
	key   []byte // the name as a canonical JSON string followed by ':'
}

// csvLayout is a tape's header, read.
type csvLayout struct {
	width                    int // columns
	positionID, instrumentID int // record index, -1 when absent
	productType, quantity    int
	attrs                    []csvAttr // in canonical (RFC 8785) member order
	names                    []string  // every column, as in the header
}

// uploadCSV reads a loan tape (SPEC §5) and stores it: the header names
// the columns, each further record is a position; the snapshot's members
// come from the query.
func (s *Service) uploadCSV(ctx context.Context, q url.Values, body io.Reader) (*store.PositionSnapshot, bool, error) {
	u := s.newUpload(ctx)
	defer u.close()
	u.readCSVParams(q)
	if err := u.readCSV(body); err != nil {
		return nil, false, err
	}
	if u.probs.count() > 0 {
		return nil, false, u.probs.err(apperr.Invalid, "the loan tape was refused")
	}
	return u.commit()
}

// readCSVParams records position_snapshot_id, as_of_time and
// portfolio_node_id from the query (validated by web.Query: each at most
// once, UTF-8, no NUL).
func (u *upload) readCSVParams(q url.Values) {
	if id, ok := q[fieldSnapshotID]; ok {
		if !validID(id[0]) {
			u.probs.addParam(fieldSnapshotID, fmt.Sprintf("position_snapshot_id %q %s", id[0], idRule))
		} else {
			u.clientID = id[0]
		}
	}
	if v, ok := q[fieldAsOfTime]; !ok {
		u.probs.addParam(fieldAsOfTime, "as_of_time is required (a query parameter of a CSV upload)")
	} else if t, ok := parseAsOf(v[0]); !ok {
		u.probs.addParam(fieldAsOfTime, fmt.Sprintf("as_of_time %q is not an RFC 3339 time such as 2026-01-23T00:00:00Z", v[0]))
	} else {
		u.asOf = t
	}
	switch v, ok := q[fieldNodeID]; {
	case !ok:
		u.probs.addParam(fieldNodeID, "portfolio_node_id is required (a query parameter of a CSV upload)")
	case v[0] == "":
		u.probs.addParam(fieldNodeID, "portfolio_node_id must not be empty")
	default:
		if msg := nameProblem(fieldNodeID, v[0]); msg != "" {
			u.probs.addParam(fieldNodeID, msg)
		}
		u.nodeID = v[0]
	}
}

// utf8BOM starts a file that some spreadsheets save as "CSV UTF-8".
var utf8BOM = []byte{0xef, 0xbb, 0xbf}

// readCSV reads the tape, recording problems; it returns an error only
// when reading cannot go on.
func (u *upload) readCSV(body io.Reader) error {
	src := &sourceReader{r: body, clock: u.body}
	br := bufio.NewReaderSize(src, 1<<16)
	if b, err := br.Peek(len(utf8BOM)); err == nil && bytes.Equal(b, utf8BOM) {
		_, _ = br.Discard(len(utf8BOM))
	}
	cr := csv.NewReader(br)
	cr.ReuseRecord = true
	header, err := cr.Read()
	switch {
	case errors.Is(err, io.EOF) && src.err == nil:
		u.probs.add("", "the CSV tape is empty: its first line must name the columns (position_id, instrument_id, product_type, quantity and attributes)")
		return nil
	case err != nil:
		return u.csvFatal(src, err, "/header")
	}
	layout, ok := u.csvHeader(header)
	if !ok {
		return nil // every row would repeat the header's problems
	}
	pass, err := u.newPass(csvPointer(layout))
	if err != nil {
		return err
	}
	u.pass = pass
	take := func(c *prepChunk) error {
		for k := range c.items {
			p := &c.items[k]
			if p.inErr != nil { // a row of the wrong width
				u.probs.add("/rows/"+strconv.Itoa(c.first+k), p.inErr.Error())
				pass.count++
				continue
			}
			if err := u.position(pass, c.first+k, p, p.bad); err != nil {
				return err
			}
		}
		return nil
	}
	q := newPrepQueue(func(p *preparedPosition) { layout.prepare(p) })
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) && src.err == nil {
			break
		}
		var pe *csv.ParseError
		if err != nil && !(errors.As(err, &pe) && errors.Is(err, csv.ErrFieldCount)) {
			if derr := q.drain(take); derr != nil {
				return derr
			}
			return u.csvFatal(src, err, "/rows/"+strconv.Itoa(q.next))
		}
		p := preparedPosition{cells: slices.Clone(rec)}
		if err != nil { // csv.ErrFieldCount: the record comes with it
			p.inErr = fmt.Errorf("the row has %d fields; the header has %d (line %d)", len(rec), layout.width, pe.Line)
		}
		if err := q.add(p, take); err != nil {
			return err
		}
	}
	return q.drain(take)
}

// csvFatal answers a read failure: the body's (too large, stalled, broken),
// or malformed CSV at pointer.
func (u *upload) csvFatal(src *sourceReader, err error, pointer string) error {
	if src.err != nil {
		return web.BodyReadError(src.err)
	}
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		u.probs.addf(pointer, "malformed CSV at line %d, column %d: %s", pe.Line, pe.Column, pe.Err)
		return u.probs.err(apperr.Invalid, "the loan tape is not valid CSV")
	}
	return fmt.Errorf("read loan tape: %w", err)
}

// csvHeader reads the header, recording its problems (pointer
// "/header/K", K the 0-based column). ok is false when there were any.
func (u *upload) csvHeader(header []string) (*csvLayout, bool) {
	l := &csvLayout{width: len(header), positionID: -1, instrumentID: -1, productType: -1, quantity: -1,
		names: slices.Clone(header)}
	before := u.probs.count()
	seen := make(map[string]int, len(header))
	for k, name := range header {
		ptr := "/header/" + strconv.Itoa(k)
		switch {
		case name == "":
			u.probs.add(ptr, "a column name must not be empty")
			continue
		case !utf8.ValidString(name):
			u.probs.add(ptr, "a column name must be valid UTF-8")
			continue
		case strings.IndexByte(name, 0) >= 0:
			u.probs.add(ptr, "a column name must not contain the NUL character (U+0000)")
			continue
		}
		if first, dup := seen[name]; dup {
			u.probs.addf(ptr, "column %q appears twice (first as column %d)", name, first)
			continue
		}
		seen[name] = k
		switch name {
		case colPositionID:
			l.positionID = k
		case colInstrumentID:
			l.instrumentID = k
		case colProductType:
			l.productType = k
		case colQuantity:
			l.quantity = k
		case "cashflows":
			u.probs.add(ptr, "a CSV tape cannot hold nested attributes such as a cashflows list: give loans by their terms "+
				"(current_principal, coupon_rate, remaining_term_months, next_payment_date), or upload JSON")
		default:
			l.attrs = append(l.attrs, csvAttr{name: name, index: k, key: append(canon.AppendString(nil, name), ':')})
		}
	}
	if l.positionID < 0 {
		u.probs.add("/header", "the header has no position_id column")
	}
	if l.productType < 0 {
		u.probs.add("/header", "the header has no product_type column")
	}
	slices.SortFunc(l.attrs, func(a, b csvAttr) int { return canon.CompareUTF16(a.name, b.name) })
	return l, u.probs.count() == before
}

// csvPointer maps a position's member pointer to the tape: "/rows/N" and
// the column, an attribute's problem naming its own column.
func csvPointer(l *csvLayout) func(i int, sub string) string {
	return func(i int, sub string) string {
		if rest, ok := strings.CutPrefix(sub, "/attributes"); ok {
			sub = rest
		}
		return "/rows/" + strconv.Itoa(i) + sub
	}
}

// prepare turns a row into a position: identity cells as text, an empty
// quantity as none, every non-empty attribute cell a number when written
// as a JSON number and text otherwise, the attributes as canonical JSON;
// then ParsePosition and the position hash, as for a JSON position.
func (l *csvLayout) prepare(p *preparedPosition) {
	cells := p.cells
	cell := func(k int) string {
		if k < 0 || k >= len(cells) {
			return ""
		}
		return cells[k]
	}
	var probs []pricing.Problem
	text := func(k int, name string, bit badText) string {
		s := cell(k)
		if !utf8.ValidString(s) {
			probs = append(probs, pricing.Problem{Pointer: "/" + name, Detail: name + " is not valid UTF-8"})
			p.bad |= bit
		}
		return s
	}
	p.in.PositionID = text(l.positionID, colPositionID, 1<<0)
	p.in.InstrumentID = text(l.instrumentID, colInstrumentID, 1<<1)
	p.in.ProductType = text(l.productType, colProductType, 1<<2)
	if q := cell(l.quantity); q != "" {
		if f, ok := finiteNumber(q); ok {
			p.in.Quantity = &f
		} else {
			probs = append(probs, pricing.Problem{Pointer: "/" + colQuantity, Detail: "quantity must be a finite number (or empty, for 1)"})
		}
	}
	b := make([]byte, 0, 16*len(l.attrs)+len(cells)*8)
	b = append(b, '{')
	for _, a := range l.attrs {
		v := cell(a.index)
		if v == "" {
			continue // absent
		}
		if len(b) > 1 {
			b = append(b, ',')
		}
		b = append(b, a.key...)
		switch {
		case !utf8.ValidString(v):
			probs = append(probs, pricing.Problem{Pointer: "/attributes/" + web.EscapePointerToken(a.name), Detail: "attribute " + a.name + " is not valid UTF-8"})
			b = append(b, `""`...)
		case isNumberLiteral(v):
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || math.IsInf(f, 0) {
				probs = append(probs, pricing.Problem{Pointer: "/attributes/" + web.EscapePointerToken(a.name),
					Detail: fmt.Sprintf("attribute %s: the number %s is beyond the range of a double", a.name, v)})
				b = append(b, '0')
				continue
			}
			b, _ = canon.AppendFloat(b, f) // finite: cannot fail
		default:
			b = canon.AppendString(b, v)
		}
	}
	b = append(b, '}')
	p.in.Attributes = b
	p.attrs = b
	p.cells = nil
	if len(probs) > 0 {
		p.pre = probs // the row is refused: ParsePosition would only repeat these
		return
	}
	p.parsePosition()
	p.hash = PositionHash(p.in.PositionID)
}

// finiteNumber reads a cell written as a JSON number that a double holds.
func finiteNumber(s string) (float64, bool) {
	if !isNumberLiteral(s) {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}

// isNumberLiteral reports whether s is written as a JSON number:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? — so "007", "+5", ".5",
// "1,000", "0x10", "Inf" and "NaN" are text.
func isNumberLiteral(s string) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && s[i] >= '1' && s[i] <= '9':
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	default:
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		start := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == start {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		start := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == start {
			return false
		}
	}
	return i == len(s)
}
