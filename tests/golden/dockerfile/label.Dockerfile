FROM alpine
LABEL version="1.0" description="multi \
word" com.example.vendor=ACME\ Inc
LABEL legacy form value
LABEL "quoted.key"="v" 'single'=quote
LABEL multi.line="a" \
      other="b"
