FROM alpine
HEALTHCHECK NONE
HEALTHCHECK --interval=5m --timeout=3s CMD curl -f http://localhost/ || exit 1
HEALTHCHECK --start-period=1m30s --start-interval=500ms --retries=5 CMD ["/bin/check", "-q"]
HEALTHCHECK   cmd   a b
HEALTHCHECK --interval=0s --timeout=1.5h --retries=0 CMD true
HEALTHCHECK --interval=5s NONE
