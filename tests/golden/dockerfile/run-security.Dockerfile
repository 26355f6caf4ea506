FROM alpine
RUN --security=insecure echo needs labs
