# escape=`

FROM mcr.microsoft.com/windows/servercore
WORKDIR C:\Users\Public
COPY testfile.txt c:\
RUN dir c:\ `
    && echo `"quoted`"
ENV A="x y" B=c:\path\ Q=`"q`"
LABEL path=C:\a` b
ADD --chown=a`b x c:\dest\
