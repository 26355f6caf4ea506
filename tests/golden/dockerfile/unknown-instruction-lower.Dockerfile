FROM alpine
foo bar
