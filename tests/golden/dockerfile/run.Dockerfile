FROM alpine
RUN apk add --no-cache curl
RUN --mount=type=cache,target=/root/.cache,id=pip,sharing=locked pip install x
RUN --mount=type=bind,source=src,target=/src,rw --mount=type=tmpfs,target=/tmp,size=64m make
RUN --mount=type=secret,id=token,env=TOKEN,required --mount=type=ssh git clone x
RUN --mount=from=builder,target=/out cp /out/app /app
RUN --mount=type=cache,target=/c,mode=0700,uid=1000,gid=1000 true
RUN --mount="type=bind,source=a,b,target=/t" true
RUN --network=none echo offline
RUN --network=host echo host
RUN --device=/dev/fuse,required echo device
RUN --mount=target=/m,from=stage$ true
RUN -- --not-a-flag
RUN --network=none -- ["echo", "exec after flags"]
