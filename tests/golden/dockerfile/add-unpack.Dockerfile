FROM alpine
ADD --unpack=true https://example.com/x.tar.gz /x
