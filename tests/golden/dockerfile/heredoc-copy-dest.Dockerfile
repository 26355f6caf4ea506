FROM alpine
COPY /foo <<EOF
EOF
