FROM --platfrom=linux/amd64 alpine
