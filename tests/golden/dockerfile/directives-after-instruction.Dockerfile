FROM alpine
# escape=`
# syntax=ignored/here
RUN echo \
    continued
