FROM alpine
COPY	
		quux \
      bar
