FROM alpine
ADD onlysource
