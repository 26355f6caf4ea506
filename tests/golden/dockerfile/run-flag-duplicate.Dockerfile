FROM alpine
RUN --network=none --network=host true
