# VERSION is the release to build
ARG VERSION=1.0
ARG NOVALUE
FROM alpine
ARG VERSION
ARG A=1 B="two words" C='single' D=
ARG E=$VERSION F=${A:-x}
# G documents G
ARG G H
ARG --ignored=flags arg_still_parsed
