FROM alpine
RUN << EOF
blank before the delimiter
EOF
RUN <<  EOF  > foo
EOF
