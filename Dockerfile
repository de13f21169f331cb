# syntax=docker/dockerfile:1
#
# scimgate as a small, static, non-root image:
#   docker build -t scimgate --build-arg VERSION=v1.2.3 --build-arg COMMIT="$(git rev-parse HEAD)" .
#   docker run -p 8080:8080 -p 127.0.0.1:8081:8081 -v scimgate-data:/var/lib/scimgate scimgate
# The example SCIM upstream of docker-compose.yml is the demo-upstream target:
#   docker build --target demo-upstream -t scimgate-demo-upstream .

ARG GO_VERSION=1.26

FROM golang:${GO_VERSION} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG COMMIT=unknown
RUN CGO_ENABLED=0 go build -trimpath -buildvcs=false \
      -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT}" \
      -o /out/scimgate ./cmd/scimgate \
 && mkdir -p /out/data

FROM build AS build-upstream
RUN CGO_ENABLED=0 go build -trimpath -buildvcs=false -ldflags "-s -w" -o /out/upstream ./test/upstream

# The example upstream: in-memory SCIM users and groups per tenant. Demo only.
FROM gcr.io/distroless/static-debian12:nonroot AS demo-upstream
COPY --from=build-upstream /out/upstream /usr/local/bin/scim-demo-upstream
USER nonroot:nonroot
EXPOSE 9000
ENTRYPOINT ["/usr/local/bin/scim-demo-upstream", "--listen", ":9000"]

# scimgate itself, the default target. distroless/static has no shell: the
# container has no HEALTHCHECK; probe /healthz and /readyz on the admin port
# (8081) from the orchestrator instead.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/scimgate /usr/local/bin/scimgate
# The embedded store's data directory, owned by the nonroot user (65532).
COPY --from=build --chown=65532:65532 /out/data /var/lib/scimgate
WORKDIR /var/lib/scimgate
ENV SCIMGATE_LISTEN_PUBLIC=0.0.0.0:8080 \
    SCIMGATE_LISTEN_ADMIN=0.0.0.0:8081 \
    SCIMGATE_STORE_EMBEDDED_PATH=/var/lib/scimgate
USER nonroot:nonroot
EXPOSE 8080 8081
VOLUME ["/var/lib/scimgate"]
ENTRYPOINT ["/usr/local/bin/scimgate"]
CMD ["serve"]
