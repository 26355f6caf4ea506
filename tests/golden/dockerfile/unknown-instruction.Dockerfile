FROM alpine
# the typo is caught with a hint
RNU echo hi
