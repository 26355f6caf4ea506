FROM alpine
WORKDIR --parents /a
