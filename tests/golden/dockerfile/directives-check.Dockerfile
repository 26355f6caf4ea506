# check=skip=all
# syntax = docker/dockerfile:1 extra words
FROM alpine
