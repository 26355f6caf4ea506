
# escape=`
FROM alpine
RUN echo \
    continued
