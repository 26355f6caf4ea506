FROM alpine
ADD --exclude=*.txt . /app
