package pricing

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
)

// The binary form of Values, for storage. It is compact and exact (every
// float64 keeps its bits):
//
//	uvarint   presence bits, bit m for measure m (canonical order)
//	then, for each present measure in canonical order:
//	  PV, DV01, CS01, ACCRUED_INTEREST, EXPECTED_LOSS: 8 bytes, the value
//	  FX_DELTA: 8 bytes, the value; uvarint length and bytes, the currency
//	  WAL:      8 bytes, the value; 8 bytes, the weight
//	  KR01:     1 byte, the number of ladders (1 or 2); per ladder, in
//	            order of curve id: uvarint length and bytes, the curve id
//	            (not empty); 2 bytes, a mask with bit j set when tenor j
//	            is not +0; 8 bytes per set bit, the values
//
// Numbers are IEEE 754 bits, little-endian. An absent measure costs
// nothing; a tenor of a ladder whose value is +0 costs nothing. The form is
// canonical: DecodeBinary accepts only what AppendBinary writes (shortest
// varints, ladders in order, no +0 written out), so equal Values have equal
// bytes and decoded bytes re-encode to themselves.

// maxBinaryString bounds a curve id or currency in the binary form.
const maxBinaryString = 1 << 12

var errValuesBinary = errors.New("pricing: bad binary values")

// AppendBinary appends the binary form of v to b.
func (v *Values) AppendBinary(b []byte) []byte {
	b = binary.AppendUvarint(b, uint64(v.present))
	for m := Measure(0); m < numMeasures; m++ {
		if v.present&(1<<m) == 0 {
			continue
		}
		switch m {
		case KR01:
			b = append(b, v.nkr)
			for i := range int(v.nkr) {
				l := &v.kr[i]
				b = appendBinaryString(b, l.Curve)
				var mask uint16
				for j, x := range l.DV01 {
					if math.Float64bits(x) != 0 {
						mask |= 1 << j
					}
				}
				b = binary.LittleEndian.AppendUint16(b, mask)
				for j, x := range l.DV01 {
					if mask&(1<<j) != 0 {
						b = binary.LittleEndian.AppendUint64(b, math.Float64bits(x))
					}
				}
			}
		case WAL:
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v.v[m]))
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v.walWeight))
		case FXDelta:
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v.v[m]))
			b = appendBinaryString(b, v.fxCcy)
		default:
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v.v[m]))
		}
	}
	return b
}

// uvarintLen is the length of the shortest uvarint encoding of x.
func uvarintLen(x uint64) int {
	n := 1
	for x >= 0x80 {
		x >>= 7
		n++
	}
	return n
}

func appendBinaryString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// DecodeBinary sets v from the binary form at the start of b (see
// AppendBinary) and returns the bytes after it. On an error v is reset; it
// never panics, whatever b holds.
func (v *Values) DecodeBinary(b []byte) (rest []byte, err error) {
	v.Reset()
	d := binDecoder{b: b}
	present := d.presence()
	for m := Measure(0); m < numMeasures && d.err == nil; m++ {
		if present&(1<<m) == 0 {
			continue
		}
		switch m {
		case KR01:
			d.keyRates(v)
		case WAL:
			wal := d.float()
			v.SetWAL(wal, d.float())
		case FXDelta:
			x := d.float()
			v.SetFXDelta(x, d.str())
		default:
			v.Set(m, d.float())
		}
	}
	if d.err != nil {
		v.Reset()
		return b, d.err
	}
	return d.b, nil
}

// presence reads the presence bits, which must name known measures only.
func (d *binDecoder) presence() uint64 {
	present := d.uvarint()
	if d.err == nil && present>>numMeasures != 0 {
		d.fail("unknown measure bits %#x", present>>numMeasures)
	}
	return present
}

// ladders reads the number of KR01 ladders.
func (d *binDecoder) ladders() int {
	count := d.bytes(1)
	if count == nil {
		return 0
	}
	if count[0] < 1 || count[0] > MaxKeyRateCurves {
		d.fail("%d KR01 ladders", count[0])
		return 0
	}
	return int(count[0])
}

// tenorMask reads a ladder's mask of tenors written out.
func (d *binDecoder) tenorMask() uint16 {
	maskBytes := d.bytes(2)
	if d.err != nil {
		return 0
	}
	mask := binary.LittleEndian.Uint16(maskBytes)
	if mask>>NumKeyRates != 0 {
		d.fail("KR01 tenor mask %#x", mask)
		return 0
	}
	return mask
}

// binDecoder reads the binary form, remembering the first error.
type binDecoder struct {
	b   []byte
	err error
}

func (d *binDecoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: "+format, append([]any{errValuesBinary}, args...)...)
	}
}

func (d *binDecoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	x, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("truncated or overlong varint")
		return 0
	}
	if n != uvarintLen(x) {
		d.fail("varint not in its shortest form")
		return 0
	}
	d.b = d.b[n:]
	return x
}

func (d *binDecoder) bytes(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || n > len(d.b) {
		d.fail("truncated: want %d bytes, have %d", n, len(d.b))
		return nil
	}
	out := d.b[:n]
	d.b = d.b[n:]
	return out
}

func (d *binDecoder) float() float64 {
	p := d.bytes(8)
	if p == nil {
		return 0
	}
	return math.Float64frombits(binary.LittleEndian.Uint64(p))
}

func (d *binDecoder) str() string {
	n := d.uvarint()
	if d.err == nil && n > maxBinaryString {
		d.fail("string of %d bytes", n)
	}
	p := d.bytes(int(n))
	if p == nil {
		return ""
	}
	return internString(p)
}

func (d *binDecoder) keyRates(v *Values) {
	for range d.ladders() {
		curve := d.str()
		mask := d.tenorMask()
		if d.err != nil {
			return
		}
		if curve == "" {
			d.fail("KR01 ladder without a curve id")
			return
		}
		if v.nkr > 0 && curve <= v.kr[v.nkr-1].Curve {
			d.fail("KR01 ladders not in order of curve id")
			return
		}
		l := v.keyRateLadder(curve)
		for j := range NumKeyRates {
			if mask&(1<<j) != 0 {
				x := d.float()
				if math.Float64bits(x) == 0 {
					d.fail("KR01 value +0 stored explicitly")
				}
				l[j] = x
			}
		}
	}
}

// internString returns the text of p, without allocating for the curve
// ids and currencies that nearly every row carries.
func internString(p []byte) string {
	switch string(p) {
	case "USD-OIS":
		return "USD-OIS"
	case "EUR-OIS":
		return "EUR-OIS"
	case "GBP-OIS":
		return "GBP-OIS"
	case "JPY-OIS":
		return "JPY-OIS"
	case "EUR":
		return "EUR"
	case "GBP":
		return "GBP"
	case "JPY":
		return "JPY"
	case "CHF":
		return "CHF"
	case "CAD":
		return "CAD"
	case "AUD":
		return "AUD"
	}
	return string(p)
}

// BinaryScalar reads the binary form of one Values at the start of b (see
// AppendBinary) without building it: it returns the value of the scalar
// measure m (ok false when absent; for WAL the value, not its weight) and
// the bytes after the form. It checks what it reads as DecodeBinary does
// (known measures, shortest varints, lengths), except the order and +0
// rules inside KR01 ladders, which it skips over; it never panics. m must
// not be KR01.
func BinaryScalar(b []byte, m Measure) (x float64, ok bool, rest []byte, err error) {
	// The common case, one byte of presence bits and 8-byte measures only
	// before m, is read inline.
	if len(b) > 0 && b[0] < 0x80 {
		present := uint16(b[0])
		if present&^(1<<PV|1<<DV01|1<<CS01|1<<AccruedInterest) == 0 {
			n := 1 + 8*bits.OnesCount16(present)
			if len(b) < n {
				return 0, false, b, fmt.Errorf("%w: truncated: want %d bytes, have %d", errValuesBinary, n, len(b))
			}
			if present&(1<<m) != 0 {
				off := 1 + 8*bits.OnesCount16(present&(1<<m-1))
				x = math.Float64frombits(binary.LittleEndian.Uint64(b[off:]))
				ok = true
			}
			return x, ok, b[n:], nil
		}
	}
	d := binDecoder{b: b}
	present := d.presence()
	for k := Measure(0); k < numMeasures && d.err == nil; k++ {
		if present&(1<<k) == 0 {
			continue
		}
		switch k {
		case KR01:
			d.skipKeyRates()
			continue
		case m:
			x, ok = d.float(), true
		default:
			d.bytes(8)
		}
		switch k {
		case WAL:
			d.bytes(8)
		case FXDelta:
			d.str()
		}
	}
	if d.err != nil {
		return 0, false, b, d.err
	}
	return x, ok, d.b, nil
}

// skipKeyRates reads over the KR01 ladders of a binary form.
func (d *binDecoder) skipKeyRates() {
	for range d.ladders() {
		d.str()
		mask := d.tenorMask()
		if d.err != nil {
			return
		}
		d.bytes(8 * bits.OnesCount16(mask))
	}
}
