FROM alpine
RUN echo crlf \
    joined
COPY <<EOF /x
body
EOF
