FROM alpine
ONBUILD FROM scratch
