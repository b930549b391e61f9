// Package web is the HTTP plumbing shared by the IPRS services: RFC 9457
// problems, JSON in and out, strict decoding with JSON Pointers, body
// limits, pagination, request ids, access logging, panic recovery, bearer
// auth, health, metrics hooks, and the route builder and server runner.
// It uses only the standard library; the Prometheus side lives in
// internal/web/metrics and plugs in through the Metrics interface.
//
// # Building a service
//
//	m := web.NewMux(web.Config{
//		Service: "marketdata", Version: version, Prefix: "/mkt",
//		Logger: logger, Principals: cfg.Principals, MaxBodyBytes: cfg.MaxBodyBytes,
//		Ping: store.Ping, Metrics: metrics.New("marketdata"),
//	})
//	m.HandleFunc("POST /mkt/snapshots", h.createSnapshot)
//	m.HandleFunc("GET /mkt/snapshots/{id}", h.getSnapshot)
//	m.HandleFunc("POST /orch/position-snapshots", h.upload, web.MaxBody(cfg.MaxUploadBytes)) // (orchestrator)
//	m.HandleFunc("POST /orch/runs/{id}/publish", h.publish, web.Role(auth.Publish))        // (orchestrator)
//	srv := web.NewServer(addr, m.Handler(), logger)
//	err := web.Serve(ctx, srv, nil, 0) // returns after ctx is done and requests drained
//
// To serve several services on one listener (iprs dev), build each with
// its own Mux and route by prefix as the load balancer does:
//
//	h := web.ByPrefix(map[string]http.Handler{"/mkt": mkt, "/orch": orch, "/results": res}, mkt)
//
// NewMux registers GET /health and GET <prefix>/health (HealthHandler: 200
// {"status":"ok","service","version"}, 503 with "status":"unavailable" when
// Ping fails within HealthTimeout) and, with Metrics, GET /metrics and GET
// <prefix>/metrics. The health answer's 503 body is
// application/problem+json whose "status" member is the string
// "unavailable" (health checkers read it; RFC 9457 consumers ignore a
// member of the wrong type). Only the health paths are exempt from Auth:
// /metrics needs the bearer token too when principals are set. Every pattern given to Handle must name a method and lie
// under the prefix (Handle panics otherwise, like http.ServeMux on a bad
// pattern). Handler wraps the routes in, outermost first: RequestIDs,
// Observe (access log + metrics), Recover, Auth (health paths exempt), and
// the mux, whose plain-text 404 and 405 become problems (405 keeps Allow).
//
// # Principals and roles
//
// Auth finds the principal of the bearer token (package auth: constant-time
// comparison with every configured token) and puts it in the request
// context (auth.FromContext, auth.NameOf) and in the access line; a
// missing or unknown token is a 401 with WWW-Authenticate: Bearer. With no
// principals configured every request is auth.Anonymous(), every role.
// Every route registered with Handle needs a role, decided at registration
// in one place: DefaultRole of its method (read for GET and HEAD, write for
// any other) unless the Role option says otherwise. The route checks it
// (RequireRole) before reading the body: a principal without it gets a 403
// problem ("forbidden") naming the role needed and the principal's roles,
// never a token. Routes lists every route with its role, so that a test can
// walk a service's table.
// Every route's body is bounded by LimitBody: Config.MaxBodyBytes
// (DefaultMaxBodyBytes when 0), or the route's MaxBody option.
//
// Public registers a route that holds no data — the dashboard's files, the
// API description, a redirect — outside the prefix if need be and exempt
// from Auth (a browser loads a page without a token; the page then calls
// the API with one). Routes lists every pattern registered, so that the API
// description can be checked against the route table.
//
// # Timeouts
//
// NewServer bounds the wait for a request's header (ReadHeaderTimeout,
// 10 s), for a whole request (ReadTimeout, 3 min: a slow or stalled body
// is answered 408 Request Timeout through BodyReadError) and for the next
// request on an idle connection (IdleTimeout, 2 min); there is no write
// timeout (exports stream). A route with the StreamedBody(idle) option (the
// position upload) is exempt from ReadTimeout: before its body's reads the
// connection's read deadline moves to now + idle (http.ResponseController),
// so the body may take any time while it keeps arriving and fails with 408
// once nothing arrived for about idle. No deadline is set after the body's
// end, so the handler's own work is not cut short.
//
// # Answers net/http gives by itself
//
// Some requests never reach a handler: net/http answers them while reading
// the request, writing straight to the connection. Serve wraps its
// listener in ProblemListener, which turns these into problems with the
// same status: a header over MaxHeaderBytes (431, type header-too-large), a
// malformed request line or header, a missing or repeated Host or a bad
// Content-Length (400, bad-request), an unknown Transfer-Encoding (501,
// not-implemented), an HTTP version other than 1.x (505,
// http-version-not-supported) and an Expect header other than 100-continue
// (417, expectation-failed). The 404 and 405 of the route table are
// problems through the Mux (see above). What net/http still does its own
// way, and no server option, handler or listener can change: a client
// whose header does not arrive within ReadHeaderTimeout, or that hangs up,
// gets no answer at all (the connection is closed); a response a panicking
// handler had started is cut short (http.ErrAbortHandler); and the
// ServeMux's redirects to a cleaned path (301/307) keep their short HTML
// body, as they are not errors. (A plain-HTTP request to a TLS listener
// would get net/http's text 400; IPRS listens without TLS behind the load
// balancer.)
//
// # Handlers
//
// A HandlerFunc returns an error instead of writing one:
//
//	func (h *handler) getSnapshot(w http.ResponseWriter, r *http.Request) error {
//		snap, err := h.store.SnapshotGetByID(r.Context(), r.PathValue("id"))
//		if err != nil {
//			return err // apperr codes map to statuses; anything else is a logged 500
//		}
//		return web.WriteJSON(w, http.StatusOK, snap)
//	}
//
// A returned error is answered with WriteError, unless the handler already
// started the response (then it is only logged). Handlers that are plain
// http.Handlers call WriteError(w, r, logger, err) themselves; a nil logger
// means the server's logger from the request context. WriteError adds
// method, path and request_id to its lines, so give it the service's
// logger, not Logger(ctx). Handlers log their own events with
// Logger(r.Context()), which carries request_id.
//
// # Problems
//
// WriteError maps apperr codes to statuses in one table: Invalid 400,
// Unauthorized 401, Forbidden 403, NotFound 404, Timeout 408, Conflict 409,
// TooLarge 413, Unprocessable 422, Unavailable 503, anything else (any error
// that is not an
// *apperr.Error, and apperr.Internal) 500. The body is application/problem+json:
//
//	{"type": "https://iprs.dev/problems/not-found", "title": "Not found",
//	 "status": 404, "detail": "<the apperr message>",
//	 "errors": [{"pointer": "/positions/3/quantity", "detail": "..."}],
//	 "instance": "/mkt/snapshots/X", "request_id": "..."}
//
// errors is omitted when there are none; an error about a query or path
// parameter has "parameter" instead of a meaningful "pointer" (which is
// then ""). The type URIs are ProblemTypeBase + one of invalid,
// unauthorized, forbidden, not-found, request-timeout, conflict, too-large,
// unprocessable, unavailable, internal, method-not-allowed: stable
// identifiers to switch on, absolute
// so that they mean the same wherever a body travels, not pages to fetch.
// Every 5xx but 503 is logged at error level with method, path,
// request_id and the real error chain; 4xx answers are logged at debug
// level only (the access line records them). A 503 (a dependency down:
// the stores' watcher, store.Watch, turns an unreachable or busy database
// into apperr.Unavailable and logs each outage once) carries Retry-After
// (RetryAfterSeconds) and is logged at debug level, so that an outage is
// one log line, not one per request; the health check's 503 alike. For a 500 the client gets a
// fixed detail asking to quote the request_id, never a stack trace, SQL or
// driver text. An error wrapping
// context.Canceled on a request whose client went away is logged at debug
// level only, and recorded with status 499 (StatusClientClosedRequest). A
// 401 carries WWW-Authenticate: Bearer.
//
// # JSON
//
// WriteJSON(w, status, v) encodes v completely before writing (no HTML
// escaping) and returns an internal error, writing nothing, for a value
// that cannot be encoded; encoding/json refuses NaN and ±Inf, so numbers
// on the wire are always finite. MarshalJSON is the same encoding for
// callers that stream.
//
// DecodeJSON(r, dst) reads the bounded body and calls UnmarshalStrict,
// which rejects, as apperr.Invalid with RFC 6901 pointers (EscapePointerToken
// turns "~" into "~0" and "/" into "~1"):
//   - an empty body (pointer "");
//   - malformed JSON (pointer "", the 0-based offset of the offending
//     byte in the detail);
//   - data after the value (pointer "", offset in the detail);
//   - unknown object keys of a struct, at any depth (pointer to the key):
//     declare free-form members such as "attributes" as json.RawMessage,
//     map[string]any or any, which accept any key;
//   - values of the wrong JSON type, integers out of range, and values a
//     json.Unmarshaler or encoding.TextUnmarshaler (time.Time, say) refuses,
//     each with a pointer that includes array indexes ("/positions/3/quantity"),
//     every such problem reported (up to 100), in document order;
//   - a string or member name holding U+0000 (NUL), anywhere in the
//     document: PostgreSQL text cannot store it, and SQLite would, so it
//     is refused on every store alike rather than failing (500) on one;
//   - a string or member name that is not Unicode text: bytes that are
//     not UTF-8, or an unpaired surrogate escape ("\ud800"). encoding/json
//     would decode both as U+FFFD and so store another name than the one
//     sent (StringProblem checks one string literal, TextProblems a
//     document);
//   - a member name given twice in one object, at any depth, free-form
//     values included (pointer to the repeat): encoding/json keeps the
//     last value silently, so {"run_id":"A",…,"run_id":"B"} made run B;
//   - a key that names a struct field in another case ("RUN_ID"):
//     encoding/json matches it to the field, so it would be a second
//     spelling of a member; IPRS member names are case-sensitive.
//
// encoding/json itself reports only the first problem and no array index;
// UnmarshalStrict re-walks the document against the Go type on failure to
// find them all. A body over its bound is apperr.TooLarge (413). Streaming
// decoders (a million-position upload) can decode each element on its own
// with UnmarshalStrict(raw, &elem, web.Pointer("positions", strconv.Itoa(i)))
// and turn read failures into the right answer with BodyReadError.
//
// A request path holding NUL or invalid UTF-8 is a 404 problem before any
// route sees it: no stored name holds such bytes.
//
// # Pagination
//
// ParsePage(r) reads limit (default DefaultPageLimit 100, at most
// MaxPageLimit 1000; anything else is 400 naming the parameter "limit") and
// cursor (400 naming "cursor" when malformed or holding NUL). EncodeCursor(values...) packs
// the last item's sort key and id into an opaque base64url string;
// DecodeCursor(s, n) unpacks it and checks there are n values. List[T]
// renders {"items": [...], "next_cursor": "..."|null} with items never
// null; NewList and PageOf (from limit+1 fetched rows) build one.
//
// # Request context
//
// RequestID(ctx) is the request's id: the client's X-Request-ID when it is
// 1-128 characters of [A-Za-z0-9-_.:/+=], a random one otherwise; it is
// echoed in the X-Request-ID response header and in every problem. Logger(ctx)
// is the server's logger with request_id attached. Route(r) is the matched
// pattern.
//
// # Access log and metrics
//
// Observe logs one "http request" line per request with method, path,
// route, status, bytes, duration_ms, request_id and principal (health and metrics
// requests at debug level unless they fail), and reports method, route
// pattern (never the raw path, so ids do not explode label sets), status
// and duration to Config.Metrics. internal/web/metrics implements Metrics
// with a per-service Prometheus registry.
package web
