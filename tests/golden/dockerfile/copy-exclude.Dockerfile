FROM alpine
COPY --exclude=*.md . /app
