# syntax=a
# SYNTAX=b
FROM alpine
