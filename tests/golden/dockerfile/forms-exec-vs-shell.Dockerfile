FROM alpine
RUN ["echo", "exec form"]
RUN echo shell form
RUN [ "echo", "spaces", "inside" ]
RUN ["c:\\windows\\system32\\tasklist.exe"]
RUN ['single', 'quotes', 'is', 'shell', 'form']
RUN ["unterminated", "array"
RUN ["trailing", "data"] && echo
RUN ["unicode \u00e9 \ud83d\ude00", "tab\tnewline\n"]
RUN []
RUN
CMD ["exec"]
CMD shell $HOME
CMD ["param1", "param2"]
ENTRYPOINT ["exec", "form"]
ENTRYPOINT shell form
ENTRYPOINT []
ENTRYPOINT
SHELL ["/bin/bash", "-c"]
VOLUME ["/data", "/logs"]
VOLUME /a /b   /c
COPY ["src with space", "/dest/"]
ADD ["a", "b", "/c/"]
COPY a   b  /c/
