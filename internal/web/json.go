package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"

	"github.com/iprs/iprs/internal/apperr"
)

// JSONContentType is the media type of every successful JSON answer.
const JSONContentType = "application/json"

// MarshalJSON encodes v as compact JSON followed by a newline, without HTML
// escaping. It fails, and so refuses to produce output, for any value
// encoding/json cannot represent, which includes every NaN and ±Inf float:
// IPRS numbers are always finite.
func MarshalJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("encode %T as JSON: %w", v, err)
	}
	return buf.Bytes(), nil
}

// WriteJSON answers v as application/json with status. The body is encoded
// in full before anything is written, so a value that cannot be encoded
// (a NaN, say) leaves the response untouched and is returned as an internal
// error for the caller to answer with WriteError (a HandlerFunc does this
// by returning it). An error while writing means the client went away.
func WriteJSON(w http.ResponseWriter, status int, v any) error {
	body, err := MarshalJSON(v)
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", JSONContentType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	if _, err := w.Write(body); err != nil {
		return fmt.Errorf("write JSON response: %w", err)
	}
	return nil
}

// DecodeJSON reads the whole request body and decodes it strictly into dst
// (see UnmarshalStrict). The body must be bounded by LimitBody (every route
// of a Mux is); exceeding the bound yields apperr.TooLarge.
func DecodeJSON(r *http.Request, dst any) error {
	if r.Body == nil || r.Body == http.NoBody {
		return emptyBody("")
	}
	data, err := io.ReadAll(r.Body)
	if err != nil {
		return BodyReadError(err)
	}
	return UnmarshalStrict(data, dst, "")
}

// BodyReadError turns a failure to read a request body into the error to
// answer: an *apperr.Error as it is (StreamBody's stall), apperr.Timeout
// (408) when a read deadline passed (the server's ReadTimeout),
// apperr.TooLarge when the LimitBody bound was exceeded, the context's
// error when the request was cancelled, apperr.Invalid otherwise (the
// client sent a broken body or hung up midway).
func BodyReadError(err error) error {
	var mbe *http.MaxBytesError
	if ae, ok := apperr.As(err); ok {
		return ae // a StreamBody stall, say
	}
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		return &apperr.Error{
			Code:    apperr.Timeout,
			Message: "the request body was not received in time (the server's read timeout)",
			Err:     err,
		}
	case errors.As(err, &mbe):
		return &apperr.Error{
			Code:    apperr.TooLarge,
			Message: fmt.Sprintf("the request body exceeds the limit of %d bytes for this route", mbe.Limit),
			Err:     err,
		}
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("read request body: %w", err)
	default:
		return &apperr.Error{Code: apperr.Invalid, Message: "the request body could not be read", Err: err}
	}
}

func emptyBody(base string) error {
	return apperr.WithFields(apperr.Invalid, "the request body is empty",
		[]apperr.FieldError{{Pointer: base, Detail: "a JSON document is required"}})
}

// UnmarshalStrict decodes the single JSON value in data into dst and
// answers every failure as an *apperr.Error of code Invalid whose fields
// carry RFC 6901 pointers, prefixed by base (use "" for a whole request
// body, "/positions/17" for one element decoded on its own):
//
//   - empty input: pointer base, "a JSON document is required";
//   - a syntax error: pointer base, with the byte offset in the detail;
//   - anything after the value: pointer base, with the offset;
//   - an object key that matches no field of the target struct, at any
//     depth (maps, json.RawMessage and interface values take any key):
//     a pointer to that key;
//   - a value of the wrong JSON type, an integer out of range, or a value
//     a json.Unmarshaler / encoding.TextUnmarshaler refuses: a pointer to
//     that value, one field problem per offending value, in document order.
//
// A target that cannot be decoded into at all (not a non-nil pointer) is an
// internal error.
func UnmarshalStrict(data []byte, dst any, base string) error {
	if len(bytes.TrimSpace(data)) == 0 {
		return emptyBody(base)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	err := dec.Decode(dst)
	if err == nil {
		end := dec.InputOffset()
		if rest := bytes.TrimLeft(data[end:], " \t\r\n"); len(rest) > 0 {
			off := int64(len(data) - len(rest))
			return apperr.WithFields(apperr.Invalid, "the request body is not a single JSON document",
				[]apperr.FieldError{{Pointer: base, Detail: fmt.Sprintf("unexpected data after the JSON value at byte offset %d", off)}})
		}
		probs := TextProblems(data, base, true)
		probs = append(probs, caseProblems(data, dst, base)...)
		if len(probs) > 0 {
			return apperr.WithFields(apperr.Invalid, "the request body is not valid; see errors", probs[:min(len(probs), maxLocatedProblems)])
		}
		return nil
	}
	return decodeError(data, dst, base, err)
}

// decodeError explains a failure of encoding/json on data.
func decodeError(data []byte, dst any, base string, err error) error {
	var (
		syn *json.SyntaxError
		inv *json.InvalidUnmarshalError
		typ *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &inv):
		return fmt.Errorf("decode JSON: %w", err)
	case errors.As(err, &syn):
		// Offset counts the bytes read, the offending one included; report
		// the 0-based offset of that byte.
		return malformed(base, fmt.Sprintf("malformed JSON at byte offset %d: %s", max(syn.Offset-1, 0), syn.Error()), err)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return malformed(base, fmt.Sprintf("malformed JSON: the document ends early at byte offset %d", len(data)), err)
	}
	// The value is syntactically valid (encoding/json reads a whole value
	// before decoding it) but does not fit dst: find every offending value.
	fields := locateProblems(data, dst, base)
	if text := TextProblems(data, base, true); len(text) > 0 {
		fields = append(fields, text[:min(len(text), max(maxLocatedProblems-len(fields), 0))]...)
	}
	if len(fields) > 0 {
		return &apperr.Error{Code: apperr.Invalid, Message: "the request body does not match the expected shape", Fields: fields, Err: err}
	}
	if ae, ok := apperr.As(err); ok {
		return ae
	}
	// The locator found nothing encoding/json objects to: fall back on what
	// the error itself says.
	field := apperr.FieldError{Pointer: base, Detail: strings.TrimPrefix(err.Error(), "json: ")}
	switch {
	case errors.As(err, &typ):
		field.Pointer = base + dotPathPointer(typ.Field)
		field.Detail = fmt.Sprintf("expected %s, got %s", describeGoType(typ.Type), describeJSONValue(typ.Value))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		if name, uerr := strconv.Unquote(strings.TrimPrefix(err.Error(), "json: unknown field ")); uerr == nil {
			field.Pointer = base + "/" + EscapePointerToken(name)
			field.Detail = "unknown field"
		}
	}
	return &apperr.Error{Code: apperr.Invalid, Message: "the request body does not match the expected shape",
		Fields: []apperr.FieldError{field}, Err: err}
}

func malformed(base, detail string, err error) error {
	return &apperr.Error{Code: apperr.Invalid, Message: "the request body is not valid JSON",
		Fields: []apperr.FieldError{{Pointer: base, Detail: detail}}, Err: err}
}

// EscapePointerToken escapes one reference token of an RFC 6901 JSON
// Pointer: "~" becomes "~0" and "/" becomes "~1".
func EscapePointerToken(s string) string {
	if !strings.ContainsAny(s, "~/") {
		return s
	}
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

// Pointer builds an RFC 6901 JSON Pointer from unescaped reference tokens:
// Pointer("positions", "3", "attributes", "a/b") is
// "/positions/3/attributes/a~1b". No tokens is "", the whole document.
func Pointer(tokens ...string) string {
	var b strings.Builder
	for _, t := range tokens {
		b.WriteByte('/')
		b.WriteString(EscapePointerToken(t))
	}
	return b.String()
}

// dotPathPointer converts the dotted path of json.UnmarshalTypeError.Field
// ("positions.3.quantity"; encoding/json of Go 1.26 records struct field
// names but no slice indexes, so usually "positions.quantity") into a JSON
// Pointer ("/positions/3/quantity").
func dotPathPointer(field string) string {
	if field == "" {
		return ""
	}
	return Pointer(strings.Split(field, ".")...)
}
