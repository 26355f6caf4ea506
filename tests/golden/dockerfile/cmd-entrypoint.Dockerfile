FROM alpine
CMD ["executable", "param1", "param2"]
CMD ["param1", "param2"]
CMD command param1 param2
CMD
ENTRYPOINT ["top", "-b"]
ENTRYPOINT exec top -b
ENTRYPOINT []
