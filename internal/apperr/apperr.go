// Package apperr is the one error type of IPRS. Every layer (store, services,
// pricing adapters) reports failures the client should see as an *Error with
// a Code; the HTTP layer maps codes to statuses in one table and renders an
// RFC 9457 problem. Anything that is not an *Error is an internal failure: it
// is logged with its detail and the client only learns that something failed.
package apperr

import (
	"errors"
	"fmt"
)

// Code classifies an error for the client.
type Code string

const (
	Invalid       Code = "invalid"       // 400: the request itself is malformed
	Unauthorized  Code = "unauthorized"  // 401
	Forbidden     Code = "forbidden"     // 403: authenticated, but not allowed
	NotFound      Code = "not_found"     // 404
	Conflict      Code = "conflict"      // 409: clashes with stored state
	Timeout       Code = "timeout"       // 408: the request (its body) did not arrive in time
	TooLarge      Code = "too_large"     // 413
	Unprocessable Code = "unprocessable" // 422: well-formed, but cannot be acted on
	Unavailable   Code = "unavailable"   // 503: a dependency (the database) is down
	Internal      Code = "internal"      // 500
)

// FieldError points at one thing wrong in the request. Pointer is an RFC
// 6901 JSON Pointer into the request body ("/positions/3/attributes/coupon_rate";
// "" is the whole document). Problems with a query or path parameter name it in
// Parameter instead and leave Pointer empty.
type FieldError struct {
	Pointer   string `json:"pointer"`
	Parameter string `json:"parameter,omitempty"`
	Detail    string `json:"detail"`
}

// Error is an error the client may see.
type Error struct {
	Code    Code
	Message string
	Fields  []FieldError
	Err     error // optional cause; never shown to the client
}

func (e *Error) Error() string {
	msg := string(e.Code) + ": " + e.Message
	if len(e.Fields) > 0 {
		msg += fmt.Sprintf(" (%d problems, first %s: %s)", len(e.Fields), e.Fields[0].Pointer, e.Fields[0].Detail)
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// Is makes errors.Is(err, &Error{Code: NotFound}) match on the code alone.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Message == "" && t.Fields == nil && t.Err == nil && t.Code == e.Code
}

// Errorf returns an *Error with the code and a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// WithFields returns an *Error carrying field problems.
func WithFields(code Code, message string, fields []FieldError) *Error {
	return &Error{Code: code, Message: message, Fields: fields}
}

// Sentinels for errors.Is checks. Compare with errors.Is(err, apperr.ErrNotFound).
var (
	ErrNotFound = &Error{Code: NotFound}
	ErrConflict = &Error{Code: Conflict}
)

// CodeOf returns the code of the first *Error in err's chain, or Internal.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return Internal
}

// As returns the first *Error in err's chain.
func As(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}
