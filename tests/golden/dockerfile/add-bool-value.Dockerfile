FROM alpine
ADD --link=maybe a b
