FROM alpine
USER
