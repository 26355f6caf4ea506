FROM alpine
ONBUILD ADD . /app/src
ONBUILD RUN /usr/local/bin/python-build --dir /app/src
onbuild   copy --from=x /a /b
ONBUILD ENV A=1 B=2
ONBUILD RUN ["exec", "form"]
ONBUILD HEALTHCHECK CMD true
ONBUILD UNKNOWN is only checked when triggered
ONBUILD RUN <<EOF
echo heredoc trigger
EOF
