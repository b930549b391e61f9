package web

import (
	"context"

	"github.com/iprs/iprs/internal/apperr"
	"log/slog"
	"net/http"
	"time"
)

// HealthTimeout bounds the dependency check of a health request.
const HealthTimeout = 2 * time.Second

// Health is the body of a health answer.
type Health struct {
	Status  string `json:"status"` // "ok" or "unavailable"
	Service string `json:"service"`
	Version string `json:"version"`
}

// HealthHandler answers 200 {"status":"ok","service":…,"version":…} when
// ping (the database check; nil means nothing to check) succeeds within
// HealthTimeout, and 503 with "status":"unavailable" otherwise. The 503
// body is application/problem+json carrying the RFC 9457 members as well
// as the health members (see writeUnhealthy). The cause of a failure is logged, not shown.
func HealthHandler(service, version string, ping func(context.Context) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		if ping != nil {
			ctx, cancel := context.WithTimeout(r.Context(), HealthTimeout)
			err := ping(ctx)
			cancel()
			if err != nil {
				if isClientGone(r, err) {
					w.WriteHeader(StatusClientClosedRequest)
					return
				}
				// An outage a store.Watch recognized (apperr.Unavailable)
				// is logged there, once; anything else here, each time.
				level := slog.LevelWarn
				if apperr.CodeOf(err) == apperr.Unavailable {
					level = slog.LevelDebug
				}
				loggerOr(r, nil).LogAttrs(r.Context(), level, "health check failed",
					requestAttrs(r, slog.String("error", err.Error()))...)
				writeUnhealthy(w, r, service, version)
				return
			}
		}
		body, err := MarshalJSON(Health{Status: "ok", Service: service, Version: version})
		if err != nil {
			WriteError(w, r, nil, err)
			return
		}
		w.Header().Set("Content-Type", JSONContentType)
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(body)
	})
}

// writeUnhealthy answers 503 with the health shape plus the RFC 9457
// members type, title, detail, instance and request_id. Its "status" member
// is the health status string, as health checkers expect; RFC 9457 (section
// 3.1) has problem consumers ignore a member of an unexpected type, so the
// body is still a valid application/problem+json document.
func writeUnhealthy(w http.ResponseWriter, r *http.Request, service, version string) {
	p := newProblem(r, problemKinds[apperr.Unavailable], "a dependency of the service (the database) cannot be reached", nil)
	out, err := MarshalJSON(unhealthyBody{
		Status: "unavailable", Service: service, Version: version,
		Type: p.Type, Title: p.Title, Detail: p.Detail, Instance: p.Instance, RequestID: p.RequestID,
	})
	if err != nil {
		WriteProblem(w, p)
		return
	}
	w.Header().Set("Content-Type", ProblemContentType)
	w.Header().Set("Retry-After", RetryAfterSeconds)
	w.WriteHeader(p.Status)
	_, _ = w.Write(out)
}

type unhealthyBody struct {
	Status    string `json:"status"`
	Service   string `json:"service"`
	Version   string `json:"version"`
	Type      string `json:"type"`
	Title     string `json:"title"`
	Detail    string `json:"detail"`
	Instance  string `json:"instance,omitempty"`
	RequestID string `json:"request_id,omitempty"`
}
