# syntax=docker/dockerfile:1.7
#ESCAPE = \
#  check = skip=JSONArgsRecommended;error=true
# unknown=directive ends the directive block
# escape=`
FROM alpine
RUN echo \
    continued with a backslash
