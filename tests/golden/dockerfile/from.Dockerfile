ARG VERSION=3.19
ARG REGISTRY
FROM --platform=$BUILDPLATFORM alpine:${VERSION} AS Build-Env.1
FROM scratch
FROM build-env.1 as second
FROM alpine@sha256:c5b1261d6d3e43071626931fc004f70149baeba2c8ec672bd4f27761f8e1ad6b
FROM ${REGISTRY}/app:latest AS final_stage
