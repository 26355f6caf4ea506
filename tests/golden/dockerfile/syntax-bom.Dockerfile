# escape=`
FROM alpine
RUN echo `
  bom
