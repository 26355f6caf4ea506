# a comment before any instruction
FROM alpine
RUN echo hi # not a comment: only at the start of a line
   # indented comment
RUN echo one \
# a comment inside a continuation is dropped
    && echo two \
    # an indented one too
    && echo three
# comments do not continue \
RUN echo four
#
# base describes the stage below
FROM alpine AS base
