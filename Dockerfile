# The currents-segment image: one static binary on distroless, as non-root.
# Build (from the repository root):
#
#   docker build --build-arg VERSION=$(git describe --tags --always) -t currents-segment .
#
# Run with a volume for the disk buffer and the dead-letter file, and the
# secrets in the environment (deploy/README.md has Kubernetes and systemd):
#
#   docker run -v currents-state:/var/lib/currents-segment -p 8080:8080 -p 4195:4195 \
#     -e SEGMENT_WRITE_KEY=... -e BRAZE_CURRENTS_TOKEN=... currents-segment
#
# cmd/currents-segment/deploy_test.go checks this file against the binary's
# defaults and the Kubernetes and systemd files.

FROM golang:1.26-bookworm AS build
WORKDIR /src
# Modules first, so that a source change does not download them again.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG DATE_BUILT=unknown
# CGO off: the binary (bbolt included) is pure Go and must run without libc
# on distroless/static. -trimpath and -s -w drop local paths and symbols;
# the -X variables are main.Version and main.DateBuilt (version.go).
RUN CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w -X main.Version=${VERSION} -X main.DateBuilt=${DATE_BUILT}" \
      -o /out/currents-segment ./cmd/currents-segment
# The state directory must exist in the image, owned by the runtime user, or
# Docker creates the volume's mount point owned by root and the buffer cannot
# be written (distroless has no shell to chown it at start).
RUN mkdir -p /out/state

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/currents-segment /currents-segment
COPY --from=build --chown=65532:65532 /out/state /var/lib/currents-segment
# The production pipeline of docs/operations.md; Kubernetes mounts its
# ConfigMap (the same file) over this directory.
COPY deploy/pipeline.yaml /etc/currents-segment/pipeline.yaml
# distroless's "nonroot" user.
USER 65532:65532
# The disk buffer (BUFFER_PATH) and the dead-letter file (DEAD_LETTER_PATH).
VOLUME /var/lib/currents-segment
# 8080: the braze_currents input (Braze posts /currents; /ready).
# 4195: Benthos's HTTP server (/metrics, /ping).
EXPOSE 8080 4195
# No curl in distroless: the binary probes its own readiness. It is 503 while
# starting or draining, so a container that cannot take requests is unhealthy.
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
  CMD ["/currents-segment", "probe", "http://127.0.0.1:8080/ready"]
ENTRYPOINT ["/currents-segment"]
CMD ["run", "/etc/currents-segment/pipeline.yaml"]
