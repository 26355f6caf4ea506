FROM alpine
RUN [NaN]
CMD ["a", true]
