FROM alpine
COPY <<A <<B /x
a
A
b
