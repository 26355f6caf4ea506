FROM alpine
ONBUILD ONBUILD RUN touch foobar
