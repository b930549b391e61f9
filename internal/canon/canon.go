// Package canon turns JSON into its canonical form, the JSON Canonicalization
// Scheme of RFC 8785 (JCS), and hashes it. Two documents that mean the same
// JSON value have the same canonical bytes and so the same hash, whatever
// their key order, whitespace, string escapes or number spelling; IPRS uses
// that hash to recognise a resubmitted snapshot or run request.
//
// The canonical form:
//   - no whitespace between tokens;
//   - object members sorted by their names compared as UTF-16 code units;
//   - strings with only the escapes RFC 8785 prescribes (\" \\ \b \f \n \r \t
//     and \u00xx in lower-case hex for the other control characters), every
//     other character written as UTF-8, so "\u00e9" and "é" agree;
//   - numbers as ECMAScript's Number.prototype.toString writes the IEEE 754
//     double nearest to the literal: 1.0 → 1, 1e21 → 1e+21, 0.000001 →
//     0.000001, 1e-7 → 1e-7, -0 → 0.
//
// Input is rejected (an *Error wrapping ErrSyntax, ErrDuplicateKey,
// ErrNumberRange or ErrTooDeep, with the byte offset and a JSON Pointer) when
// it is not one JSON value, when an object has the same member name twice,
// when a string holds invalid UTF-8 or an unpaired surrogate escape, or when a
// number's magnitude is too large for a double (JSON has no NaN or Infinity;
// a literal like 1e400 is the only way to ask for one). A number too small for
// a double (1e-400) becomes 0, as IEEE 754 rounding says.
//
// Options.AllowOutOfRange keeps over-large numbers instead of failing, for
// callers that must store and report such a document rather than refuse it.
// Every number literal is read as text and converted exactly once, so
// nothing is lost before formatting.
//
// For documents too big to hold (a million positions), hash them in pieces
// with a Hasher: write the canonical fragments in canonical order, then Sum.
package canon

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf16"
	"unicode/utf8"
)

// MaxDepth is the deepest nesting of arrays and objects accepted.
const MaxDepth = 10000

// Errors wrapped by *Error; test with errors.Is.
var (
	ErrSyntax       = errors.New("invalid JSON")
	ErrDuplicateKey = errors.New("duplicate object member name")
	ErrNumberRange  = errors.New("number out of range of IEEE 754 double")
	ErrTooDeep      = errors.New("nesting too deep")
)

// Error reports where the input is at fault.
type Error struct {
	// Offset is the byte offset in the input of the token at fault.
	Offset int
	// Pointer is the RFC 6901 JSON Pointer of the value at fault ("" for the
	// whole document).
	Pointer string
	// Detail says what is wrong, for people.
	Detail string
	// Err is one of ErrSyntax, ErrDuplicateKey, ErrNumberRange, ErrTooDeep.
	Err error
}

func (e *Error) Error() string {
	return fmt.Sprintf("canonical JSON: %s at offset %d (pointer %q): %s", e.Err, e.Offset, e.Pointer, e.Detail)
}

func (e *Error) Unwrap() error { return e.Err }

// Options adjust canonicalization.
type Options struct {
	// AllowOutOfRange writes a number whose magnitude is beyond the largest
	// double as its exact decimal value in ECMAScript exponent form
	// (1e400 and 10e399 both → 1e+400) instead of failing with
	// ErrNumberRange. The output is then not RFC 8785 JSON in the strict
	// sense, but it is still deterministic, so hashes stay meaningful.
	AllowOutOfRange bool
}

// Canonicalize returns the RFC 8785 canonical form of the JSON value raw.
func Canonicalize(raw []byte) ([]byte, error) {
	return Options{}.Append(make([]byte, 0, len(raw)), raw)
}

// Canonical returns the canonical form of raw like Canonicalize, but when
// raw is already canonical it returns raw itself rather than a copy (the
// result then shares raw's memory: neither may be changed while the other
// is used). Uploads that arrive canonical, as generated books do, are then
// checked without allocating a second copy of every position.
func Canonical(raw []byte) ([]byte, error) {
	bp := scratchPool.Get().(*[]byte)
	defer scratchPool.Put(bp)
	out, err := Options{}.Append((*bp)[:0], raw)
	if cap(out) <= maxPooledScratch {
		*bp = out[:0]
	}
	if err != nil {
		return nil, err
	}
	if bytes.Equal(out, raw) {
		return raw, nil
	}
	return bytes.Clone(out), nil
}

// scratchPool holds the output buffers of Canonical; buffers grown past
// maxPooledScratch are left to the collector.
var scratchPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

const maxPooledScratch = 1 << 20

// AppendCanonical appends the canonical form of raw to dst. On error dst is
// returned unchanged in length.
func AppendCanonical(dst, raw []byte) ([]byte, error) {
	return Options{}.Append(dst, raw)
}

// Canonicalize is Canonicalize with these options.
func (o Options) Canonicalize(raw []byte) ([]byte, error) {
	return o.Append(make([]byte, 0, len(raw)), raw)
}

// Append appends the canonical form of raw to dst with these options.
func (o Options) Append(dst, raw []byte) ([]byte, error) {
	p := parser{opts: o}
	return p.run(dst, raw)
}

// pathSeg is one step of the path to the current value: a member name, or
// an array index when isIndex.
type pathSeg struct {
	name    span // in parser.names
	index   int
	isIndex bool
}

// span is a byte range of a buffer.
type span struct{ start, end int }

type member struct {
	name   span // decoded name in parser.names
	offset int  // of the name in the input, for errors
	value  span // the canonical value in the output buffer
}

type parser struct {
	data    []byte
	pos     int
	opts    Options
	path    []pathSeg
	ms      []member // members of the open objects, innermost last
	names   []byte   // decoded member names of the open objects
	scratch []byte   // decoded string scratch
	tmp     []byte   // object reordering scratch

	// Initial backing for the slices above, so that small documents
	// allocate nothing more.
	pathBuf    [8]pathSeg
	msBuf      [16]member
	namesBuf   [128]byte
	scratchBuf [64]byte
}

// run canonicalizes p.data onto dst, reusing the parser's scratch space.
func (p *parser) run(dst, raw []byte) ([]byte, error) {
	p.data, p.pos = raw, 0
	if p.path == nil {
		p.path, p.ms, p.names, p.scratch = p.pathBuf[:0], p.msBuf[:0], p.namesBuf[:0], p.scratchBuf[:0]
	}
	p.path, p.ms, p.names = p.path[:0], p.ms[:0], p.names[:0]
	start := len(dst)
	p.skipSpace()
	out, err := p.value(dst)
	if err == nil {
		p.skipSpace()
		if p.pos < len(p.data) {
			err = p.fail(ErrSyntax, "unexpected data after the JSON value")
		}
	}
	if err != nil {
		return dst[:start], err
	}
	return out, nil
}

func (p *parser) fail(kind error, format string, args ...any) *Error {
	return &Error{Offset: p.pos, Pointer: p.pointer(), Detail: fmt.Sprintf(format, args...), Err: kind}
}

func (p *parser) pointer() string {
	var b strings.Builder
	for _, s := range p.path {
		b.WriteByte('/')
		if s.isIndex {
			b.WriteString(strconv.Itoa(s.index))
			continue
		}
		for _, c := range p.names[s.name.start:s.name.end] {
			switch c {
			case '~':
				b.WriteString("~0")
			case '/':
				b.WriteString("~1")
			default:
				b.WriteByte(c)
			}
		}
	}
	return b.String()
}

func (p *parser) skipSpace() {
	for p.pos < len(p.data) {
		switch p.data[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func (p *parser) value(dst []byte) ([]byte, error) {
	if p.pos >= len(p.data) {
		return dst, p.fail(ErrSyntax, "unexpected end of input, want a value")
	}
	switch c := p.data[p.pos]; {
	case c == '{':
		return p.object(dst)
	case c == '[':
		return p.array(dst)
	case c == '"':
		if end, ok := p.plainString(); ok {
			dst = append(dst, p.data[p.pos:end]...)
			p.pos = end
			return dst, nil
		}
		s, err := p.str()
		if err != nil {
			return dst, err
		}
		return appendQuoted(dst, s), nil
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number(dst)
	case c == 't':
		return p.literal(dst, "true")
	case c == 'f':
		return p.literal(dst, "false")
	case c == 'n':
		return p.literal(dst, "null")
	default:
		return dst, p.fail(ErrSyntax, "unexpected character %q, want a value", c)
	}
}

func (p *parser) literal(dst []byte, lit string) ([]byte, error) {
	if len(p.data)-p.pos < len(lit) || string(p.data[p.pos:p.pos+len(lit)]) != lit {
		return dst, p.fail(ErrSyntax, "invalid literal, want %s", lit)
	}
	p.pos += len(lit)
	return append(dst, lit...), nil
}

func (p *parser) enter() error {
	if len(p.path) >= MaxDepth {
		return p.fail(ErrTooDeep, "more than %d nested arrays and objects", MaxDepth)
	}
	return nil
}

func (p *parser) array(dst []byte) ([]byte, error) {
	if err := p.enter(); err != nil {
		return dst, err
	}
	p.pos++ // '['
	dst = append(dst, '[')
	p.path = append(p.path, pathSeg{isIndex: true})
	seg := len(p.path) - 1
	p.skipSpace()
	if p.pos < len(p.data) && p.data[p.pos] == ']' {
		p.pos++
		p.path = p.path[:seg]
		return append(dst, ']'), nil
	}
	for i := 0; ; i++ {
		p.path[seg].index = i
		if i > 0 {
			dst = append(dst, ',')
		}
		p.skipSpace()
		var err error
		if dst, err = p.value(dst); err != nil {
			return dst, err
		}
		p.skipSpace()
		if p.pos >= len(p.data) {
			return dst, p.fail(ErrSyntax, "unexpected end of input in array")
		}
		switch p.data[p.pos] {
		case ',':
			p.pos++
		case ']':
			p.pos++
			p.path = p.path[:seg]
			return append(dst, ']'), nil
		default:
			return dst, p.fail(ErrSyntax, "unexpected character %q in array, want , or ]", p.data[p.pos])
		}
	}
}

func (p *parser) object(dst []byte) ([]byte, error) {
	if err := p.enter(); err != nil {
		return dst, err
	}
	p.pos++ // '{'
	msBase := len(p.ms)
	namesStart := len(p.names)
	start := len(dst)
	dst = append(dst, '{')
	p.path = append(p.path, pathSeg{})
	seg := len(p.path) - 1
	p.skipSpace()
	if p.pos < len(p.data) && p.data[p.pos] == '}' {
		p.pos++
		p.path = p.path[:seg]
		return append(dst, '}'), nil
	}
	// Each member is written as it comes, "name":value, and remembered;
	// members that arrive out of order are rearranged at the end.
	for {
		p.skipSpace()
		if p.pos >= len(p.data) || p.data[p.pos] != '"' {
			p.path = p.path[:seg] // the object is at fault
			return dst, p.fail(ErrSyntax, "want a member name string")
		}
		nameOff := p.pos
		var name, quoted []byte // quoted: the token, when it is canonical
		var err error
		if end, ok := p.plainString(); ok {
			quoted = p.data[p.pos:end]
			name = quoted[1 : len(quoted)-1]
			p.pos = end
		} else if name, err = p.str(); err != nil {
			return dst, err
		}
		ns := len(p.names)
		p.names = append(p.names, name...)
		p.path[seg].name = span{ns, len(p.names)}
		p.skipSpace()
		if p.pos >= len(p.data) || p.data[p.pos] != ':' {
			return dst, p.fail(ErrSyntax, "want : after the member name")
		}
		p.pos++
		p.skipSpace()
		if len(p.ms) > msBase {
			dst = append(dst, ',')
		}
		mstart := len(dst)
		if quoted != nil {
			dst = append(dst, quoted...)
		} else {
			dst = appendQuoted(dst, name)
		}
		dst = append(dst, ':')
		if dst, err = p.value(dst); err != nil {
			return dst, err
		}
		p.ms = append(p.ms, member{name: p.path[seg].name, offset: nameOff, value: span{mstart, len(dst)}})
		p.skipSpace()
		if p.pos >= len(p.data) {
			return dst, p.fail(ErrSyntax, "unexpected end of input in object")
		}
		c := p.data[p.pos]
		p.pos++
		if c == ',' {
			continue
		}
		if c != '}' {
			p.pos--
			return dst, p.fail(ErrSyntax, "unexpected character %q in object, want , or }", c)
		}
		break
	}
	ms := p.ms[msBase:]
	names := p.names
	name := func(m member) []byte { return names[m.name.start:m.name.end] }
	cmp := func(a, b member) int { return compareUTF16(name(a), name(b)) }
	sorted := slices.IsSortedFunc(ms, cmp)
	if !sorted {
		slices.SortStableFunc(ms, cmp)
	}
	for i := 1; i < len(ms); i++ {
		if bytes.Equal(name(ms[i]), name(ms[i-1])) {
			p.path[seg].name = ms[i].name
			later := ms[i].offset
			if ms[i-1].offset > later {
				later = ms[i-1].offset
			}
			e := p.fail(ErrDuplicateKey, "member %q appears more than once", name(ms[i]))
			e.Offset = later
			return dst, e
		}
	}
	p.path = p.path[:seg]
	p.names = p.names[:namesStart]
	p.ms = p.ms[:msBase]
	if sorted {
		return append(dst, '}'), nil
	}
	// Rearrange the members, which sit in dst[start+1:] in input order.
	t := append(p.tmp[:0], '{')
	for i, m := range ms {
		if i > 0 {
			t = append(t, ',')
		}
		t = append(t, dst[m.value.start:m.value.end]...)
	}
	t = append(t, '}')
	p.tmp = t
	return append(dst[:start], t...), nil
}

// plainString reports whether the string token at p.pos is printable
// ASCII without escapes, which is its own canonical form and its own
// decoded value, and if so the offset just past its closing quote.
func (p *parser) plainString() (end int, ok bool) {
	for i := p.pos + 1; i < len(p.data); i++ {
		switch c := p.data[i]; {
		case c == '"':
			return i + 1, true
		case c == '\\' || c < 0x20 || c >= utf8.RuneSelf:
			return 0, false
		}
	}
	return 0, false
}

// str reads a string token and returns its decoded bytes, valid UTF-8. The
// slice is scratch, valid until the next call.
func (p *parser) str() ([]byte, error) {
	p.pos++ // opening quote
	out := p.scratch[:0]
	for {
		// Copy a run of plain bytes at once.
		i := p.pos
		for i < len(p.data) {
			c := p.data[i]
			if c == '"' || c == '\\' || c < 0x20 || c >= utf8.RuneSelf {
				break
			}
			i++
		}
		out = append(out, p.data[p.pos:i]...)
		p.pos = i
		if p.pos >= len(p.data) {
			p.scratch = out
			return nil, p.fail(ErrSyntax, "unterminated string")
		}
		c := p.data[p.pos]
		switch {
		case c == '"':
			p.pos++
			p.scratch = out
			return out, nil
		case c < 0x20:
			p.scratch = out
			return nil, p.fail(ErrSyntax, "control character %#02x in string must be escaped", c)
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRune(p.data[p.pos:])
			if r == utf8.RuneError && size <= 1 {
				p.scratch = out
				return nil, p.fail(ErrSyntax, "invalid UTF-8 in string")
			}
			out = append(out, p.data[p.pos:p.pos+size]...)
			p.pos += size
		default: // backslash
			if p.pos+1 >= len(p.data) {
				p.scratch = out
				return nil, p.fail(ErrSyntax, "unterminated escape in string")
			}
			e := p.data[p.pos+1]
			p.pos += 2
			switch e {
			case '"', '\\', '/':
				out = append(out, e)
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'u':
				r, err := p.unicodeEscape()
				if err != nil {
					p.scratch = out
					return nil, err
				}
				out = utf8.AppendRune(out, r)
			default:
				p.pos -= 2
				p.scratch = out
				return nil, p.fail(ErrSyntax, "invalid escape \\%c in string", e)
			}
		}
	}
}

// unicodeEscape reads the XXXX of \uXXXX (already past "\u"), joining a
// surrogate pair; an unpaired surrogate is an error.
func (p *parser) unicodeEscape() (rune, error) {
	hi, ok := p.hex4()
	if !ok {
		return 0, p.fail(ErrSyntax, "invalid \\u escape, want four hex digits")
	}
	if !utf16.IsSurrogate(hi) {
		return hi, nil
	}
	if hi >= 0xDC00 {
		return 0, p.fail(ErrSyntax, "unpaired low surrogate \\u%04x in string", hi)
	}
	if p.pos+1 >= len(p.data) || p.data[p.pos] != '\\' || p.data[p.pos+1] != 'u' {
		return 0, p.fail(ErrSyntax, "unpaired high surrogate \\u%04x in string", hi)
	}
	p.pos += 2
	lo, ok := p.hex4()
	if !ok {
		return 0, p.fail(ErrSyntax, "invalid \\u escape, want four hex digits")
	}
	if lo < 0xDC00 || lo > 0xDFFF {
		return 0, p.fail(ErrSyntax, "high surrogate \\u%04x not followed by a low surrogate", hi)
	}
	return utf16.DecodeRune(hi, lo), nil
}

func (p *parser) hex4() (rune, bool) {
	if len(p.data)-p.pos < 4 {
		return 0, false
	}
	var r rune
	for _, c := range p.data[p.pos : p.pos+4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, false
		}
	}
	p.pos += 4
	return r, true
}

// number reads a number token and appends its canonical form.
func (p *parser) number(dst []byte) ([]byte, error) {
	start := p.pos
	i := p.pos
	if p.data[i] == '-' {
		i++
	}
	intStart := i
	switch {
	case i < len(p.data) && p.data[i] == '0':
		i++
	case i < len(p.data) && p.data[i] >= '1' && p.data[i] <= '9':
		for i < len(p.data) && p.data[i] >= '0' && p.data[i] <= '9' {
			i++
		}
	default:
		p.pos = i
		return dst, p.fail(ErrSyntax, "invalid number, want a digit")
	}
	intEnd := i
	simple := true
	if i < len(p.data) && p.data[i] == '.' {
		simple = false
		i++
		d := i
		for i < len(p.data) && p.data[i] >= '0' && p.data[i] <= '9' {
			i++
		}
		if i == d {
			p.pos = i
			return dst, p.fail(ErrSyntax, "invalid number, want a digit after the decimal point")
		}
	}
	if i < len(p.data) && (p.data[i] == 'e' || p.data[i] == 'E') {
		simple = false
		i++
		if i < len(p.data) && (p.data[i] == '+' || p.data[i] == '-') {
			i++
		}
		d := i
		for i < len(p.data) && p.data[i] >= '0' && p.data[i] <= '9' {
			i++
		}
		if i == d {
			p.pos = i
			return dst, p.fail(ErrSyntax, "invalid number, want a digit in the exponent")
		}
	}
	lit := p.data[start:i]
	// Integers of up to 15 digits are exact doubles that ECMAScript writes
	// as they are (only -0 changes).
	if simple && intEnd-intStart <= 15 {
		p.pos = i
		if string(lit) == "-0" {
			return append(dst, '0'), nil
		}
		return append(dst, lit...), nil
	}
	if plainDecimal(p.data[intStart:i], intEnd-intStart) {
		p.pos = i
		return append(dst, lit...), nil
	}
	f, err := strconv.ParseFloat(string(lit), 64)
	if err != nil {
		if !errors.Is(err, strconv.ErrRange) {
			p.pos = start
			return dst, p.fail(ErrSyntax, "invalid number %s", lit)
		}
		if !p.opts.AllowOutOfRange {
			p.pos = start
			return dst, p.fail(ErrNumberRange, "%s is beyond the largest double (about 1.8e308)", lit)
		}
		p.pos = i
		return appendExactDecimal(dst, lit), nil
	}
	p.pos = i
	return AppendFloat(dst, f)
}
