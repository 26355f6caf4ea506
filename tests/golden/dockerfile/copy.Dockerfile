FROM alpine AS builder
FROM alpine
COPY --from=builder /out/app /usr/bin/app
COPY --from=0 /a /b
COPY --from=nginx:latest /etc/nginx/nginx.conf /nginx.conf
COPY --chown=user:group --chmod=u+rwx,go=rx src/ /dst/
COPY --link a b
COPY -- --dash-file /dst
COPY "quoted name" /dst/
COPY a b c /multi/
