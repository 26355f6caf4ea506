FROM alpine
ENV PATH /usr/local/bin:$PATH
ENV LEGACY value with spaces   and more
ENV A=1 B=2
ENV QUOTED="a b" SINGLE='c d' ESCAPED=e\ f
ENV abc=bye def=$abc
ENV MULTI=one \
    TWO=two
ENV EMPTY= NEXT=x
ENV JSONLIKE=["a"]
