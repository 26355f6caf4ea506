FROM alpine
COPY --Chown=1 a /b
