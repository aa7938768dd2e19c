# Multi-stage build of the obhub binary: a static, pure-Go executable (the
# SQLite driver is modernc.org/sqlite, no cgo) in a distroless image that
# runs as a non-root user.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=devel
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/obhub ./cmd/obhub \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/obhub /usr/local/bin/obhub
COPY --from=build --chown=65532:65532 /out/data /var/lib/obhub
USER 65532:65532
ENV OBHUB_DATA=/var/lib/obhub OBHUB_LISTEN=:8080 OBHUB_ADMIN_LISTEN=127.0.0.1:8081
VOLUME /var/lib/obhub
EXPOSE 8080 8081
ENTRYPOINT ["/usr/local/bin/obhub"]
CMD ["serve"]
