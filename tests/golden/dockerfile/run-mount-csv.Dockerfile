FROM alpine
RUN --mount=type=bind,source=a\"b true
