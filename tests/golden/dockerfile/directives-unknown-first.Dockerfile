# foo=bar
# escape=`
FROM alpine
RUN echo backslash \
    still the escape
