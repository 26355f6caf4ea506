FROM alpine
RUN echo a \
    b \
  c
RUN echo trailing blanks after the escape \   
    still continued
RUN echo empty continuation lines \

    are skipped \
   
    with a warning
RUN echo an escaped escape is no continuation \\
RUN echo three escapes \\\
RUN ["echo", \
     "json", \
     "continued"]
\
RUN echo a lone escape line starts an instruction
LABEL a=1 \
      b=2
RUN echo continued at the end of the file \
