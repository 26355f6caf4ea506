FROM alpine
COPY --parents ./x/y /z
