FROM alpine AS stage$1
