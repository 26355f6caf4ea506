# syntax=docker/dockerfile:1
ARG GO=1.22
FROM golang:${GO} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -o /out/app ./cmd/app

FROM alpine:3.19 AS runtime
RUN adduser -D app
COPY --from=build --chown=app /out/app /usr/local/bin/app
USER app
EXPOSE 8080
HEALTHCHECK --interval=30s CMD wget -qO- http://127.0.0.1:8080/health || exit 1
ENTRYPOINT ["/usr/local/bin/app"]
CMD ["--serve"]
