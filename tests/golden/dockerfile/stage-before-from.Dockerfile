ARG A=1
# only ARG may come before the first FROM
RUN echo no stage yet
FROM alpine
