# syntax=docker/dockerfile:1
#
# IPRS container images: one static `iprs` binary, one image per service.
#
#   docker build --target marketdata -t iprs-marketdata .
#   make images                  # all four: marketdata orchestrator results worker
#
# Each service target runs `iprs serve <service>` and exposes the service's
# port (internal/service is the table of both). The last stage, iprs, has no
# default command: `docker run --rm -e DATABASE_URL=... iprs migrate`.

ARG GO_VERSION=1.26

# --- build: a static binary, cross-compiled for the target platform ----------
FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS build
ARG TARGETOS
ARG TARGETARCH
ARG VERSION=dev
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod \
    go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=${TARGETOS:-linux} GOARCH=${TARGETARCH:-amd64} \
    go build -trimpath -ldflags="-s -w -X main.version=${VERSION}" -o /out/iprs ./cmd/iprs

# --- runtime: no shell, no package manager, not root --------------------------
# distroless/static carries CA certificates and time zone data, which is all
# a static Go binary needs.
FROM gcr.io/distroless/static-debian12:nonroot AS runtime
COPY --from=build /out/iprs /usr/local/bin/iprs
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/iprs"]

# --- one target per service ----------------------------------------------------
FROM runtime AS marketdata
EXPOSE 8001
CMD ["serve", "marketdata"]

FROM runtime AS orchestrator
EXPOSE 8002
CMD ["serve", "orchestrator"]

FROM runtime AS results
EXPOSE 8003
CMD ["serve", "results"]

# The worker serves only /health and /metrics on its port.
FROM runtime AS worker
EXPOSE 8004
CMD ["serve", "worker"]

# --- default target: the bare binary -------------------------------------------
FROM runtime AS iprs
