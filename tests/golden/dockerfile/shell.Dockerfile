FROM mcr.microsoft.com/windows/servercore
SHELL ["powershell", "-command"]
SHELL ["/bin/bash", "-eo", "pipefail", "-c"]
